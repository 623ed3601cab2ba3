"""Layer ``report``: one self-contained HTML file for a leaderboard, a model, a judge, an
alignment run or a data-quality report (``prefkit report INPUTS… --out report.html``).

==================  ===========================================================================
module              contents
==================  ===========================================================================
``leaderboard``     :func:`render_leaderboard_section`, :func:`leaderboard_summary`, charts
                    (reused by the arena's live leaderboard page)
``model``           reward / pluralistic model: calibration, per-group accuracy, RewardBench
``judge``           the bias and agreement panel of :func:`prefkit.judge.analysis.analyze`
``align``           loss, implicit-reward accuracy and KL of an alignment run
``quality``         a ``prefkit quality report`` directory
``svg``             inline SVG charts (no matplotlib, no network)
``html``            the page: Jinja2 templates (autoescaped), CSS, table-sorting script
``provenance``      data / model / template hashes, seed, prefkit version
``build``           what each input is and which section it becomes
``write``           atomic write; never over a file prefkit did not write without ``force``
==================  ===========================================================================

Jinja2 is imported when a report is rendered (extra ``arena``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_report(inputs: list[str | Path], *, title: str | None = None, **options: Any) -> str:
    """The HTML document for ``inputs`` (see :mod:`prefkit.report.build`); ``options`` are the
    fields of :class:`prefkit.report.build.ReportOptions`."""
    from prefkit.report.build import ReportOptions, build_sections
    from prefkit.report.html import render_page

    paths = [Path(p) for p in inputs]
    sections = build_sections(paths, ReportOptions(**options))
    if title is None:
        title = "prefkit report: " + ", ".join(p.name for p in paths)
    return render_page(sections, title=title)


def write_report(html: str, path: str | Path, *, force: bool = False) -> Path:
    """Write a report atomically (see :mod:`prefkit.report.write`)."""
    from prefkit.report.write import write_report as write

    return write(html, path, force=force)


__all__ = ["build_report", "write_report"]
