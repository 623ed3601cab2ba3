"""``prefkit leaderboard FILE``: fit a choice model and print or write a leaderboard.

Registered on the main app by the CLI package as
``app.command("leaderboard")(leaderboard_command)``.
Bad input is reported as one line on stderr with exit status 2; outputs are written atomically
(``--out``: all files or none; ``--save-model``: a prefkit model directory that
``prefkit.load`` opens).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from prefkit.cli.options import (
    DataFileArg,
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


class Interval(str, Enum):
    """Interval methods."""

    sandwich = "sandwich"
    bootstrap = "bootstrap"
    none = "none"


def leaderboard_command(
    file: DataFileArg,
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
) -> None:
    """Rank the items of FILE with a paired-comparison (or Plackett–Luce) model.

    --model elo runs online Elo instead (intervals only with --bootstrap).

    Example: prefkit leaderboard battles.jsonl --scale elo --bootstrap 1000 --out board/
    """
    from prefkit.choice.leaderboard import leaderboard
    from prefkit.cli._common import load

    if save_model is not None:  # fail before the work; the error names the directory
        from prefkit.core.atomic import check_output_dir

        check_output_dir(save_model, overwrite=force)
    try:
        if bootstrap < 0:
            raise DataError("--bootstrap must be ≥ 0")
        dataset = load(file, format, mapping=mapping, label_map=label_map)
        cols = [c.strip() for c in style_control.split(",") if c.strip()] if style_control else None
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
        raise err.with_context(source=str(file)) from None
    except ValueError as err:  # argument values the model rejects (anchor, scale, ...)
        raise DataError(str(err), source=str(file)) from None
    sys.stdout.write(text)


def _value(choice: Enum | str | None) -> str | None:
    return choice.value if isinstance(choice, Enum) else choice
