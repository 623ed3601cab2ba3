"""``prefkit plural``: train, adapt and evaluate user-aware preference models.

    prefkit plural train votes.jsonl --out model/ [--model mixture|bt-mixture|covariates|…]
    prefkit plural adapt model/ new_users.jsonl --out adapted/
    prefkit plural eval model/ test.jsonl --by source --json

``fit`` is kept as a hidden alias of ``train`` for one release.  ``--out`` never deletes what
prefkit did not write: a non-empty directory that is not a prefkit model is refused, a prefkit
model directory is replaced only with ``--force``.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli._common import about
from prefkit.cli._eval import DEFAULT_MIN_GROUP_SIZE, ByOption, MinGroupSizeOption
from prefkit.cli.options import (
    DataFileArg,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    out_dir,
)
from prefkit.errors import DataError

plural_app = typer.Typer(
    help="User-aware (pluralistic) preference models.\n\n"
    "Example: prefkit plural train votes.jsonl --out model/ --components auto",
    no_args_is_help=True,
)


class PluralModel(str, Enum):
    """The user-aware models ``plural train`` fits (names of :data:`prefkit.plural.MODELS`)."""

    mixture = "mixture"
    bt_mixture = "bt-mixture"
    covariates = "covariates"
    maxmin = "maxmin"
    pal_a = "pal-a"
    pal_b = "pal-b"
    vpl = "vpl"
    micro = "micro"


FEATURE_MODELS = ("maxmin", "pal-a", "pal-b", "vpl", "micro")
ModelDirArg = Annotated[Path, typer.Argument(
    metavar="DIR", help="Directory written by 'prefkit plural train'.")]


def _read(path: Path, fmt: str, mapping: list[str] | None = None,
          label_map: list[str] | None = None) -> Any:
    from prefkit.cli._common import load

    return load(path, fmt, mapping=mapping, label_map=label_map)


def _as_model_input(ds: Any, model: str) -> Any:
    """Pairs for every model but the PL mixture (which also takes rankings); rating records
    (Polis votes, Likert scores) are turned into pairs within each user, with a note."""
    if ds.kind == "rating":
        pairs = ds.to_pairs()
        typer.echo(f"note: {len(ds):,} rating records turned into {len(pairs):,} pairwise "
                   "records (within each user, higher score preferred; ties for equal scores)",
                   err=True)
        if len(pairs) == 0:
            raise DataError("no user rated two items differently, so there is no comparison to "
                            "learn from", source=ds.name)
        return pairs
    if model != "mixture" and ds.kind != "pairwise":
        return ds.to_pairs()
    return ds


def _encoder_for(ds: Any) -> Any:
    """The bundled encoder when a dataset has texts but no numeric a_/b_ feature columns."""
    from prefkit.reward.features import attribute_columns

    if ds.kind == "pairwise" and attribute_columns(ds):
        return None
    if ds.kind == "pairwise" and ds.has("a_text") and ds.has("b_text"):
        from prefkit.encode import default_encoder

        return default_encoder()
    raise DataError(
        "feature-level models need a_<name>/b_<name> feature columns or a_text/b_text",
        source=ds.name,
    )


def _make(model: str, components: str, ds: Any) -> Any:
    import prefkit.plural as plural

    if model not in plural.MODELS:
        raise DataError(f"unknown model {model!r} (expected one of {', '.join(plural.MODELS)})",
                        field="--model")
    k: int | str
    if components == "auto":
        k = "auto"
    else:
        try:
            k = int(components)
        except ValueError:
            raise DataError(f"--components must be an integer or 'auto', not {components!r}",
                            field="--components") from None
        if k < 1:
            raise DataError("--components must be at least 1", field="--components")
    if model in ("mixture", "bt-mixture"):
        return getattr(plural, plural.MODELS[model])(k)
    if model == "covariates":
        return plural.CovariateBradleyTerry()
    if k == "auto":
        raise DataError(f"--components auto is only for mixtures; give K for {model}",
                        field="--components")
    enc = _encoder_for(ds)
    cls = getattr(plural, plural.MODELS[model])
    if model == "vpl":
        return cls(encoder=enc)
    return cls(k, encoder=enc)


def _save(model: Any, out: Path, force: bool) -> None:
    """Publish the model directory atomically; never deletes files prefkit did not write."""
    from prefkit.core.atomic import publish_dir

    publish_dir(lambda tmp: model.save(tmp), out, overwrite=force)


def _check_out(out: Path, force: bool) -> None:
    """Fail before any work when ``--out`` may not be written."""
    from prefkit.core.atomic import check_output_dir

    check_output_dir(out, overwrite=force)


def _load(model_dir: Path) -> Any:
    from prefkit.core.limits import read_config
    from prefkit.core.persist import load

    config_file = model_dir / "config.json"
    doc = read_config(config_file) if config_file.is_file() else {}
    inner = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    kwargs: dict[str, Any] = {}
    if doc.get("uses_encoder") or inner.get("uses_encoder"):
        from prefkit.encode import default_encoder

        kwargs["encoder"] = default_encoder()
    return load(model_dir, **kwargs)


def _n_users(ds: Any) -> int:
    from prefkit.plural._base import user_labels

    return len(set(user_labels(ds).tolist()))


@plural_app.command("train")
def train_command(
    data: DataFileArg,
    out: Annotated[Path, out_dir("Directory for the trained model.")],
    model: Annotated[PluralModel, typer.Option(
        "--model", help="Which user-aware model (docs/plural.md).")] = PluralModel.mixture,
    components: Annotated[str, typer.Option(
        "--components", metavar="K|auto", help="Number of components K, or 'auto' (mixtures: "
        "chosen by BIC).")] = "auto",
    force: ForceOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Train a user-aware model on FILE and save it to --out.

    Example: prefkit plural train votes.jsonl --out model/ --model bt-mixture --components 3
    """
    model = PluralModel(model).value
    _check_out(out, force)
    ds = _as_model_input(_read(data, fmt, mapping, label_map), model)
    if model in FEATURE_MODELS and components == "auto":
        components = "3"
    with about(data):
        estimator = _make(model, components, ds).fit(ds)
    _save(estimator, out, force)
    k = getattr(estimator, "n_components_", None)
    extra = f", {k} component{'' if k == 1 else 's'}" if k is not None else ""
    typer.echo(f"trained {type(estimator).__name__} on {len(ds):,} records of "
               f"{_n_users(ds):,} users{extra} -> {out}")
    typer.echo(_fit_summary(estimator, ds))


