"""Model sections: a reward (or any ``predict_proba``) model and a pluralistic model on test data.

Reward model: accuracy, log-loss, Brier and the a/b-symmetric ECE of
:func:`prefkit.evaluate.evaluate`, the reliability diagram
(:func:`prefkit.evaluate.reliability_diagram`), accuracy per subset (``--by``, default the
``subset`` column when there is one) and, with a ``subset`` column, RewardBench-v1 sections
(:func:`prefkit.reward.rewardbench.rewardbench_v1`; for reward models — a choice model's
``score`` is per item, not per record).

Pluralistic model: the same metrics, accuracy per user group (the first of ``user_id``,
``group``, ``annotator_id`` present, or ``--by``), the worst group (Sagawa et al. 2020;
MaxMin-RLHF's least-served group) and the mixture weights when the model has them
(``weights_``, e.g. :class:`prefkit.plural.mixture.BradleyTerryMixture`).

Item-level (choice) models without test data show their item scores.
"""

# ruff: noqa: E501  (HTML templates and CSS below: long lines are markup)
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from prefkit.report.html import markup, register_template, render
from prefkit.report.svg import bars_svg, interval_svg, reliability_svg

GROUP_COLUMNS = ("user_id", "group", "annotator_id")

TEMPLATE = """
{% if metrics %}
<table class="metrics"><thead><tr><th>records</th><th>accuracy</th><th>log-loss</th>
<th>Brier</th><th>ECE{% if metrics.ece_symmetric %} (a/b-symmetric){% endif %}</th></tr></thead>
<tbody><tr><td>{{ metrics.n|num(0) }}</td><td>{{ metrics.accuracy|num(4) }}</td>
<td>{{ metrics.log_loss|num(4) }}</td><td>{{ metrics.brier|num(4) }}</td>
<td>{{ metrics.ece|num(4) }}</td></tr></tbody></table>
{% else %}<p class="note">No test data given: pass a preference file after the model to see
its metrics.</p>{% endif %}
{% if worst %}<p>Worst {{ worst.column }}: <span class="big">{{ worst.group }}</span>, accuracy
{{ worst.accuracy|num(4) }} on {{ worst.n|num(0) }} records (of {{ groups|length }} groups).</p>{% endif %}
{% if groups %}<h3>Accuracy per {{ group_column }}</h3>
<div class="scroll"><table class="sortable groups"><thead><tr><th class="name">{{ group_column }}</th>
<th>records</th><th>accuracy</th><th>log-loss</th><th>ECE</th></tr></thead><tbody>
{% for g in groups %}<tr><td class="name">{{ g.name }}</td><td data-sort="{{ g.n|sortkey }}">{{ g.n|num(0) }}</td>
<td data-sort="{{ g.accuracy|sortkey }}">{{ g.accuracy|num(4) }}</td>
<td data-sort="{{ g.log_loss|sortkey }}">{{ g.log_loss|num(4) }}</td>
<td data-sort="{{ g.ece|sortkey }}">{{ g.ece|num(4) }}</td></tr>
{% endfor %}</tbody></table></div>{% endif %}
{% if rewardbench %}<h3>RewardBench-style sections</h3>
<p>Score <span class="big">{{ rewardbench.score|num(4) }}</span> on {{ rewardbench.n|num(0) }}
records (sections weighted as RewardBench v1).</p>
<table class="sortable rewardbench"><thead><tr><th class="name">section</th><th>accuracy</th></tr></thead><tbody>
{% for name, acc in rewardbench.sections.items() %}<tr><td class="name">{{ name }}</td>
<td data-sort="{{ acc|sortkey }}">{{ acc|num(4) }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% if weights %}<h3>Mixture weights</h3>
<table class="sortable weights"><thead><tr><th class="name">component</th><th>weight</th></tr></thead><tbody>
{% for name, w in weights %}<tr><td class="name">{{ name }}</td><td data-sort="{{ w|sortkey }}">{{ w|num(4) }}</td></tr>{% endfor %}
</tbody></table>{% endif %}
{% if scores %}<h3>Item scores</h3>
<div class="scroll"><table class="sortable scores"><thead><tr><th>#</th><th class="name">item</th><th>score</th></tr></thead><tbody>
{% for name, v in scores %}<tr><td>{{ loop.index }}</td><td class="name">{{ name }}</td><td data-sort="{{ v|sortkey }}">{{ v|num(3) }}</td></tr>{% endfor %}
</tbody></table></div>{% endif %}
<div class="figures">{% for fig in figures %}<figure>{{ fig }}</figure>{% endfor %}</div>
{% for note in notes %}<p class="note">{{ note }}</p>{% endfor %}
"""
register_template("model.html", TEMPLATE)


