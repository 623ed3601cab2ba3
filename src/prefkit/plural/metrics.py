"""Evaluation helpers for user-aware models.

* :func:`per_user_accuracy` and :func:`worst_group_accuracy` — accuracy broken down by user or by
  any grouping (e.g. the simulator's true groups), via :func:`prefkit.evaluate.evaluate`;
* :func:`group_recovery` — adjusted Rand index (Hubert & Arabie 1985) between a model's user
  clusters and known groups;
* :func:`disagreement_calibration` — how well a model's P(a ≻ b) for an anonymous person matches
  the spread of several annotators' labels on the same comparison (log-loss and KL against the
  annotators' label distribution, beside the entropy floor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prefkit.errors import DataError
from prefkit.evaluate import evaluate
from prefkit.plural._base import as_pairs, user_labels
from prefkit.plural.aggregate import annotator_distribution, soft_label_log_loss


def per_user_accuracy(model: Any, dataset: Any, **kwargs: Any) -> dict[str, float]:
    """Accuracy of ``model`` on each user's records of ``dataset``."""
    dataset = as_pairs(dataset)
    res = evaluate(model, dataset, groups={"user": user_labels(dataset)}, **kwargs)
    return {u: row["accuracy"] for u, row in res["per_group"]["user"].items()}


def worst_group_accuracy(model: Any, dataset: Any, groups: Any, **kwargs: Any) -> float:
    """Lowest accuracy over the groups (a column name or labels aligned with the records)."""
    dataset = as_pairs(dataset)
    if isinstance(groups, str):
        groups = np.asarray(dataset.column(groups), dtype=object)
    res = evaluate(model, dataset, groups={"g": np.asarray(groups)}, **kwargs)
    worst = res["worst_group"]["g"]
    if worst is None:  # every group's accuracy undefined (e.g. all ties): evaluate() warned
        return float("nan")
    return float(worst["accuracy"])


def group_recovery(
    assignment: Mapping[str, int] | Any,
    users: Sequence[str],
    groups: Sequence[Any],
) -> float:
    """Adjusted Rand index between a model's user clusters and true groups.

    ``assignment`` is a ``{user: cluster}`` mapping or a model with ``user_components()``;
    ``users``/``groups`` give the true group of each user (e.g. the simulator's ``truth``).
    """
    from sklearn.metrics import adjusted_rand_score

    if hasattr(assignment, "user_components"):
        assignment = assignment.user_components()
    truth = dict(zip(users, groups, strict=True))
    common = [u for u in assignment if u in truth]
    if not common:
        raise DataError("no user in common between the model and the true groups")
    return float(adjusted_rand_score([truth[u] for u in common],
                                     [assignment[u] for u in common]))


def anonymous(dataset: Any) -> Any:
    """The dataset without ``user_id``/``annotator_id`` (so models use their population
    prediction)."""
    drop = [c for c in ("user_id", "annotator_id") if c in dataset.columns]
    return dataset.replace(dataset.table.drop_columns(drop)) if drop else dataset


def disagreement_calibration(
    model: Any, dataset: Any, *, key: str | None = None, min_annotators: int = 2
) -> dict[str, float]:
    """Log-loss of the model's anonymous-person P(a ≻ b) against annotators' label shares.

    Returns ``{"log_loss", "kl", "entropy", "n"}`` over comparisons judged by at least
    ``min_annotators`` people (``entropy`` is the floor: the log-loss of predicting the label
    distribution exactly).
    """
    dataset = as_pairs(dataset)
    first, p, n = annotator_distribution(dataset, key=key)
    keep = n >= min_annotators
    if not keep.any():
        raise DataError(f"no comparison has {min_annotators} or more annotators",
                        source=dataset.name)
    first = first.filter(keep)
    p = p[keep]
    q = np.asarray(model.predict_proba(anonymous(first)), dtype=float)
    if q.ndim == 2:
        q = q[:, 0] + 0.5 * q[:, 2]
    ce = soft_label_log_loss(p, q)
    kl = soft_label_log_loss(p, q, entropy=True)
    return {"log_loss": ce, "kl": kl, "entropy": ce - kl, "n": int(keep.sum())}