def _fit_summary(estimator: Any, ds: Any) -> str:
    """One line: the fitted model's accuracy and log-loss on its own training records."""
    import warnings

    from prefkit.evaluate import evaluate

    pairs = ds if ds.kind == "pairwise" else ds.to_pairs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an undefined metric shows as "n/a" below
        report = evaluate(estimator, pairs)
    shown = [f"{name.replace('_', '-')} {report[name]:.3f}" if report.get(name) is not None
             else f"{name.replace('_', '-')} n/a" for name in ("accuracy", "log_loss")]
    return f"training {', '.join(shown)} (on {report['n']:,} pairs; use 'plural eval' on " \
           "held-out data)"


# ``fit``: the 0.1 name of ``train``, kept (hidden) for one release
plural_app.command("fit", hidden=True)(train_command)


@plural_app.command("adapt")
def adapt_command(
    model_dir: ModelDirArg,
    user_data: Annotated[Path, typer.Argument(
        metavar="FILE", help="Records of the (new) users to adapt to.")],
    out: Annotated[Path, out_dir("Directory for the adapted model.")],
    force: ForceOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Fit only the users' own weights/latents from FILE; save the result to --out.

    Example: prefkit plural adapt model/ new_users.jsonl --out adapted/
    """
    _check_out(out, force)
    model = _load(model_dir)
    if not hasattr(model, "adapt"):
        raise DataError(f"{type(model).__name__} has no per-user parameters to adapt "
                        "(it predicts new users from their covariates)", source=str(model_dir))
    ds = _read(user_data, fmt, mapping, label_map)
    if ds.kind == "rating":
        ds = _as_model_input(ds, "bt-mixture")
    with about(user_data):
        adapted = model.adapt(ds)
    _save(adapted, out, force)
    typer.echo(f"adapted to {len(adapted.users_) - len(model.users_):,} new user(s) -> {out}")


@plural_app.command("eval")
def eval_command(
    model_dir: ModelDirArg,
    data: DataFileArg,
    as_json: JsonOpt = False,
    by: ByOption = None,
    min_group_size: MinGroupSizeOption = DEFAULT_MIN_GROUP_SIZE,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Accuracy, log-loss, ECE (a/b-symmetric) and the worst user's accuracy on FILE.

    The worst user is the one with the lowest accuracy among users with at least
    --min-group-size records in FILE.

    Example: prefkit plural eval model/ test.jsonl --by source --json
    """
    from prefkit.cli._eval import echo_report, group_column, model_report
    from prefkit.plural._base import user_labels

    model = _load(model_dir)
    ds = _read(data, fmt, mapping, label_map)
    if ds.kind != "pairwise":
        ds = ds.to_pairs()
    if by is not None:
        group_column(ds, by, os.fspath(data))
    with about(data):
        result = model_report(model, ds, by=by, min_group_size=min_group_size,
                              users=user_labels(ds), source=os.fspath(data))
    echo_report(result, as_json=as_json, by=by)