def _pairs(dataset: Any) -> Any:
    return dataset if dataset.kind == "pairwise" else dataset.to_pairs()


def _group_column(dataset: Any, by: str | None, plural: bool) -> str | None:
    if by is not None:
        return by if dataset.has(by) else None
    candidates = (*GROUP_COLUMNS, "subset") if plural else ("subset", *GROUP_COLUMNS)
    return next((c for c in candidates if dataset.has(c)), None)


def model_view(model: Any, dataset: Any = None, *, by: str | None = None,
               plural: bool = False, rewardbench: bool = False,
               min_group_size: int = 1) -> dict[str, Any]:
    """What the model section shows, as plain values (metrics, groups, figures' data)."""
    from prefkit.evaluate import (
        as_p_a,
        evaluate,
        predict_outcome_proba,
        reliability_diagram,
    )

    view: dict[str, Any] = {"metrics": None, "groups": [], "group_column": None, "worst": None,
                            "rewardbench": None, "weights": [], "scores": [], "notes": [],
                            "diagram": None}
    weights = getattr(model, "weights_", None)
    if weights is not None and np.ndim(weights) == 1:
        view["weights"] = [(f"component {k + 1}", float(w)) for k, w in enumerate(weights)]
    if dataset is None:
        if hasattr(model, "item_scores") and getattr(model, "items_", None) is not None:
            try:
                scores = np.asarray(model.item_scores(), dtype=float)
                order = np.argsort(-scores, kind="stable")
                view["scores"] = [(str(model.items_[k]), float(scores[k])) for k in order]
            except Exception as err:  # a model whose scores need data
                view["notes"].append(f"item scores unavailable: {err}")
        return view
    pairs = _pairs(dataset)
    column = _group_column(pairs, by, plural)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = evaluate(model, pairs, groups=column, min_group_size=min_group_size)
        y = pairs.outcomes()
        keep = ~np.isnan(y)
        p = as_p_a(predict_outcome_proba(model, pairs))
        diagram = reliability_diagram(y[keep], p[keep], sample_weight=pairs.weights()[keep])
        if rewardbench and pairs.has("subset"):
            from prefkit.reward.rewardbench import rewardbench_v1

            view["rewardbench"] = rewardbench_v1(model, pairs, subset_column="subset")
    view["notes"] += sorted({str(w.message) for w in caught})
    view["metrics"] = metrics
    view["diagram"] = diagram.to_dict()
    if column is not None:
        table = metrics["per_group"][column]
        view["group_column"] = column
        view["groups"] = [dict(row, name=str(name)) for name, row in table.items()]
        worst = metrics["worst_group"][column]
        if worst is not None:
            view["worst"] = dict(worst, column=column)
    return view


def _figures(view: dict[str, Any]) -> list[str]:
    figs = []
    d = view["diagram"]
    if d is not None:
        figs.append(reliability_svg(d["mean_predicted"], d["observed"], d["counts"],
                                    title=f"reliability (ECE {d['ece']:.3f})"))
    if view["groups"]:
        rows = sorted(view["groups"], key=lambda g: -(g.get("accuracy") or 0.0))[:40]
        figs.append(interval_svg([g["name"] for g in rows], [g.get("accuracy") for g in rows],
                                 xlabel="accuracy", xlim=(0.0, 1.0), ref=0.5,
                                 title=f"accuracy per {view['group_column']}"))
    if view["rewardbench"]:
        sections = view["rewardbench"]["sections"]
        figs.append(bars_svg(list(sections), list(sections.values()), xlim=(0.0, 1.0),
                             xlabel="accuracy", title="RewardBench-style sections"))
    if view["weights"]:
        figs.append(bars_svg([n for n, _ in view["weights"]], [w for _, w in view["weights"]],
                             xlim=(0.0, 1.0), xlabel="mixture weight", title="mixture weights"))
    return figs


def render_model_section(model: Any, dataset: Any = None, *, by: str | None = None,
                         plural: bool = False, rewardbench: bool = False) -> str:
    """The model section as an HTML fragment (module notes); ``rewardbench``: add the
    RewardBench-style sections when the data have a ``subset`` column (scalar reward models)."""
    view = model_view(model, dataset, by=by, plural=plural, rewardbench=rewardbench)
    return render("model.html", figures=[markup(f) for f in _figures(view)], **view)
