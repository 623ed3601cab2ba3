r"""``evaluate(model, dataset)``: one report for anything that answers ``predict_proba``.

The model contract (design notes): ``model.predict_proba(dataset)`` returns, per pairwise record,
P(a ≻ b) — shape ``(n,)`` — or, for models with ties, ``(n, 3)`` = (P(a ≻ b), P(b ≻ a), P(tie))
in the order of ``WINNER_LABELS``.  A model that also has ``predict_outcome_proba(dataset)``
(the ``(n, 3)`` array; prefkit's choice models) is asked that instead, so that tie models are
scored on their full prediction rather than on the strict win probability alone.  A choice model,
a reward model, a judge and a DPO policy are all scored the same way:

* ``accuracy`` — under the tie policy ``ties`` (see :mod:`prefkit.evaluate.classification`);
* ``log_loss``, ``brier``, ``ece`` — on P(a ≻ b) + ½ P(tie) against the outcome (1, 0, ½ for a
  tie, or the soft label ``p_a``), all labelled records, record weights applied; the ECE is the
  a/b-symmetric one by default (each record counted as (p, y) and (1 − p, 1 − y), so it does not
  depend on which response is "a"; ``"ece_symmetric": true`` in the report says so, see
  :mod:`prefkit.evaluate.calibration`);
* ``log_loss_3way`` — when the model gives a non-zero P(tie) and every record has a ``winner``;
* ``per_group`` / ``worst_group`` — the same metrics per value of one or more grouping columns
  (``user_id``, ``source`` …), and the group with the lowest accuracy (or the worst ``worst_by``
  metric).

Ranking and rating datasets are first turned into pairs by the dataset's own ``to_pairs()`` (rank
breaking, binarization), so the model sees pairwise records.

Undefined metrics are ``None``, never NaN (the report is valid JSON): accuracy when every labelled
record is a tie and ``ties="exclude"`` drops them all, every metric when no labelled record has a
positive weight.  Each such case emits one :class:`UndefinedMetricWarning` saying why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.evaluate._inputs import UndefinedMetricWarning, as_p_a, targets
from prefkit.evaluate.calibration import expected_calibration_error
from prefkit.evaluate.classification import accuracy, brier_score, log_loss, log_loss_3way
from prefkit.evaluate.groups import per_group, worst_group

METRIC_KEYS: tuple[str, ...] = ("accuracy", "log_loss", "brier", "ece", "log_loss_3way")


class PreferenceModel(Protocol):
    """Anything with ``predict_proba(dataset)`` (P(a ≻ b) per record, or (a, b, tie) columns)."""

    def predict_proba(self, dataset: PreferenceDataset) -> Any: ...


def pairwise_metrics(
    y_true: Any,
    p_pred: Any,
    *,
    sample_weight: Any = None,
    ties: str = "exclude",
    tie_threshold: float = 0.0,
    n_bins: int = 10,
    symmetric_ece: bool = True,
) -> dict[str, float]:
    """``{"n", "n_ties", "accuracy", "log_loss", "brier", "ece"}`` for one set of records
    (NaN where undefined; :func:`evaluate` turns those into ``None`` with a warning)."""
    y, p, w = targets(y_true, p_pred, sample_weight)
    return {
        "n": len(y),
        "n_ties": int(np.sum(y == 0.5)),
        "accuracy": accuracy(y, p, ties=ties, tie_threshold=tie_threshold, sample_weight=w),
        "log_loss": log_loss(y, p, sample_weight=w),
        "brier": brier_score(y, p, sample_weight=w),
        "ece": expected_calibration_error(
            y, p, n_bins=n_bins, symmetric=symmetric_ece, sample_weight=w
        ),
    }


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _undefined_reason(key: str, row: Mapping[str, Any], ties: str) -> str:
    if row.get("n", 0) == 0:
        return "there are no labelled records"
    if key == "accuracy" and row.get("n_ties") == row.get("n") and ties == "exclude":
        return (f"all {row['n']} labelled records are ties and ties='exclude' leaves them out "
                "(ties='half' counts them)")
    return "the records' weights sum to 0"


def _none_for_nan(result: dict[str, Any], ties: str, where: str = "") -> None:
    """Replace NaN metrics of ``result`` (top level and per group) by None, warning once each."""
    undefined = [k for k in METRIC_KEYS if _is_nan(result.get(k))]
    for key in undefined:
        result[key] = None
        warnings.warn(f"{key} is undefined{where}: {_undefined_reason(key, result, ties)}; "
                      "reported as None", UndefinedMetricWarning, stacklevel=3)
    for name, table in result.get("per_group", {}).items():
        counts: dict[str, int] = {}
        for row in table.values():
            for key in METRIC_KEYS:
                if _is_nan(row.get(key)):
                    row[key] = None
                    counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            if key in undefined:
                continue  # already said for the whole data set
            warnings.warn(f"{key} is undefined for {count} group(s) of {name!r} (e.g. a group "
                          "whose records are all ties); reported as None",
                          UndefinedMetricWarning, stacklevel=3)
    for row in result.get("worst_group", {}).values():
        for key in METRIC_KEYS:
            if row is not None and _is_nan(row.get(key)):
                row[key] = None


def predict_outcome_proba(model: PreferenceModel, dataset: PreferenceDataset) -> np.ndarray:
    """The model's predictions, checked: ``(n,)`` or ``(n, 3)`` floats in [0, 1].

    Uses ``model.predict_outcome_proba(dataset)`` (``(n, 3)``) where the model has it, else
    ``model.predict_proba(dataset)``.
    """
    method = getattr(model, "predict_outcome_proba", None)
    if not callable(method):
        method = getattr(model, "predict_proba", None)
    if not callable(method):
        raise TypeError(f"{type(model).__name__} has no predict_proba(dataset) method")
    raw = np.asarray(method(dataset), dtype=float)
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim == 0 or raw.shape[0] != len(dataset):
        raise DataError(
            f"{type(model).__name__}.{getattr(method, '__name__', 'predict_proba')} returned "
            f"shape {raw.shape} for {len(dataset)} records",
            source=dataset.name,
            field="p_pred",
        )
    as_p_a(raw)  # validates shape and range
    return raw


def _group_columns(dataset: PreferenceDataset, groups: Any) -> dict[str, np.ndarray]:
    if groups is None:
        return {}
    if isinstance(groups, str):
        groups = [groups]
    if isinstance(groups, Mapping):
        return {str(k): np.asarray(v, dtype=object) for k, v in groups.items()}
    if isinstance(groups, Sequence) and all(isinstance(g, str) for g in groups):
        out = {}
        for name in groups:
            if name not in dataset.columns:
                raise DataError("no such column to group by", source=dataset.name, field=name)
            out[name] = dataset.column(name)
        return out
    return {"groups": np.asarray(groups, dtype=object)}


def evaluate(
    model: PreferenceModel,
    dataset: PreferenceDataset,
    groups: str | Sequence[str] | Mapping[str, Any] | np.ndarray | None = None,
    *,
    ties: str = "exclude",
    tie_threshold: float = 0.0,
    n_bins: int = 10,
    min_group_size: int = 1,
    worst_by: str = "accuracy",
    symmetric_ece: bool = True,
) -> dict[str, Any]:
    """Score ``model`` on ``dataset``: accuracy, log-loss, Brier, ECE, n (+ per/worst group).

    Args:
        model: any object with ``predict_proba(dataset)``.
        dataset: a pairwise dataset (ranking/rating data is converted with ``to_pairs()``).
        groups: a column name, a list of column names, a mapping name → labels, or an array of
            labels aligned with the (pairwise) records.
        ties: accuracy tie policy (``"exclude"``, ``"half"``, ``"exact"``, ``"count_wrong"``).
        tie_threshold: predictions within this distance of ½ count as predicted ties.
        n_bins: equal-width bins of the ECE.
        min_group_size: groups with fewer records are left out of the breakdowns.
        worst_by: the metric that picks the worst group.
        symmetric_ece: score the ECE in both orientations of every record (default; the ECE
            then does not depend on which response is "a"); ``False``: one-sided ECE of
            P(a ≻ b).

    Returns:
        ``{"n", "n_ties", "accuracy", "log_loss", "brier", "ece", "ece_symmetric"
        [, "log_loss_3way"][, "per_group": {column: {group: metrics}},
        "worst_group": {column: {"group", **metrics}}]}``
        (records without an outcome are left out; undefined metrics are None, with an
        :class:`UndefinedMetricWarning`).
    """
    if not isinstance(dataset, PreferenceDataset):
        raise TypeError("evaluate needs a PreferenceDataset")
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    raw = predict_outcome_proba(model, dataset)
    group_cols = _group_columns(dataset, groups)
    for name, labels in group_cols.items():
        if len(labels) != len(dataset):
            raise DataError(f"{len(labels)} group labels for {len(dataset)} records", field=name)
    y = dataset.outcomes()
    labelled = ~np.isnan(y)
    if not labelled.all():
        dataset = dataset.filter(labelled)
        raw, y = raw[labelled], y[labelled]
        group_cols = {k: v[labelled] for k, v in group_cols.items()}
    w = dataset.weights()
    p = as_p_a(raw)
    options = {"ties": ties, "tie_threshold": tie_threshold, "n_bins": n_bins,
               "symmetric_ece": symmetric_ece}
    with warnings.catch_warnings():  # said once below, with the reason, for the report
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        result: dict[str, Any] = pairwise_metrics(y, p, sample_weight=w, **options)
    result["ece_symmetric"] = bool(symmetric_ece)
    if raw.ndim == 2 and (raw[:, 2] > 0).any() and "winner" in dataset.columns:
        winner = np.asarray(dataset.column("winner"), dtype=object)
        if np.isin(winner, ["a", "b", "tie"]).all():  # every record has a hard label
            result["log_loss_3way"] = log_loss_3way(dataset, raw)
    if group_cols:
        result["per_group"], result["worst_group"] = {}, {}
        for name, labels in group_cols.items():
            table = per_group(labels, y, p, sample_weight=w, min_size=min_group_size, **options)
            result["per_group"][name] = table
            key, row = worst_group(table, worst_by, min_size=min_group_size)
            result["worst_group"][name] = None if key is None else {"group": key, **row}
    _none_for_nan(result, ties)
    return result
