"""Arena battles (Chatbot Arena / LMArena, Arena-Hard): ``model_a, model_b, winner`` rows.

``winner`` is ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``; both ties become
``winner="tie"`` and the column ``tie_bothbad`` keeps which kind of tie it was.  Every other column
(``question_id``, ``judge``, ``tstamp``, conversation fields …) is kept as a covariate column.
JSON lines (plain or compressed, read with Arrow's multithreaded reader) or CSV.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from prefkit.data.io import csv_delimiter, head_line
from prefkit.data.readers._common import load_json_records
from prefkit.data.readers.canonical import arrow_stream, read_json_fast
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset, records_to_table
from prefkit.errors import DataError

ARENA_LABELS = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "tie"}
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")


def _sniff(probe: Probe) -> float:
    keys = probe.json_keys or set(probe.csv_header)
    return 1.0 if set(REQUIRED_COLUMNS) <= keys else 0.0


def _read_table(path: str) -> pa.Table:
    lower = path.lower()
    is_csv = any(lower.endswith(s) for s in (".csv", ".csv.gz", ".csv.zst", ".csv.bz2", ".tsv"))
    if is_csv:
        stream = arrow_stream(path)
        if stream is not None:
            try:
                with stream:
                    return pacsv.read_csv(
                        stream,
                        parse_options=pacsv.ParseOptions(
                            delimiter=csv_delimiter(head_line(path), path)
                        ),
                        convert_options=pacsv.ConvertOptions(
                            column_types={c: pa.string() for c in REQUIRED_COLUMNS}
                        ),
                    )
            except (pa.ArrowInvalid, OSError) as err:
                raise DataError(
                    f"malformed CSV ({str(err).splitlines()[0]})", source=path
                ) from None
        import pandas as pd

        from prefkit.data.readers._common import load_csv

        frame: pd.DataFrame = load_csv(path, dtype=str)
        return pa.Table.from_pandas(frame, preserve_index=False)
    table = read_json_fast(path)
    if table is None:
        records, _ = load_json_records(path)
        table = records_to_table(records, source=path)
    return table


def _line_of(path: str, row: int) -> int | None:
    """File line of record ``row`` in a JSON-lines or CSV file (skipping blank lines)."""
    try:
        _, lines = load_json_records(path)
        return int(lines[row])
    except DataError:
        return row + 2  # CSV: header on line 1


def read_arena(path: str) -> PreferenceDataset:
    """Arena battles: ``model_a``, ``model_b``, ``winner`` (JSONL or CSV)."""
    table = _read_table(path)
    if table.num_rows == 0:
        raise DataError("no records", source=path)
    for col in REQUIRED_COLUMNS:
        if col not in table.column_names:
            raise DataError(
                f"missing column (found: {', '.join(table.column_names[:12])})",
                source=path,
                field=col,
            )
    columns = {}
    for col in REQUIRED_COLUMNS:
        values = table.column(col)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            if pa.types.is_null(values.type):
                raise DataError("missing value", source=path, line=_line_of(path, 0), field=col)
            raise DataError(f"expected text, got {values.type}", source=path, field=col)
        nulls = pc.is_null(values).to_numpy(zero_copy_only=False)
        if nulls.any():
            row = int(np.flatnonzero(nulls)[0])
            raise DataError("missing value", source=path, line=_line_of(path, row), field=col)
        columns[col] = values.cast(pa.string())
    winner = columns["winner"]
    codes = pc.index_in(winner, value_set=pa.array(list(ARENA_LABELS)))
    bad = pc.is_null(codes).to_numpy(zero_copy_only=False)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"unknown label {winner[row].as_py()!r} "
            "(expected model_a, model_b, tie or 'tie (bothbad)')",
            source=path,
            line=_line_of(path, row),
            field="winner",
        )
    mapped = pa.array(list(ARENA_LABELS.values())).take(codes)
    bothbad = pc.equal(codes, list(ARENA_LABELS).index("tie (bothbad)"))
    rest = [c for c in table.column_names if c not in REQUIRED_COLUMNS and c not in ("a", "b")]
    out = pa.table(
        [columns["model_a"], columns["model_b"], mapped, bothbad] + [table.column(c) for c in rest],
        names=["a", "b", "winner", "tie_bothbad", *rest],
    )
    same = pc.equal(out.column("a"), out.column("b")).to_numpy(zero_copy_only=False)
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise DataError(
            f"model {out.column('a')[row].as_py()!r} battles itself",
            source=path,
            line=_line_of(path, row),
            field="model_b",
        )
    try:
        return PreferenceDataset(out, "pairwise", name=path)
    except DataError as err:
        field = {"a": "model_a", "b": "model_b"}.get(err.field or "", err.field)
        line = _line_of(path, err.row) if err.row is not None else err.line
        raise DataError(err.reason, source=path, line=line, field=field) from None


register_reader(
    "arena",
    sniff=_sniff,
    description="arena battles: model_a, model_b, winner",
    suffixes=(".jsonl", ".csv"),
)(read_arena)
