"""``prefkit leaderboard FILE...``: fit a choice model and print or write a leaderboard.

Registered on the main app by the CLI package as
``app.command("leaderboard")(leaderboard_command)``.
Bad input is reported as one line on stderr with exit status 2; outputs are written atomically
(``--out``: all files or none; ``--save-model``: a prefkit model directory that
``prefkit.load`` opens).

The covariate-free pairwise models (bt, thurstone, davidson, rao-kupper without
``--style-control``) depend on the data only through the win/tie count table, so:

* a plain battle log (``a``, ``b``, ``winner`` columns only, Parquet or JSON lines) is counted
  straight from Arrow's dictionary codes (:func:`prefkit.choice.shards.count_file`) — no
  per-record validation objects, no pandas; any other file goes through the general reader;
* several files, a directory or a glob are counted file by file (``--workers`` processes, or
  Ray tasks with ``--engine ray``) and the tables merged exactly
  (:func:`prefkit.choice.shards.count_files`): the same leaderboard as one concatenated file.
  Elo, Plackett–Luce, style control and ``--map`` read every file and concatenate the records.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sized
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from prefkit.cli.options import (
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    TiesOpt,
    out_dir,
)
from prefkit.errors import DataError


class Model(str, Enum):
    """Leaderboard models."""

    bt = "bt"
    thurstone = "thurstone"
    davidson = "davidson"
    rao_kupper = "rao-kupper"
    pl = "pl"
    elo = "elo"


class Scale(str, Enum):
    """Rating scales."""

    logit = "logit"
    elo = "elo"


class Engine(str, Enum):
    """Where many files are counted."""

    local = "local"
    ray = "ray"


#: Covariate-free pairwise models: a leaderboard of these needs only the count table.
COUNT_MODELS = ("bt", "thurstone", "davidson", "rao-kupper")

FilesArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="FILE",
        help="Preference file (.jsonl, .csv, .parquet; .gz/.zip/.zst ok); several files, a "
        "directory or a quoted glob of Parquet/JSON-lines battle files are fitted as one.",
    ),
]


class Interval(str, Enum):
    """Interval methods."""

    sandwich = "sandwich"
    bootstrap = "bootstrap"
    none = "none"


def leaderboard_command(
    files: FilesArg,
    format: FormatOpt = "auto",
    model: Annotated[
        Model, typer.Option("--model", help="Choice model (pl: Plackett–Luce; elo: online Elo).")
    ] = Model.bt,
    ties: TiesOpt = None,
    scale: Annotated[
        Scale | None, typer.Option("--scale", help="Rating scale (default: elo for --model elo).")
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option("--anchor", metavar="NAME=VALUE", help="Pin one item's rating."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", metavar="INT", help="Bootstrap rounds (0: none).")
    ] = 0,
    ci: Annotated[
        Interval | None,
        typer.Option("--ci", help="Interval method (default: bootstrap when --bootstrap > 0)."),
    ] = None,
    style_control: Annotated[
        str | None,
        typer.Option("--style-control", metavar="COLUMNS",
                     help="Comma-separated covariates, e.g. len,markdown."),
    ] = None,
    k: Annotated[
        float | None,
        typer.Option("--k", metavar="FLOAT",
                     help="Elo update step K (default 4 as LMArena; sports: 20-32)."),
    ] = None,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    out: Annotated[
        Path | None, out_dir("Directory for JSON/Markdown/CSV and plots (all or none).")
    ] = None,
    save_model: Annotated[
        Path | None,
        typer.Option("--save-model", metavar="DIR",
                     help="Save the fitted model here (open it with prefkit.load)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier --save-model directory.")
    ] = False,
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, metavar="INT",
                          help="Processes (or Ray tasks) counting several files in parallel.")
    ] = 1,
    engine: Annotated[
        Engine, typer.Option("--engine", help="Count several files here (local) or as Ray "
                             "tasks (ray: pip install 'prefkit[ray]').")
    ] = Engine.local,
) -> None:
    """Rank the items of FILE with a paired-comparison (or Plackett–Luce) model.

    --model elo runs online Elo instead (intervals only with --bootstrap).

    Several files, a directory or a glob: one leaderboard of all their battles.

    Example: prefkit leaderboard battles.jsonl --scale elo --bootstrap 1000 --out board/
    """
    from prefkit.choice.leaderboard import leaderboard

    if save_model is not None:  # fail before the work; the error names the directory
        from prefkit.core.atomic import check_output_dir

        check_output_dir(save_model, overwrite=force)
    source = str(files[0]) if len(files) == 1 else f"{len(files)} inputs"
    try:
        if bootstrap < 0:
            raise DataError("--bootstrap must be ≥ 0")
        paths = expand_inputs(files)
        source = paths[0] if len(paths) == 1 else source
        cols = [c.strip() for c in style_control.split(",") if c.strip()] if style_control else None
        countable = not (mapping or label_map or cols) and _value(model) in COUNT_MODELS
        dataset = _battles(paths, format, countable, mapping, label_map, workers, engine.value)
        if isinstance(dataset, Sized) and len(dataset) == 0:  # e.g. a header-only Parquet
            raise DataError("no records to rank")
        board = leaderboard(
            dataset, model=_value(model), ties=_value(ties), scale=_value(scale),
            anchor=anchor, bootstrap=bootstrap, ci=_value(ci), style_control=cols, seed=seed,
            elo_k=k,
        )
        text = board.to_json() + "\n" if json_out else board.to_markdown()
        if out is not None:
            board.write(out)
        if save_model is not None:
            from prefkit.core.persist import save

            save(board.estimator, save_model, overwrite=force)
    except DataError as err:
        raise err.with_context(source=source) from None
    except ValueError as err:  # argument values the model rejects (anchor, scale, ...)
        raise DataError(str(err), source=source) from None
    sys.stdout.write(text)


def expand_inputs(files: list[Path]) -> list[str]:
    """The data files named by FILE arguments: files as given, a directory's Parquet and
    JSON-lines files, a glob's matches (each sorted by name)."""
    from prefkit.data.battles import JSONL_SUFFIXES, PARQUET_SUFFIXES

    suffixes = (*PARQUET_SUFFIXES, *JSONL_SUFFIXES)
    paths: list[str] = []
    for file in files:
        name = os.fspath(file)
        if os.path.isdir(name):
            entries = [entry for entry in os.scandir(name)
                       if entry.is_file() and not entry.name.startswith(".")]
            found = sorted(e.path for e in entries if e.name.lower().endswith(suffixes))
            if not found:
                raise DataError("no Parquet or JSON-lines files in this directory", source=name)
            skipped = [e.name for e in entries if _other_table(e.name)]
            if skipped:
                import warnings

                warnings.warn(f"{name}: {len(skipped)} table file(s) that are not Parquet or JSON "
                              f"lines skipped ({', '.join(sorted(skipped)[:3])}); name them as "
                              "arguments to read them", stacklevel=2)
            paths.extend(found)
        elif not os.path.lexists(name) and glob.has_magic(name):
            found = sorted(glob.glob(name))
            if not found:
                raise DataError("no file matches this pattern", source=name)
            paths.extend(found)
        else:
            paths.append(name)
    return _once(paths)


