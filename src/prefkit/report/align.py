"""The alignment-run section: loss, implicit-reward accuracy and KL from a run's logged history.

Reads ``align_config.json`` of a run directory (``prefkit align train --out RUN``): ``config``
(loss, β, seed …), ``base`` and ``history`` (one record per optimiser step: ``loss``,
``reward_accuracy`` — the share of pairs whose implicit reward β log π/π_ref is higher for the
chosen response (Rafailov et al. 2023) —, ``reward_margin``, ``logps_chosen``,
``logps_rejected``, ``grad_norm``, ``lr``).  KL: a history key ``kl`` is plotted when the run
logged one; otherwise the section says so and plots the drift of the policy's mean sequence
log-probabilities of the chosen and rejected responses since the first step (a data-side
log-ratio, not the KL of the policy's own samples).
"""

# ruff: noqa: E501  (HTML templates and CSS below: long lines are markup)
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefkit.errors import ModelFileError
from prefkit.report.html import markup, register_template, render
from prefkit.report.svg import line_svg

CONFIG_FILE = "align_config.json"

TEMPLATE = """
<table class="summary"><thead><tr><th class="name">base</th><th>loss</th><th>β</th><th>steps</th>
<th>final loss</th><th>final implicit-reward accuracy</th><th>final reward margin</th></tr></thead>
<tbody><tr><td class="name">{{ base }}</td><td>{{ config.get("loss", "—") }}</td><td>{{ config.get("beta")|num(3) }}</td>
<td>{{ steps|num(0) }}</td><td>{{ last.get("loss")|num(4) }}</td><td>{{ last.get("reward_accuracy")|num(3) }}</td>
<td>{{ last.get("reward_margin")|num(3) }}</td></tr></tbody></table>
{% if not has_kl %}<p class="note">This run logged no KL; the third chart shows the drift of the
mean log-probability of the chosen and rejected responses since step 1 (a log-ratio on the
training data, not the KL of the policy's samples).</p>{% endif %}
<div class="figures">{% for fig in figures %}<figure>{{ fig }}</figure>{% endfor %}</div>
"""
register_template("align.html", TEMPLATE)


def read_run(directory: str | Path) -> dict[str, Any]:
    """``align_config.json`` of a run directory (a one-line error when it is not one)."""
    path = Path(directory) / CONFIG_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{path}: unreadable align run configuration ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("history", []), list):
        raise ModelFileError(f"{path}: not an align run configuration")
    return doc


def _series(history: list[dict[str, Any]], key: str) -> list[float | None]:
    out = []
    for rec in history:
        v = rec.get(key)
        out.append(float(v) if isinstance(v, int | float) else None)
    return out


def render_align_section(run: dict[str, Any]) -> str:
    """The section for one run document (module notes)."""
    history = [r for r in run.get("history", []) if isinstance(r, dict)]
    steps = [float(r.get("step", k + 1)) for k, r in enumerate(history)]
    has_kl = any("kl" in r for r in history)
    figures = []
    if history:
        figures.append(line_svg(steps, {"loss": _series(history, "loss")}, xlabel="step",
                                ylabel="loss", title="training loss"))
        figures.append(line_svg(steps, {"implicit-reward accuracy":
                                        _series(history, "reward_accuracy")},
                                xlabel="step", ylabel="accuracy",
                                title="implicit-reward accuracy"))
        if has_kl:
            figures.append(line_svg(steps, {"KL": _series(history, "kl")}, xlabel="step",
                                    ylabel="KL (nats)", title="KL to the reference"))
        else:
            drift = {}
            for key, name in (("logps_chosen", "chosen"), ("logps_rejected", "rejected")):
                values = _series(history, key)
                first = next((v for v in values if v is not None), None)
                drift[name] = [None if v is None or first is None else v - first
                               for v in values]
            figures.append(line_svg(steps, drift, xlabel="step", ylabel="Δ log-prob",
                                    title="log-probability drift since step 1"))
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    return render("align.html", base=str(run.get("base", "—")), config=config,
                  steps=len(history), last=history[-1] if history else {}, has_kl=has_kl,
                  figures=[markup(f) for f in figures])
