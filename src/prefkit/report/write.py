"""Writing a report: atomically, and never over a file prefkit did not write (unless forced).

A report is one HTML file.  It is written through :func:`prefkit.core.atomic.atomic_write_text`
(a temporary file beside the target, renamed on success: never half a file).  An existing
target is replaced when it is a report prefkit wrote (its ``generator`` ``<meta>`` in the first
kilobytes) or with ``force=True``; anything else — a directory, someone's own page — is refused
with a one-line error naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefkit.errors import ModelFileError
from prefkit.report.html import GENERATOR

#: how much of an existing file is read to recognise a prefkit report
HEAD = 4096


def is_prefkit_report(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an HTML report prefkit wrote."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR} '.encode() in head


def check_report_path(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Check before any work that the report may be written to ``path``; returns it."""
    target = Path(path)
    if target.is_dir():
        raise ModelFileError(f"{target}: is a directory, expected a file name (e.g. report.html)")
    if target.suffix.lower() not in (".html", ".htm"):
        raise ModelFileError(f"{target}: a report is an HTML file; name it *.html")
    if target.exists() and not force and not is_prefkit_report(target):
        raise ModelFileError(f"{target}: exists and prefkit did not write it; use --force to "
                             "replace it")
    return target


def write_report(html: str, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``html`` to ``path`` atomically (module notes)."""
    from prefkit.core.atomic import atomic_write_text

    target = check_report_path(path, force=force)
    atomic_write_text(target, html)
    return target
