"""Options every command spells the same way: defined once here, used by all command modules.

=================  ==========================================================================
``--format/-f``    input reader (:data:`FormatOpt`, default ``auto``; ``prefkit data formats``)
``--map``          column mapping FIELD=COLUMN, any table in (:data:`MapOpt`, :data:`LabelMapOpt`)
``--ids-as-text``  read integer ids as text; added to every data-reading command at once
                   (:func:`add_data_options`; read it with :func:`ids_as_text`)
``--out/-o``       where to write: :func:`out_dir` (DIR) or :func:`out_file` (FILE)
``--force``        replace an earlier prefkit output at ``--out`` (:data:`ForceOpt`)
``--seed``         random seed (:data:`SeedOpt`)
``--json``         one JSON document on stdout instead of text (:data:`JsonOpt`, :func:`json_flag`)
``--ties``         how ties count: :class:`Ties` ``drop | half | model`` (:data:`TiesOpt`)
``--by``           report metrics per value of a column (:data:`ByOpt`)
=================  ==========================================================================

A choice is always an :class:`enum.Enum` (typer checks it and lists the values in ``--help``);
a value is shown with a readable metavar (FILE, DIR, FORMAT, INT, COLUMN).  A command that
fits a ties model as a switch uses ``--tie-model`` (:data:`TieModelOpt`), never a boolean
``--ties``.  ``tests/cli/test_help.py`` checks that every command uses these definitions.

Use them as the type of a parameter, e.g.::

    def my_command(file: DataFileArg, fmt: FormatOpt = "auto", seed: SeedOpt = 0,
                   out: Annotated[Path, out_dir("Directory for the model.")] = ...): ...

This module imports typer and the standard library only (it is imported at start-up).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer


class Ties(str, Enum):
    """How ties count when fitting: dropped, half a win to each side, or modelled."""

    drop = "drop"
    half = "half"
    model = "model"


# ---------------------------------------------------------------------------------- inputs
DataFileArg = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", help="Preference file (.jsonl, .csv, .parquet; .gz/.zip/.zst ok)."
    ),
]

FORMAT_HELP = "Input format: a reader name (see 'prefkit data formats'), or auto."


def format_option(help: str = FORMAT_HELP) -> Any:
    """``--format/-f FORMAT``."""
    return typer.Option("--format", "-f", metavar="FORMAT", help=help)


FormatOpt = Annotated[str, format_option()]

#: ``--map FIELD=COLUMN`` (repeatable): read any table through a column mapping
#: (:mod:`prefkit.data.readers.mapping`); pass it to ``prefkit.cli._common.load(mapping=...)``.
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="FIELD=COLUMN",
        help="Read any table through a column mapping, one canonical field per use: "
        "--map a=winner_name --map b=loser_name --map winner=const:a "
        "(COLUMN, a.dotted.path or const:VALUE; see docs/format.md).",
    ),
]
#: ``--label-map VALUE=LABEL,…``: raw values of the mapped winner column → a, b, tie or drop.
LabelMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--label-map",
        metavar="VALUE=LABEL,...",
        help="With --map winner=COLUMN: what its values mean, e.g. 0=a,1=b,2=tie "
        "(labels a, b, tie or drop).",
    ),
]


#: ``--ids-as-text``: integer ids (``"a": 17``) read as their decimal text (prefkit.data.ids).
IDS_AS_TEXT_FLAG = "--ids-as-text"
IDS_AS_TEXT_HELP = (
    "Read integer ids (a, b, item, user_id, annotator_id, id, *_id columns, ranking entries) as "
    "their decimal text: 17 -> '17'. Floats (17.0) and booleans stay errors."
)
_IDS_AS_TEXT_KEY = "prefkit.ids_as_text"


def _remember_ids_as_text(ctx: typer.Context, value: bool) -> bool:
    ctx.meta[_IDS_AS_TEXT_KEY] = bool(value)  # shared with the command's context
    return value


IdsAsTextOpt = Annotated[
    bool,
    typer.Option(IDS_AS_TEXT_FLAG, help=IDS_AS_TEXT_HELP, callback=_remember_ids_as_text,
                 expose_value=False),
]


def ids_as_text() -> bool:
    """Whether the command running now was given ``--ids-as-text`` (False outside a command)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # typer versions that use click itself
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_IDS_AS_TEXT_KEY, False))


def _ids_as_text_param() -> Any:
    """The click option of :data:`IdsAsTextOpt`, built by typer (a throwaway command)."""
    probe = typer.Typer(add_completion=False)

    @probe.command()
    def _probe(ids: IdsAsTextOpt = False) -> None:  # pragma: no cover - never run
        """Probe."""

    return typer.main.get_command(probe).params[0]


#: what marks a data-reading command: it takes a reader (--format) or a column mapping (--map)
DATA_READING_OPTIONS = ("--format", "--map")


def add_data_options(command: Any) -> None:
    """Give ``--ids-as-text`` to ``command`` and every command below it that reads preference
    data (has ``--format`` or ``--map``), once each: the commands keep their signatures, and
    :func:`prefkit.cli._common.load` (and the leaderboard's fast path) ask :func:`ids_as_text`."""
    params = getattr(command, "params", [])
    opts = {opt for param in params for opt in getattr(param, "opts", ())}
    if getattr(command, "callback", None) is not None and IDS_AS_TEXT_FLAG not in opts and (
        opts & set(DATA_READING_OPTIONS)
    ):
        params.append(_ids_as_text_param())
    for sub in getattr(command, "commands", {}).values():
        add_data_options(sub)


# ---------------------------------------------------------------------------------- outputs
def out_dir(help: str, **kwargs: Any) -> Any:
    """``--out/-o DIR``: a directory the command writes (see :data:`ForceOpt`)."""
    return typer.Option("--out", "-o", metavar="DIR", help=help, **kwargs)


def out_file(help: str, **kwargs: Any) -> Any:
    """``--out/-o FILE``: a file the command writes (atomically)."""
    return typer.Option("--out", "-o", metavar="FILE", help=help, **kwargs)


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an earlier prefkit output at --out (a non-empty directory prefkit did "
        "not write is always refused).",
    ),
]

JSON_HELP = "Print one JSON document on stdout instead of text."


def json_flag(help: str = JSON_HELP) -> Any:
    """``--json``."""
    return typer.Option("--json", help=help)


JsonOpt = Annotated[bool, json_flag()]

# ---------------------------------------------------------------------------------- modelling
SeedOpt = Annotated[
    int, typer.Option("--seed", metavar="INT", help="Random seed (same seed, same result).")
]

TiesOpt = Annotated[
    Ties | None,
    typer.Option(
        "--ties",
        help="How ties count: drop them, half a win to each side, or model them (Davidson / "
        "Rao–Kupper). Default: half.",
    ),
]

TieModelOpt = Annotated[
    bool,
    typer.Option(
        "--tie-model",
        help="Fit a ties model (Davidson): P(tie) as a third outcome, for data with ties.",
    ),
]

BY_HELP = "Also report the metrics per value of this column (e.g. subset)."


def by_option(help: str = BY_HELP) -> Any:
    """``--by COLUMN`` of the ``eval`` commands."""
    return typer.Option("--by", metavar="COLUMN", help=help)


ByOpt = Annotated[str | None, by_option()]
