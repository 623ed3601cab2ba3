"""The judge section: the bias and agreement panel of :func:`prefkit.judge.analysis.analyze`.

Shows each statistic with its bootstrap interval — position consistency, first-position win
rate (½ = no position bias), tie rate, longer-answer win rate and the length coefficient, and with
human labels the agreement with and without ties, Cohen's κ and the human–human ceiling — as a
table and a dot-and-whisker chart against ½, plus the per-category breakdown when there is one.
Input: a judgments file (``pair_id`` + ``order`` records) or the JSON of ``prefkit judge analyze
--json``.
"""

# ruff: noqa: E501  (HTML templates and CSS below: long lines are markup)
from __future__ import annotations

from typing import Any

from prefkit.report.html import markup, register_template, render
from prefkit.report.svg import interval_svg

#: (key, label) of the panel's statistics, in display order.
STATISTICS = (
    ("position_consistency", "position consistency"),
    ("first_position_win_rate", "first-position win rate"),
    ("tie_rate", "tie rate"),
    ("longer_win_rate", "longer answer wins"),
    ("agreement_with_ties", "agreement with humans (with ties)"),
    ("agreement_without_ties", "agreement with humans (without ties)"),
    ("cohen_kappa", "Cohen's κ with humans"),
    ("human_human_agreement_with_ties", "human–human agreement (with ties)"),
    ("human_human_agreement_without_ties", "human–human agreement (without ties)"),
)

TEMPLATE = """
<p class="note">{{ a.n|num(0) }} pairs ({{ a.pairs_both_orders|num(0) }} judged in both orders),
{{ a.judgments|num(0) }} judgments, {{ a.unparsed|num(0) }} unparsed; judges: {{ a.judges|join(", ") }};
two orders aggregated as {{ a.aggregation }}; {{ ((a.level or 0.95) * 100)|round|int }} % bootstrap
intervals over pairs ({{ a.bootstrap }} rounds).</p>
<table class="sortable judge"><thead><tr><th class="name">statistic</th><th>value</th><th>lower</th><th>upper</th></tr></thead><tbody>
{% for r in rows %}<tr><td class="name">{{ r.label }}</td><td data-sort="{{ r.value|sortkey }}">{{ r.value|num(3) }}</td>
<td data-sort="{{ r.low|sortkey }}">{{ r.low|num(3) }}</td><td data-sort="{{ r.high|sortkey }}">{{ r.high|num(3) }}</td></tr>
{% endfor %}{% if a.length_coef is not none %}<tr><td class="name">length coefficient β (per 1000 characters)</td>
<td data-sort="{{ a.length_coef|sortkey }}">{{ a.length_coef|num(3) }}</td><td>{{ (a.length_coef_ci or [none, none])[0]|num(3) }}</td>
<td>{{ (a.length_coef_ci or [none, none])[1]|num(3) }}</td></tr>{% endif %}</tbody></table>
<div class="figures"><figure>{{ chart }}<figcaption>Rates with intervals; the dashed line is ½
(no position bias, a coin-flip judge).</figcaption></figure></div>
{% if categories %}<h3>By {{ a.by }}</h3><div class="scroll"><table class="sortable judge-categories">
<thead><tr><th class="name">{{ a.by }}</th><th>pairs</th>{% for key, label in columns %}<th>{{ label }}</th>{% endfor %}</tr></thead><tbody>
{% for name, entry in categories %}<tr><td class="name">{{ name }}</td><td data-sort="{{ entry.n|sortkey }}">{{ entry.n|num(0) }}</td>
{% for key, label in columns %}<td data-sort="{{ entry.get(key)|sortkey }}">{{ entry.get(key)|num(3) }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% endif %}
"""
register_template("judge.html", TEMPLATE)


def render_judge_section(analysis: dict[str, Any]) -> str:
    """The panel for one ``analyze()`` result (module notes)."""
    rows = []
    for key, label in STATISTICS:
        if key not in analysis or analysis[key] is None:
            continue
        ci = analysis.get(f"{key}_ci") or [None, None]
        rows.append({"key": key, "label": label, "value": analysis[key], "low": ci[0],
                     "high": ci[1]})
    known = {key for key, _ in STATISTICS} | {"length_coef"}
    for key, value in analysis.items():  # statistics added to analyze() later, by name
        if (key not in known and f"{key}_ci" in analysis and isinstance(value, int | float)
                and not isinstance(value, bool) and 0.0 <= value <= 1.0):
            ci = analysis.get(f"{key}_ci") or [None, None]
            rows.append({"key": key, "label": key.replace("_", " "), "value": value,
                         "low": ci[0], "high": ci[1]})
    chart = interval_svg([r["label"] for r in rows], [r["value"] for r in rows],
                         [r["low"] for r in rows], [r["high"] for r in rows],
                         xlim=(-0.05 if any((r["low"] or 0) < 0 for r in rows) else 0.0, 1.0),
                         ref=0.5, xlabel="share", title="judge bias and agreement")
    present = {r["key"] for r in rows}
    columns = [(k, lab) for k, lab in STATISTICS[:5] if k in present]
    categories = sorted((analysis.get("by_category") or {}).items())
    a = {"n": None, "pairs_both_orders": None, "judgments": None, "unparsed": None,
         "judges": [], "aggregation": "", "level": 0.95, "bootstrap": 0, "by": "category",
         "length_coef": None, "length_coef_ci": None, **analysis}
    return render("judge.html", a=a, rows=rows, chart=markup(chart), columns=columns,
                  categories=categories)
