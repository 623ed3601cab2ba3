"""Integer ids read as their decimal text, on request: ``read(path, ids_as_text=True)`` or the
CLI flag ``--ids-as-text``.

prefkit coerces nothing silently (docs/format.md, "Validation rules"): an id holds text, and
``"a": 17`` is an error.  Real logs number their models, prompts and annotators, so a reader can
be asked to take an integer id as its decimal text, ``17`` → ``"17"`` — the one conversion that
loses nothing (``str(int(s)) == s`` for the text a log would have written).

Id-like fields are :data:`ID_FIELDS` (the canonical ids), any other column named ``id`` or
``…_id`` (``prompt_id``, ``question_id``: covariates), and each entry of the id lists
:data:`ID_LIST_FIELDS` (``ranking``, ``unranked``).  Only integers are converted: a float
(``17.0``: was it ``"17"`` or ``"17.0"``?), a boolean (``true`` is not ``1``), a list or an object
in an id field stays the error it was.

The option holds for one read: :func:`prefkit.data.read` sets it (:func:`reading_ids_as_text`)
around the reader, and the checks the readers share (:mod:`prefkit.data.schema`, the canonical
and arena readers) ask :func:`ids_as_text_enabled`, so every reader honours it without a new
parameter each.  Without it, the error on an integer id ends with :data:`HINT`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import numpy as np

__all__ = [
    "HINT",
    "ID_FIELDS",
    "ID_LIST_FIELDS",
    "hint_for",
    "ids_as_text_enabled",
    "is_id_field",
    "is_integer",
    "reading_ids_as_text",
    "record_ids_as_text",
    "table_ids_as_text",
]

#: canonical fields that hold one id each
ID_FIELDS = frozenset({"a", "b", "item", "id", "user_id", "annotator_id"})
#: canonical fields that hold a list of ids
ID_LIST_FIELDS = frozenset({"ranking", "unranked"})
#: the end of the error on an integer id when the option is off
HINT = "pass --ids-as-text to read integer ids as text"

_ENABLED: ContextVar[bool] = ContextVar("prefkit_ids_as_text", default=False)


def ids_as_text_enabled() -> bool:
    """Whether the read in progress takes integer ids as text."""
    return _ENABLED.get()


@contextlib.contextmanager
def reading_ids_as_text(enabled: bool = True) -> Iterator[None]:
    """Within the block, readers take integer ids as their decimal text (when ``enabled``)."""
    token = _ENABLED.set(bool(enabled) or _ENABLED.get())
    try:
        yield
    finally:
        _ENABLED.reset(token)


def is_id_field(name: str, also: Collection[str] = ()) -> bool:
    """A field holding one id: a canonical id, a column named ``id`` / ``…_id``, or one of
    ``also`` (a reader's own id columns, e.g. arena's ``model_a``)."""
    return name in ID_FIELDS or name in also or name.lower().endswith("_id")


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer, not a boolean (``True`` is not an id ``"1"``)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _text(value: Any) -> Any:
    return str(int(value)) if is_integer(value) else value


def record_ids_as_text(record: Mapping[str, Any], also: Collection[str] = ()) -> dict[str, Any]:
    """A copy of ``record`` with its integer ids (and integer entries of id lists) as text;
    ``also`` names a reader's own id fields."""
    out = dict(record)
    for name, value in record.items():
        if name in ID_LIST_FIELDS and isinstance(value, list):
            out[name] = [_text(v) for v in value]
        elif is_id_field(name, also):
            out[name] = _text(value)
    return out


def table_ids_as_text(table: Any, also: Collection[str] = ()) -> Any:
    """An Arrow table with its integer id columns (and integer id-list columns) as text;
    ``also`` names a reader's own id columns."""
    import pyarrow as pa

    for index, name in enumerate(table.column_names):
        column = table.column(name)
        kind = column.type
        if name in ID_LIST_FIELDS and (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            if pa.types.is_integer(kind.value_type):
                table = table.set_column(index, name, column.cast(pa.list_(pa.string())))
        elif is_id_field(name, also) and pa.types.is_integer(kind):
            table = table.set_column(index, name, column.cast(pa.string()))
    return table


def hint_for(name: str | None, value: Any, also: Collection[str] = ()) -> str:
    """What to add to the error on ``value`` in field ``name`` (``also``: a reader's own id
    fields): ``"; pass --ids-as-text …"`` when the option would make it right (an integer id, an
    id list of text and integers), ``"; --ids-as-text reads integer ids only …"`` when the option
    is on and the id is a float, else ``""``."""
    if name is None:
        return ""
    if name in ID_LIST_FIELDS and isinstance(value, (list, tuple)):
        values = list(value)
    elif is_id_field(name, also):
        values = [value]
    else:
        return ""
    if ids_as_text_enabled():
        if any(isinstance(v, (float, np.floating)) for v in values):
            return "; --ids-as-text reads integer ids only, not floats"
        return ""
    fixable = all(v is None or isinstance(v, str) or is_integer(v) for v in values)
    return f"; {HINT}" if fixable and any(is_integer(v) for v in values) else ""
