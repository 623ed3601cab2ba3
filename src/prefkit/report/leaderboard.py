"""The leaderboard section: table, interval plot and heat maps — reusable by the arena's pages.

Stable entry points (the arena's live leaderboard page renders with them):

* :func:`leaderboard_summary` — a fitted :class:`~prefkit.choice.leaderboard.Leaderboard` (or its
  ``to_dict()``), the data it was fitted on and an optional style-controlled fit → one JSON-able
  dict (the contract of the section; keys below);
* :func:`render_leaderboard_section` — that summary (or a board) → an HTML fragment;
* :func:`ci_plot_svg`, :func:`win_fraction_svg`, :func:`battle_count_svg` — the charts alone.

The table lists, best first: rank by the upper-bound rule (1 + the number of items whose lower
bound is above this item's upper bound, LMArena's rule; :func:`prefkit.choice.rank_intervals`),
the rating, the asymmetric interval as ``+upper / −lower`` distances from the rating (and the
bounds themselves), the votes (comparisons the item took part in) and, when the data have style
columns, the style-controlled rank and rating beside the raw ones (Chiang et al. 2024, LMArena's
style control: Bradley–Terry with per-comparison covariates).  Heat maps: the empirical
win fraction of row against column (ties count ½) and the number of battles of each pair, for
the first :data:`MAX_HEATMAP` items.

Summary keys: ``model``, ``scale``, ``level``, ``ci``, ``bootstrap``, ``n`` (comparisons),
``rows`` (``rank``, ``name``, ``rating``, ``ci_low``, ``ci_high``, ``votes``, ``style_rank``,
``style_rating``), ``style`` (``columns``, ``coef``) or None, ``heatmap_items`` (names, in row
order), ``win_fraction`` and ``battles`` (matrices over ``heatmap_items``, None without data),
``notes``.
"""

# ruff: noqa: E501  (HTML templates and CSS below: long lines are markup)
from __future__ import annotations

import math
from typing import Any

import numpy as np

from prefkit.report.html import register_template, render
from prefkit.report.svg import heatmap_svg, interval_svg

#: Heat maps show at most this many items (the best ones).
MAX_HEATMAP = 30

TEMPLATE = """
<p class="note">{{ s.model }} fitted on {{ s.n|num(0) }} comparisons; ratings{% if s.scale %} on the
{{ s.scale }} scale{% endif %} with {{ (s.level * 100)|round|int }} % {{ s.ci_label }}; rank = 1 + the number of items
whose interval lies entirely above this one's (upper-bound rule).
{% if s.style %}Style control on {{ s.style.columns|join(", ") }}.{% endif %}</p>
{% for note in s.notes %}<p class="note">{{ note }}</p>{% endfor %}
<div class="scroll">
<table class="sortable leaderboard" id="{{ table_id }}">
<thead><tr><th>rank</th><th class="name">name</th><th>rating</th>
<th title="asymmetric interval: distance to the upper and lower bound">interval</th>
<th>lower</th><th>upper</th><th>votes</th>
{% if s.style %}<th>style rank</th><th>style rating</th>{% endif %}</tr></thead>
<tbody>
{% for r in s.rows %}<tr>
<td data-sort="{{ r.rank|sortkey }}">{{ r.rank }}</td>
<td class="name">{{ r.name }}</td>
<td data-sort="{{ r.rating|sortkey }}">{{ r.rating|num(digits) }}</td>
<td data-sort="{{ r.width|sortkey }}">{% if r.ci_low is none %}—{% else %}+{{ (r.ci_high - r.rating)|num(digits) }} / −{{ (r.rating - r.ci_low)|num(digits) }}{% endif %}</td>
<td data-sort="{{ r.ci_low|sortkey }}">{{ r.ci_low|num(digits) }}</td>
<td data-sort="{{ r.ci_high|sortkey }}">{{ r.ci_high|num(digits) }}</td>
<td data-sort="{{ r.votes|sortkey }}">{{ r.votes|num(0) }}</td>
{% if s.style %}<td data-sort="{{ r.style_rank|sortkey }}">{{ r.style_rank|num(0) }}</td>
<td data-sort="{{ r.style_rating|sortkey }}">{{ r.style_rating|num(digits) }}</td>{% endif %}
</tr>
{% endfor %}</tbody></table></div>
{% if s.style and s.style.coef %}<p class="note">Style coefficients (log-odds per SD of the a − b
difference): {% for k, v in s.style.coef.items() %}{{ k }} {{ v|num(3, True) }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>{% endif %}
<div class="figures">
<figure>{{ ci_plot }}<figcaption>Ratings with {{ (s.level * 100)|round|int }} % intervals,
best first.</figcaption></figure>
{% if win_plot %}<figure>{{ win_plot }}<figcaption>Observed win fraction of the row against the
column (ties ½){% if s.heatmap_items|length < s.rows|length %}, first {{ s.heatmap_items|length }}
items{% endif %}.</figcaption></figure>
<figure>{{ count_plot }}<figcaption>Battles per pair.</figcaption></figure>{% endif %}
</div>
"""
register_template("leaderboard.html", TEMPLATE)


def _as_dict(board: Any) -> dict[str, Any]:
    """A :class:`Leaderboard` or its ``to_dict()`` as ``{"model", "rows", "details", "n"}``."""
    if isinstance(board, dict):
        rows = board.get("rows", board.get("items", []))
        return {"model": board.get("model", "leaderboard"), "rows": rows,
                "details": board.get("details", {}), "n": board.get("n")}
    return {"model": board.model, "rows": board.rows, "details": board.details, "n": board.n}