#: tables the readers take when named, but a directory's battle counting skips
_OTHER_TABLES = (".csv", ".tsv", ".json")


def _other_table(name: str) -> bool:
    """Whether ``name`` looks like a CSV/TSV/JSON table (compressed or not)."""
    lower = name.lower()
    for compressed in (".gz", ".bz2", ".xz", ".zst"):
        lower = lower.removesuffix(compressed)
    return lower.endswith(_OTHER_TABLES)


def _once(paths: list[str]) -> list[str]:
    """``paths`` with a file named twice (a directory and a glob over it, a link) kept once,
    with a warning: its battles are counted once, not twice."""
    import warnings

    seen: set[str] = set()
    unique = []
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            warnings.warn(f"{path}: named more than once; its battles are counted once",
                          stacklevel=2)
            continue
        seen.add(key)
        unique.append(path)
    return unique


def _battles(paths: list[str], fmt: str, countable: bool, mapping: list[str] | None,
             label_map: list[str] | None, workers: int, engine: str) -> object:
    """The leaderboard's input: a count table when the model needs no more (a plain battle log,
    or many files counted apart and merged), else the records of every file."""
    if countable:
        if len(paths) > 1 or engine == "ray":
            return _count_many(paths, fmt, workers, engine)
        from prefkit.cli.options import ids_as_text
        from prefkit.data.battles import read_battle_codes
        from prefkit.data.io import check_input_file

        check_input_file(paths[0])
        codes = read_battle_codes(paths[0], fmt, ids_as_text=ids_as_text())
        if codes is not None:
            from prefkit.choice.counts import count_outcomes

            return count_outcomes(len(codes.items), codes.ia, codes.ib, codes.outcome,
                                  items=codes.items)
    from prefkit.cli._common import load

    datasets = [load(p, fmt, mapping=mapping, label_map=label_map) for p in paths]
    if len(datasets) == 1:
        return datasets[0]
    from prefkit.data import PreferenceDataset

    return PreferenceDataset.concat(datasets)


def _count_many(paths: list[str], fmt: str, workers: int, engine: str) -> object:
    from prefkit.choice.shards import count_files
    from prefkit.cli.options import ids_as_text
    from prefkit.core.progress import progress_bar
    from prefkit.data.io import check_input_file

    for path in paths:
        check_input_file(path)
    with progress_bar(None if len(paths) > 1 else False, len(paths), "counting",
                      "files") as advance:
        return count_files(paths, file_format=fmt, workers=workers, engine=engine,
                           on_shard=lambda _k: advance(1), ids_as_text=ids_as_text())


def _value(choice: Enum | str | None) -> str | None:
    return choice.value if isinstance(choice, Enum) else choice
