"""Typed exceptions raised by prefkit.

Every problem with user input is a :class:`DataError` whose message is one line that says
*where* (file, line or row, field) and *what* went wrong, e.g.::

    battles.jsonl:12: field 'winner': unknown label 'c' (expected 'a', 'b' or 'tie')

The command-line interface prints that line and exits with status 2.
"""

from __future__ import annotations


class PrefkitError(Exception):
    """Base class of every error prefkit raises on purpose."""


class DataError(PrefkitError, ValueError):
    """Malformed or impossible preference data.

    Attributes:
        reason: what is wrong, in words.
        source: the file (or dataset name) the data came from, if known.
        line: 1-based line number (text formats) where the problem is, if known.
        row: 0-based record index in the dataset, if known and no line is.
        field: the field / column concerned, if any.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = " ".join(str(reason).split())  # always one line
        self.source = source
        self.line = line
        self.row = row
        self.field = field
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.field is None:
            what = self.reason
        elif self.field.startswith("-"):  # a command-line option: "--workers: must be ≥ 1"
            what = f"{self.field}: {self.reason}"
        else:
            what = f"field '{self.field}': {self.reason}"
        if self.source is None and self.line is None and self.row is None:
            return what  # nothing to point at: no "<data>:" placeholder
        where = self.source or "<data>"
        if self.line is not None:
            where += f":{self.line}"
        elif self.row is not None:
            where += f": record {self.row}"
        return f"{where}: {what}"

    def with_context(
        self, *, source: str | None = None, line: int | None = None, row: int | None = None
    ) -> DataError:
        """Return a copy with missing location details filled in."""
        return DataError(
            self.reason,
            source=self.source or source,
            line=self.line if self.line is not None else line,
            row=self.row if self.row is not None else row,
            field=self.field,
        )


class FormatDetectionError(DataError):
    """``--format auto`` could not tell which reader fits a file."""


class DisconnectedGraphError(PrefkitError, ValueError):
    """The comparison graph is disconnected and the model cannot compare its components."""


class NotFittedError(PrefkitError, AttributeError):
    """A model was used before ``fit``."""


class ModelFileError(PrefkitError, ValueError):
    """A saved model directory is missing, malformed, or of the wrong type."""