def data_counts(dataset: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(battles, wins) over ``names``: battles[i, j] = comparisons of i and j (either side),
    wins[i, j] = i's wins against j (a tie counts ½ to each).  Ranking data count as their
    implied pairs; records without an outcome are left out."""
    pairs = dataset if dataset.kind == "pairwise" else dataset.to_pairs()
    items, ia, ib = pairs.item_codes()
    y = np.asarray(pairs.outcomes(), dtype=float)
    where = {str(name): k for k, name in enumerate(names)}
    code = np.array([where.get(str(name), -1) for name in items] + [-1])
    a, b = code[ia], code[ib]
    ok = (a >= 0) & (b >= 0) & ~np.isnan(y) & (a != b)
    a, b, y = a[ok], b[ok], y[ok]
    n = len(names)
    battles = np.zeros((n, n))
    wins = np.zeros((n, n))
    np.add.at(battles, (a, b), 1.0)
    np.add.at(battles, (b, a), 1.0)
    np.add.at(wins, (a, b), y)
    np.add.at(wins, (b, a), 1.0 - y)
    return battles, wins


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def leaderboard_summary(board: Any, dataset: Any = None, *, style_board: Any = None,
                        max_heatmap: int = MAX_HEATMAP) -> dict[str, Any]:
    """The JSON-able summary the section renders (module notes)."""
    raw = _as_dict(board)
    details = raw["details"] or {}
    rows = [dict(r) for r in raw["rows"]]
    names = [str(r["name"]) for r in rows]
    votes: np.ndarray | None = None
    battles = wins = None
    if dataset is not None:
        battles, wins = data_counts(dataset, names)
        votes = battles.sum(axis=1)
    style = None
    style_rows: dict[str, dict[str, Any]] = {}
    if style_board is not None:
        sraw = _as_dict(style_board)
        style_rows = {str(r["name"]): r for r in sraw["rows"]}
        coef = (sraw["details"] or {}).get("covariates") or {}
        style = {"columns": list(coef) or list((sraw["details"] or {}).get("style", [])),
                 "coef": {str(k): float(v) for k, v in coef.items()}}
    out_rows = []
    for k, r in enumerate(rows):
        srow = style_rows.get(names[k], {})
        out_rows.append({
            "rank": int(r["rank"]), "name": names[k], "rating": _finite(r["rating"]),
            "ci_low": _finite(r.get("ci_low")), "ci_high": _finite(r.get("ci_high")),
            "votes": None if votes is None else round(votes[k]),
            "style_rank": None if not srow else int(srow["rank"]),
            "style_rating": None if not srow else _finite(srow["rating"]),
        })
    m = min(len(names), max_heatmap)
    win_fraction = None
    if battles is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = wins[:m, :m] / battles[:m, :m]
        win_fraction = [[None if not np.isfinite(v) else float(v) for v in row] for row in frac]
    return {
        "model": raw["model"], "scale": details.get("scale"),
        "level": float(details.get("level", 0.95)), "ci": details.get("ci"),
        "bootstrap": int(details.get("bootstrap", 0) or 0),
        "n": raw["n"] if raw["n"] is not None else (
            None if battles is None else int(battles.sum() / 2)),
        "rows": out_rows, "style": style, "heatmap_items": names[:m],
        "win_fraction": win_fraction,
        "battles": None if battles is None else [
            [None if i == j else int(battles[i, j]) for j in range(m)] for i in range(m)],
        "notes": list(details.get("notes", [])),
    }


def ci_plot_svg(summary: dict[str, Any]) -> str:
    """Ratings with their intervals, best at the top (an ``<svg>`` string)."""
    rows = summary["rows"]
    level = round(100 * summary.get("level", 0.95))
    return interval_svg([r["name"] for r in rows], [r["rating"] for r in rows],
                        [r["ci_low"] for r in rows], [r["ci_high"] for r in rows],
                        xlabel=f"rating ({summary.get('scale') or 'as saved'}), {level} % interval",
                        title="ratings")


def win_fraction_svg(summary: dict[str, Any]) -> str | None:
    """Observed win fraction heat map (None without data)."""
    if summary.get("win_fraction") is None:
        return None
    return heatmap_svg(summary["win_fraction"], summary["heatmap_items"], vmin=0.0, vmax=1.0,
                       title="win fraction (row vs column)")


def battle_count_svg(summary: dict[str, Any]) -> str | None:
    """Battle-count heat map (None without data)."""
    if summary.get("battles") is None:
        return None
    return heatmap_svg(summary["battles"], summary["heatmap_items"], diverging=False, digits=0,
                       vmin=0.0, title="battles per pair")


def render_leaderboard_section(board: Any, dataset: Any = None, *, style_board: Any = None,
                               table_id: str = "leaderboard", digits: int = 2) -> str:
    """The leaderboard as an HTML fragment (table, interval plot, heat maps).

    ``board``: a :class:`~prefkit.choice.leaderboard.Leaderboard`, its ``to_dict()``, or a
    summary from :func:`leaderboard_summary` (then ``dataset``/``style_board`` are ignored).
    """
    from prefkit.report.html import markup

    summary = board if isinstance(board, dict) and "heatmap_items" in board else (
        leaderboard_summary(board, dataset, style_board=style_board))
    view = dict(summary)
    view["rows"] = [dict(r, width=None if r["ci_low"] is None else r["ci_high"] - r["ci_low"])
                    for r in summary["rows"]]
    ci = summary.get("ci")
    view["ci_label"] = {"bootstrap": f"bootstrap intervals ({summary.get('bootstrap')} rounds)",
                        "sandwich": "sandwich intervals"}.get(ci, "intervals")
    win, count = win_fraction_svg(summary), battle_count_svg(summary)
    return render("leaderboard.html", s=view, table_id=table_id, digits=digits,
                  ci_plot=markup(ci_plot_svg(summary)),
                  win_plot=None if win is None else markup(win),
                  count_plot=None if count is None else markup(count))
