"""``prefkit data …``: validate, describe, convert, split and simulate preference files.

Thin on purpose: each command parses its arguments, calls :mod:`prefkit.data`, and prints or
writes the result.  Every command runs under :func:`~prefkit.cli._common.guard`.
"""

from __future__ import annotations

import contextlib
import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from prefkit.cli._common import (
    about,
    describe_count,
    echo_json,
    guard,
    load,
    out_console,
    output_format,
    progress,
    write,
)
from prefkit.cli.options import (
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    format_option,
    json_flag,
    out_dir,
    out_file,
)
from prefkit.data import PreferenceDataset, readers
from prefkit.data.io import atomic_path, data_suffix
from prefkit.errors import DataError

data_app = typer.Typer(
    name="data",
    help="Check, summarise, convert, split and simulate preference data.",
    no_args_is_help=True,
)

#: Keys of ``prefkit data describe --json``, in this order, and nothing else.
DESCRIBE_JSON_KEYS = ("kind", "records", "ties", "users", "items", "components")


class PairMethod(str, Enum):
    full = "full"
    adjacent = "adjacent"


class Aggregation(str, Enum):
    majority = "majority"
    soft = "soft"


class SplitBy(str, Enum):
    random = "random"
    prompt = "prompt"
    user = "user"
    item = "item"


class OutFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


FileArg = Annotated[
    Path, typer.Argument(help="Preference file (.jsonl, .csv, .parquet; .gz/.zip/.zst ok).")
]
FormatOpt = Annotated[str, format_option("Reader name (see 'prefkit data formats'), or auto.")]


