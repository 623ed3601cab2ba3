"""The data-quality report: one JSON summary and a few figures, written all or nothing.

``quality.json`` holds, each under its own key,

* ``annotators`` — Crowd-BT reliability η with intervals per annotator (needs ``annotator_id`` /
  ``user_id``) and the majority-vote agreement beside it (:mod:`prefkit.quality.crowd_bt`);
* ``drivers`` — property effects with bootstrap intervals (:mod:`prefkit.quality.drivers`);
* ``length_bias`` — win rate of the longer response by length-difference bin (needs texts);
* ``flips`` — cross-fitted flip rate ε and the most suspect records (item-level data: ``a``/``b``
  item ids; :mod:`prefkit.quality.noisy_labels`);
* ``duplicates`` — exact / near-duplicate prompts and responses (:mod:`prefkit.quality.duplicates`);
* ``rm_flips`` (only when asked for) — the cross-fitted reward-model ensemble's flip rate with its
  interval and the most suspect records (:mod:`prefkit.quality.rm_flips`; needs texts).

The exact structure of every part is documented in docs/quality.md ("The report").

A part that does not apply is ``{"skipped": reason}``, never an error; warnings raised while
computing a part go to ``notes``.  Figures (matplotlib, Agg backend, no display):
``reliability.png`` (η with intervals, ½ marked), ``property_effects.png`` (log-odds per SD with
intervals), ``length_bias.png`` (win rate of the longer response by bin, Wilson intervals) and
``flips.png`` (histogram of the cross-fitted flip probabilities) — each only when its part exists.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.errors import DataError

REPORT_NAME = "quality.json"


def _part(notes: list[str], name: str, compute: Callable[[], Any]) -> Any:
    """Run one part; a DataError becomes ``{"skipped": reason}`` and warnings become notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = compute()
        except DataError as err:
            value = {"skipped": err.reason}
    for w in caught:
        notes.append(f"{name}: {w.message}")
    return value


def _annotators(dataset: Any, seed: int) -> dict[str, Any]:
    from prefkit.quality._comparisons import annotator_labels, group_comparisons
    from prefkit.quality.crowd_bt import CrowdBT
    from prefkit.quality.heldout import majority_agreement
    from prefkit.quality.identification import identification

    annotator_labels(dataset)  # the DataError that says there is no annotator column
    fitted = CrowdBT(seed=seed).fit(dataset)
    table = fitted.annotator_report()
    for name, base in majority_agreement(dataset).items():
        table[name]["majority_agreement"] = base["agreement"]
    ident = identification(group_comparisons(dataset))
    for text in ident["warnings"]:
        warnings.warn(text, stacklevel=1)
    return {"model": "crowd-bt", "annotators": table, "identification": ident}


def _flips(dataset: Any, seed: int, top: int) -> dict[str, Any]:
    from prefkit.quality.noisy_labels import detect_flips

    for side in ("a", "b"):
        if not dataset.has(side) or dataset.table.column(side).null_count == len(dataset):
            return {"skipped": "flip detection needs item ids in 'a' and 'b' (item-level data)"}
    rep = detect_flips(dataset, seed=seed)
    order = np.argsort(-rep.flip_prob)[:top]
    return {"flip_rate": rep.flip_rate, "flip_rate_posterior": rep.flip_rate_posterior,
            "flagged": int(rep.flagged().sum()),
            "flip_prob_histogram": np.histogram(rep.flip_prob, bins=10, range=(0, 1))[0].tolist(),
            "most_suspect": [{"row": int(r), "flip_prob": float(rep.flip_prob[r]),
                              "strength": float(rep.strength_mean[r])} for r in order]}


def _rm_flips(dataset: Any, seed: int, top: int, encoder: Any = None) -> dict[str, Any]:
    from prefkit.quality.rm_flips import detect_flips_rm
    from prefkit.reward.model import require_texts

    if not (dataset.has("a_text") and dataset.has("b_text")):
        return {"skipped": "reward-model flip detection needs response texts (a_text/b_text)"}
    try:
        require_texts(dataset)  # as rm train and quality flips --method rm
    except DataError as err:
        return {"skipped": f"reward-model flip detection needs a response text in every "
                           f"record ({err.message})"}
    rep = detect_flips_rm(dataset, encoder=encoder, seed=seed, extras="style+items")
    order = rep.suspicion_order()[:top]
    return {**rep.summary(), "features": "style+items",
            "flip_prob_histogram": np.histogram(rep.flip_prob, bins=10, range=(0, 1))[0].tolist(),
            "most_suspect": [{"row": int(r), "flip_prob": float(rep.flip_prob[r]),
                              "strength": float(rep.strength_mean[r]),
                              "strength_sd": float(rep.strength_sd[r])} for r in order]}


def build_report(dataset: Any, *, n_bootstrap: int = 100, threshold: float = 0.9,
                 seed: int = 0, top: int = 20, rm_flips: bool = False,
                 encoder: Any = None) -> dict[str, Any]:
    """The ``quality.json`` document (module notes); ``rm_flips`` adds the reward-model
    ensemble's flip detection (encodes every text: minutes on CPU for thousands of records)."""
    from prefkit.quality.drivers import drivers_report
    from prefkit.quality.duplicates import check_threshold, find_duplicates

    check_threshold(threshold)
    pairs = dataset if dataset.kind == "pairwise" else dataset.to_pairs()
    notes: list[str] = []
    doc: dict[str, Any] = {"records": len(pairs), "kind": dataset.kind,
                           "source": dataset.name or None}
    doc["annotators"] = _part(notes, "annotators", lambda: _annotators(pairs, seed))
    drivers = _part(notes, "drivers", lambda: drivers_report(pairs, n_bootstrap=n_bootstrap,
                                                             seed=seed))
    if "skipped" in drivers:
        doc["drivers"], doc["length_bias"] = drivers, {"skipped": drivers["skipped"]}
    else:
        doc["length_bias"] = drivers.pop("length_bias") or {
            "skipped": "no a_text/b_text: the length of a response is unknown"}
        if not drivers["overall"]["effects"]:
            notes.append("drivers: no property differs in enough records; only the "
                         "first-position effect is estimated")
        doc["drivers"] = drivers
    doc["flips"] = _part(notes, "flips", lambda: _flips(pairs, seed, top))
    if rm_flips:
        doc["rm_flips"] = _part(notes, "rm_flips", lambda: _rm_flips(pairs, seed, top, encoder))
    doc["duplicates"] = _part(notes, "duplicates", lambda: find_duplicates(
        dataset, threshold=threshold, top=top, seed=seed + 1))
    doc["notes"] = notes
    return doc


