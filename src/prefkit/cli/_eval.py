"""What every ``eval`` command shares: ``--by COLUMN``, ``--min-group-size``, one report shape.

``prefkit rm eval``, ``prefkit plural eval`` and ``prefkit align eval`` all print (``--json``)::

    {<metric>: value, …, "n": records,
     ["ece_symmetric": true,]                       # models scored by evaluate(): the ECE is
                                                    # a/b-symmetric (order of a and b irrelevant)
     ["by": {value: {<metric>: …, "n": …}},         # --by COLUMN: one entry per value with at
      "by_min_group_size": m, "by_groups_left_out": k]}   # least m records; k smaller groups

plus, for user-aware models, ``"worst_user_accuracy"`` (the lowest accuracy of a user with at
least ``--min-group-size`` records here — a *user*, not a group), ``"worst_user"``, ``"users"``
(distinct users in the data) and ``"users_evaluated"`` (those large enough to be ranked).
Undefined numbers are ``null``, never NaN.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import numpy as np
import typer

from prefkit.cli.options import by_option
from prefkit.errors import DataError

#: Groups (values of ``--by``, users) with fewer records are left out of breakdowns.
DEFAULT_MIN_GROUP_SIZE = 5
#: Metrics an ``eval`` of a ``predict_proba`` model reports.
MODEL_KEYS: tuple[str, ...] = ("accuracy", "log_loss", "ece", "n")
USER_GROUP = "\x00user"

ByOption = Annotated[
    str | None,
    by_option("Also report the metrics per value of this column (e.g. subset, source); groups "
              "smaller than --min-group-size are left out."),
]
MinGroupSizeOption = Annotated[
    int,
    typer.Option("--min-group-size", min=1, metavar="INT", help="Groups (and users) with fewer "
                 "records are left out of the --by breakdown and of the worst-user figure."),
]


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf float (also numpy floats, nested) replaced by ``None``."""
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def group_column(dataset: Any, by: str, source: str | None = None) -> np.ndarray:
    """The ``--by`` column's labels as strings (missing values ``"<missing>"``), checked."""
    from prefkit.evaluate.groups import group_labels

    if not dataset.has(by):
        raise DataError(f"no column {by!r} to group by", source=source or dataset.name,
                        field="--by")
    return group_labels(dataset.column(by))


def _by_section(table: Mapping[str, Mapping[str, Any]], keys: tuple[str, ...], n_groups: int,
                min_group_size: int) -> dict[str, Any]:
    return {
        "by": {str(g): {k: m.get(k) for k in keys} for g, m in table.items()},
        "by_min_group_size": int(min_group_size),
        "by_groups_left_out": int(n_groups - len(table)),
    }


def model_report(
    model: Any,
    dataset: Any,
    *,
    by: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    users: np.ndarray | None = None,
    keys: tuple[str, ...] = MODEL_KEYS,
    source: str | None = None,
) -> dict[str, Any]:
    """The eval report of a model with ``predict_proba`` (via :func:`prefkit.evaluate.evaluate`).

    ``users``: per-record user labels (user-aware models) for the worst-user figure.
    """
    from prefkit.evaluate import evaluate

    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    groups: dict[str, np.ndarray] = {}
    if by is not None:
        groups[by] = group_column(dataset, by, source)
    if users is not None:
        groups[USER_GROUP] = np.asarray(users, dtype=object)
    metrics = evaluate(model, dataset, groups=groups or None, min_group_size=min_group_size)
    result: dict[str, Any] = {k: metrics[k] for k in keys}
    result["ece_symmetric"] = metrics["ece_symmetric"]
    if users is not None:
        worst = metrics["worst_group"][USER_GROUP]
        result["worst_user_accuracy"] = None if worst is None else worst["accuracy"]
        result["worst_user"] = None if worst is None else worst["group"]
        result["users"] = len(set(np.asarray(users).tolist()))
        result["users_evaluated"] = len(metrics["per_group"][USER_GROUP])
    if by is not None:
        n_groups = len(set(groups[by].tolist()))
        result.update(_by_section(metrics["per_group"][by], keys, n_groups, min_group_size))
    return json_safe(result)


def grouped_report(
    metrics_fn: Callable[[Any], Mapping[str, Any]],
    dataset: Any,
    *,
    by: str | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    keys: tuple[str, ...] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The eval report of anything scored by ``metrics_fn(dataset) -> {metric: value}`` (e.g. a
    policy): the metrics on all of ``dataset``, and with ``by`` on each group's records
    (``keys``: the metrics to keep; ``None``: all that ``metrics_fn`` returns)."""
    labels = group_column(dataset, by, source) if by is not None else None
    full = metrics_fn(dataset)
    keys = tuple(full) if keys is None else keys
    result: dict[str, Any] = {k: full[k] for k in keys}
    if labels is not None:
        table = {}
        values = sorted(set(labels.tolist()))
        for value in values:
            mask = labels == value
            if int(mask.sum()) >= min_group_size:
                row = metrics_fn(dataset.filter(mask))
                table[value] = {k: row.get(k) for k in keys}
        result.update(_by_section(table, keys, len(values), min_group_size))
    return json_safe(result)


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def echo_report(result: Mapping[str, Any], *, as_json: bool, by: str | None = None) -> None:
    """Print ``result``: one JSON object (``--json``), else one ``key value`` line each."""
    if as_json:
        sys.stdout.write(json.dumps(json_safe(dict(result)), allow_nan=False) + "\n")
        return
    width = max([10] + [len(k) for k in result if not k.startswith("by")])
    for key, value in result.items():
        if key.startswith("by") or key == "ece_symmetric":
            continue
        note = ""
        if key == "ece" and result.get("ece_symmetric"):
            note = "  (a/b-symmetric: each record counted as (p, y) and (1 - p, 1 - y))"
        typer.echo(f"{key:{width}s} {_cell(value)}{note}")
    if "by" in result:
        left_out = result.get("by_groups_left_out", 0)
        typer.echo(f"by {by} (groups with at least {result.get('by_min_group_size')} records"
                   f"{f'; {left_out} smaller left out' if left_out else ''}):")
        for group, metrics in result["by"].items():
            cells = ", ".join(f"{k} {_cell(v)}" for k, v in metrics.items())
            typer.echo(f"  {by}={group}: {cells}")