# ---------------------------------------------------------------------------------- validate
@data_app.command("validate")
@guard
def validate_command(
    file: FileArg,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Read FILE and check every record; print 'ok: N <kind> records'.

    Example: prefkit data validate matches.csv --map a=winner_name --map b=loser_name
    --map winner=const:a   (any table, through a column mapping)
    """
    ds = load(file, fmt, mapping=mapping, label_map=label_map)
    typer.echo(f"ok: {describe_count(ds)}")


# ---------------------------------------------------------------------------------- describe
@data_app.command("describe")
@guard
def describe_command(
    file: FileArg,
    fmt: FormatOpt = "auto",
    as_json: Annotated[
        bool, json_flag("Print one JSON object: " + ", ".join(DESCRIBE_JSON_KEYS))
    ] = False,
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Counts of records, ties, users, items and comparison-graph components.

    Example: prefkit data describe battles.jsonl --json
    """
    ds = load(file, fmt, mapping=mapping, label_map=label_map)
    with about(file):
        info = ds.describe()
    if as_json:
        echo_json({key: info[key] for key in DESCRIBE_JSON_KEYS})
        return
    table = Table(title=str(file), show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("format", str(ds.metadata.get("format", fmt)))
    for key, value in info.items():
        table.add_row(key.replace("_", " "), str(value))
    out_console().print(table)


# ---------------------------------------------------------------------------------- convert
@data_app.command("convert")
@guard
def convert_command(
    input: Annotated[Path, typer.Argument(help="Preference file to read.")],
    output: Annotated[
        Path, typer.Argument(help="File to write: .jsonl, .csv or .parquet (.jsonl.gz, .csv.gz).")
    ],
    fmt: FormatOpt = "auto",
    to_pairs: Annotated[
        PairMethod | None,
        typer.Option(
            "--to-pairs",
            help="Convert rankings (rank breaking: full or adjacent) or ratings to pairs.",
        ),
    ] = None,
    aggregate: Annotated[
        Aggregation | None,
        typer.Option("--aggregate", help="Collapse per-annotator pairs: majority or soft labels."),
    ] = None,
    attribute: Annotated[
        str | None, typer.Option("--attribute", help="Ratings: the score attribute to compare.")
    ] = None,
    min_gap: Annotated[
        float | None, typer.Option("--min-gap", help="Ratings: score gaps up to this are ties.")
    ] = None,
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Read INPUT, optionally turn it into pairs / aggregate annotators, write OUTPUT.

    Example: prefkit data convert test.jsonl out.jsonl --map a_text=response_0
    --map b_text=response_1 --map winner=label --label-map 0=a,1=b,2=tie
    """
    out_fmt = output_format(output)
    ds = load(input, fmt, mapping=mapping, label_map=label_map)
    with about(input):
        if to_pairs is not None:
            ds = _to_pairs(ds, to_pairs.value, attribute, min_gap)
        elif attribute is not None or min_gap is not None:
            raise typer.BadParameter("needs --to-pairs", param_hint="'--attribute' / '--min-gap'")
        if aggregate is not None:
            ds = ds.aggregate_annotators(method=aggregate.value)
    write(ds, output, out_fmt)
    typer.echo(f"wrote {describe_count(ds)} to {output}")


def _to_pairs(
    ds: PreferenceDataset, method: str, attribute: str | None, min_gap: float | None
) -> PreferenceDataset:
    options: dict[str, Any] = {}
    if attribute is not None:
        options["attribute"] = attribute
    if min_gap is not None:
        options["min_gap"] = min_gap
    if ds.kind == "rating":
        return ds.to_pairs(**options)
    if options:
        raise typer.BadParameter(
            f"applies to ratings only; this dataset is {ds.kind}",
            param_hint="'--attribute' / '--min-gap'",
        )
    return ds.to_pairs(method=method)


# ---------------------------------------------------------------------------------- split
@data_app.command("split")
@guard
def split_command(
    file: FileArg,
    out: Annotated[Path, out_dir("Directory for train.<ext> and test.<ext>.")],
    by: Annotated[
        SplitBy, typer.Option("--by", help="Hold out random records, or whole prompts/users/items.")
    ] = SplitBy.random,
    test_size: Annotated[float, typer.Option("--test-size", help="Share held out for test.")] = 0.2,
    seed: SeedOpt = 0,
    fmt: FormatOpt = "auto",
    out_format: Annotated[
        OutFormat | None,
        typer.Option(
            "--out-format", help="Format of the written files (default: as FILE, or jsonl)."
        ),
    ] = None,
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Split FILE into train and test files under --out, leakage-checked.

    Example: prefkit data split battles.jsonl --out parts/ --by prompt --test-size 0.2
    """
    out_dir = os.fspath(out)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise DataError("exists and is not a directory", source=out_dir)
    ds = load(file, fmt, mapping=mapping, label_map=label_map)
    with about(file):
        train, test = ds.split(by=by.value, test_size=test_size, seed=seed)
    if out_format is not None:
        suffix = f".{out_format.value}"
    else:
        suffix = data_suffix(file)
        if suffix not in (".jsonl", ".csv", ".parquet"):
            suffix = ".jsonl"
    paths = {part: os.path.join(out_dir, f"{part}{suffix}") for part in ("train", "test")}
    fmt_out = output_format(paths["train"])
    created = not os.path.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        # Both files appear together or not at all.
        with atomic_path(paths["train"]) as tmp_train, atomic_path(paths["test"]) as tmp_test:
            write(train, tmp_train, fmt_out)
            write(test, tmp_test, fmt_out)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
        raise
    typer.echo(f"train: {describe_count(train)} -> {paths['train']}")
    typer.echo(f"test: {describe_count(test)} -> {paths['test']}")


# ---------------------------------------------------------------------------------- simulate
#: Parameter that ``--n`` sets, by preference: the number of records a simulator draws.
RECORD_COUNT_PARAMS = ("n", "n_comparisons", "n_rankings", "n_pairs", "n_ratings", "n_records")


@data_app.command("simulate")
@guard
def simulate_command(
    kind: Annotated[
        str, typer.Argument(help="Simulator: items, rankings, users, cycles or texts.")
    ],
    out: Annotated[Path, out_file("File to write (.jsonl, .csv, .parquet).")],
    n: Annotated[
        int | None, typer.Option("--n", "-n", help="Number of records (comparisons, rankings …).")
    ] = None,
    n_items: Annotated[int | None, typer.Option("--items", help="Number of items.")] = None,
    seed: SeedOpt = 0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Any simulator parameter as KEY=VALUE (VALUE as JSON)."),
    ] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Also write the ground truth as JSON here.")
    ] = None,
) -> None:
    """Draw synthetic preference data with known ground truth and write it to --out.

    Example: prefkit data simulate items --out battles.jsonl --n 20000 --seed 0
    """
    out_fmt = output_format(out)
    try:
        from prefkit.data.simulate import simulate, simulator_params
    except ImportError as err:  # pragma: no cover - depends on the checkout
        raise DataError(f"the simulator is not available ({err})", source="simulate") from None
    where = f"simulate {kind}"
    with about(where):
        known = simulator_params(kind)
        params = _parse_params(param or [])
        if n is not None:
            name = next((p for p in RECORD_COUNT_PARAMS if p in known), None)
            if name is None:
                raise DataError(
                    f"--n does not apply; set one of its parameters with --param "
                    f"({', '.join(known)})",
                    field="n",
                )
            params[name] = n
        if n_items is not None:
            params["n_items"] = n_items
        params["seed"] = seed
        with progress(f"simulating {kind}"):
            try:
                sim = simulate(kind, **params)
            except DataError:
                raise
            except (TypeError, ValueError) as err:
                raise DataError(f"bad parameters ({err})") from None
    with contextlib.ExitStack() as stack:
        tmp_truth = stack.enter_context(atomic_path(truth)) if truth is not None else None
        write(sim.dataset, out, out_fmt)
        if tmp_truth is not None:
            sim.save_truth(tmp_truth)
    typer.echo(f"wrote {describe_count(sim.dataset)} to {out}")
    if truth is not None:
        typer.echo(f"wrote the truth to {truth}")


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--param'")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        params[key.strip()] = value
    return params


# ---------------------------------------------------------------------------------- formats
@data_app.command("formats")
@guard
def formats_command(
    as_json: Annotated[bool, json_flag("Print the list as JSON.")] = False,
) -> None:
    """List the readers that --format accepts (auto picks one by content).

    Example: prefkit data formats --json
    """
    specs = readers()
    if as_json:
        echo_json(
            [
                {"name": s.name, "suffixes": list(s.suffixes), "description": s.description}
                for s in specs.values()
            ]
        )
        return
    table = Table(title="formats (--format NAME; default auto)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("suffixes")
    table.add_column("description")
    for spec in specs.values():
        table.add_row(spec.name, " ".join(spec.suffixes), spec.description)
    out_console().print(table)
