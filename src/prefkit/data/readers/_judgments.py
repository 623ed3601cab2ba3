"""The judgments layout shared by the recorded-judge readers (FastChat, Arena-Hard, PandaLM-GPT).

A judgments dataset is a **pairwise** dataset with one record per judgment (one pair shown to a
judge in one order).  Candidates ``a``/``b`` are always in the pair's *original* order, so both
orders of one pair share ``a``, ``b`` and ``winner``'s frame:

``pair_id``        the pair (both orders share it)
``order``          ``"ab"``: ``a`` was shown first (position A); ``"ba"``: ``b`` was shown first
``winner``         the file's own verdict in the original frame: ``a``/``b``/``tie``
``verdict``        the file's own verdict as the judge gave it, in the positions it saw
                   (``"A"``/``"B"``/``"tie"``, ``"A>>B"`` …)
``rationale``      the raw judge text
``annotator_id``   the judge's name;  ``protocol``: the prompt/protocol name;
``template_hash``  hash of the prompt template (null for recorded judgments: unknown)

**Unparsed judgments** (the file has no verdict: a judge error, a parse failure) are not records
— a pairwise record needs an outcome and they are never turned into a tie or a loss.  They are
kept, raw text included, in ``dataset.metadata["unparsed"]``: a list of ``{"pair_id", "order",
"a", "b", "line", "label", "annotator_id", "protocol", "rationale"}`` (``label`` = the file's own
marker, e.g. ``"error"``), so analyses count them and both orders of a pair stay visible.

Readers only record what the file says; :mod:`prefkit.judge` re-parses ``rationale`` with its own
parsers and compares (``prefkit judge analyze``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

JUDGMENT_COLUMNS: dict[str, pa.DataType] = {
    "pair_id": pa.string(),
    "prompt": pa.large_string(),
    "a": pa.string(),
    "b": pa.string(),
    "a_text": pa.large_string(),
    "b_text": pa.large_string(),
    "winner": pa.string(),
    "order": pa.string(),
    "verdict": pa.string(),
    "rationale": pa.large_string(),
    "annotator_id": pa.string(),
    "protocol": pa.string(),
    "template_hash": pa.string(),
}


def judgments_dataset(
    columns: dict[str, Sequence[Any]],
    extra: dict[str, pa.Array] | None = None,
    *,
    source: str,
    lines: Sequence[int] | np.ndarray | None,
) -> PreferenceDataset:
    """A pairwise judgments dataset: the layout columns (missing ones all null) then ``extra``."""
    n = len(columns["pair_id"])
    labels = columns.pop("unparsed_label", [None] * n)
    keep = np.asarray([w is not None for w in columns["winner"]], dtype=bool)
    unparsed = [
        {
            "pair_id": columns["pair_id"][i],
            "order": columns.get("order", [None] * n)[i],
            "a": columns.get("a", [None] * n)[i],
            "b": columns.get("b", [None] * n)[i],
            "line": None if lines is None else int(lines[i]),
            "label": labels[i],
            "annotator_id": columns.get("annotator_id", [None] * n)[i],
            "protocol": columns.get("protocol", [None] * n)[i],
            "rationale": columns.get("rationale", [None] * n)[i],
        }
        for i in np.flatnonzero(~keep)
    ]
    table = pa.table(
        {
            name: pa.array(columns.get(name, [None] * n), type=dtype)
            for name, dtype in JUDGMENT_COLUMNS.items()
        }
    )
    for name, array in (extra or {}).items():
        if name not in table.column_names:
            table = table.append_column(name, array)
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise DataError("no judgment with a verdict", source=source)
    table = table.take(pa.array(rows))
    numbers = None if lines is None else np.asarray(lines, dtype=np.int64)[rows]
    return PreferenceDataset(
        table, "pairwise", name=source, line_numbers=numbers, metadata={"unparsed": unparsed}
    )
