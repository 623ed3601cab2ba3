"""``prefkit report INPUTS… --out report.html``: one self-contained HTML report.

INPUTS are preference data files (a leaderboard is fitted: Bradley–Terry, ties as half wins,
bootstrap intervals), judgments files, saved results (``leaderboard.json``, ``prefkit judge
analyze --json`` output, a quality report directory, an alignment run directory) and saved
model directories (evaluated on the data files given with them).  See docs/report.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli.options import (
    ByOpt,
    ForceOpt,
    FormatOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    out_file,
)


def report_command(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUTS...", help="Preference files, saved results or model directories.")],
    out: Annotated[Path, out_file("The HTML report to write (one self-contained file).")],
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="INT", help="Bootstrap rounds for leaderboard and judge "
        "intervals (0: sandwich intervals for leaderboards).")] = 200,
    model: Annotated[str, typer.Option(
        "--model", metavar="NAME", help="Leaderboard model: bt, thurstone, davidson, "
        "rao-kupper, pl or elo.")] = "bt",
    style_control: Annotated[str | None, typer.Option(
        "--style-control", metavar="COLUMNS", help="Comma-separated style covariates for the "
        "style-controlled rank (default: the style columns the data have, e.g. len_a/len_b).")
    ] = None,
    by: ByOpt = None,
    human: Annotated[Path | None, typer.Option(
        "--human", metavar="FILE", help="Human labels (with pair_id) for a judge's agreement.")
    ] = None,
    title: Annotated[str | None, typer.Option(
        "--title", metavar="TEXT", help="Title of the report.")] = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Write one self-contained HTML report of data, a leaderboard or a saved model.

    Example: prefkit report battles.jsonl --out report.html
    """
    from prefkit.cli._common import load, progress
    from prefkit.errors import DataError
    from prefkit.report import build_report
    from prefkit.report.write import check_report_path, write_report

    check_report_path(out, force=force)  # fail before the work
    if bootstrap < 0:
        raise DataError("--bootstrap must be ≥ 0", field="--bootstrap")
    columns = None
    if style_control is not None:
        columns = [c.strip() for c in style_control.split(",") if c.strip()]

    def read_data(path: Path) -> Any:  # a PreferenceDataset
        return load(path, fmt, mapping=mapping, label_map=label_map)

    with progress("building the report"):
        html = build_report(inputs, title=title, bootstrap=bootstrap, seed=seed, model=model,
                            style_control=columns, by=by, human=human, read_data=read_data)
    written = write_report(html, out, force=force)
    typer.echo(f"wrote {written} ({len(html.encode('utf-8')):,} bytes)")