# ------------------------------------------------------------------------------------- figures
def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _reliability_figure(block: dict[str, Any], path: Path) -> None:
    rows = sorted(block["annotators"].items(), key=lambda kv: kv[1]["reliability"])
    names = [k for k, _ in rows]
    eta = np.array([r["reliability"] for _, r in rows])
    lo = np.array([r["interval"][0] for _, r in rows])
    hi = np.array([r["interval"][1] for _, r in rows])
    fig = _figure(6.0, 1.2 + 0.3 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.errorbar(eta, y, xerr=[eta - lo, hi - eta], fmt="o", capsize=3)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [n[:30] for n in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("reliability η (P reports the true preference) with 95 % interval")
    ax.set_title("Annotator reliability (Crowd-BT); ½ = a coin")
    fig.savefig(path, format="png")


def _effects_figure(block: dict[str, Any], path: Path) -> None:
    overall = block["overall"]
    rows = [("(first position)", overall["intercept"]), *overall["effects"].items()]
    fig = _figure(6.0, 1.2 + 0.3 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    coef = np.array([r["coef"] for _, r in rows])
    ivs = [r.get("interval") for _, r in rows]
    lo = np.array([iv[0] if iv else c for iv, c in zip(ivs, coef, strict=True)])
    hi = np.array([iv[1] if iv else c for iv, c in zip(ivs, coef, strict=True)])
    ax.errorbar(coef, y, xerr=[coef - lo, hi - coef], fmt="o", capsize=3)
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, [name for name, _ in rows])
    ax.set_xlabel("log-odds per SD of (a − b), others fixed; 95 % bootstrap")
    ax.set_title("What drives the preferences")
    fig.savefig(path, format="png")


def _length_figure(block: dict[str, Any], path: Path) -> None:
    bins = block["bins"]
    labels = [f"{b['min_diff']:.0f}–" + ("∞" if b["max_diff"] is None else f"{b['max_diff']:.0f}")
              for b in bins]
    rate = np.array([b["longer_win_rate"] for b in bins])
    lo = np.array([b["interval"][0] for b in bins])
    hi = np.array([b["interval"][1] for b in bins])
    fig = _figure(6.0, 3.5)
    ax = fig.add_subplot()
    x = np.arange(len(bins))
    ax.errorbar(x, rate, yerr=[rate - lo, hi - rate], fmt="o-", capsize=3)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_xlabel("length difference (whitespace tokens)")
    ax.set_ylabel("longer response wins (95 % Wilson)")
    ax.set_title(f"Length bias: longer wins {block['longer_win_rate']:.3f} of {block['n']:,}")
    fig.savefig(path, format="png")


def _flips_figure(block: dict[str, Any], path: Path) -> None:
    counts = block["flip_prob_histogram"]
    fig = _figure(6.0, 3.5)
    ax = fig.add_subplot()
    ax.bar(np.arange(10) / 10 + 0.05, counts, width=0.09)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("cross-fitted P(label flipped)")
    ax.set_ylabel("records")
    ax.set_title(f"Flipped labels: ε = {block['flip_rate']:.3f}, {block['flagged']:,} flagged")
    fig.savefig(path, format="png")


FIGURES: dict[str, tuple[str, Callable[[dict[str, Any], Path], None]]] = {
    "reliability.png": ("annotators", _reliability_figure),
    "property_effects.png": ("drivers", _effects_figure),
    "length_bias.png": ("length_bias", _length_figure),
    "flips.png": ("flips", _flips_figure),
    "rm_flips.png": ("rm_flips", _flips_figure),
}


def _finite(value: Any) -> Any:
    """The document with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_report(doc: dict[str, Any], directory: str | Path, *,
                 figures: bool = True) -> list[Path]:
    """Write ``quality.json`` and the figures into ``directory`` all or nothing (other files in
    it are left alone); returns the paths written."""
    from prefkit.core.atomic import publish_files

    doc = dict(doc)
    plots: list[tuple[str, Callable[[dict[str, Any], Path], None], dict[str, Any]]] = []
    if figures:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            doc["notes"] = [*doc.get("notes", []), "figures: matplotlib is not installed "
                            "(pip install 'prefkit[quality]')"]
        else:
            for name, (key, draw) in FIGURES.items():
                block = doc.get(key)
                if isinstance(block, dict) and "skipped" not in block and (
                        key != "drivers" or block.get("overall")):
                    plots.append((name, draw, block))
    doc["figures"] = [name for name, _, _ in plots]

    def build(tmp: Path) -> None:
        for name, draw, block in plots:
            draw(block, tmp / name)
        (tmp / REPORT_NAME).write_text(json.dumps(_finite(doc), indent=2, ensure_ascii=False)
                                       + "\n", encoding="utf-8")

    return publish_files(build, directory)
