"""Arena battles (Chatbot Arena / LMArena, Arena-Hard): ``model_a, model_b, winner`` rows.

Also the Kaggle "LMSYS Chatbot Arena" CSV layout (``id, model_a, model_b, prompt, response_a,
response_b, winner_model_a, winner_model_b, winner_tie``): the one-hot columns give ``winner`` and
``prompt`` / ``response_a`` / ``response_b`` become ``prompt`` / ``a_text`` / ``b_text`` (as the
text the file holds).  Column names match case-insensitively, and blank lines before a CSV header
are skipped (as pandas does).

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

from prefkit.data.ids import (
    HINT,
    hint_for,
    ids_as_text_enabled,
    is_integer,
    record_ids_as_text,
    table_ids_as_text,
)
from prefkit.data.io import csv_delimiter, head_line
from prefkit.data.readers._common import load_json_records
from prefkit.data.readers._fast_json import arrow_stream, read_json_fast
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset, records_to_table
from prefkit.errors import DataError

ARENA_LABELS = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "tie"}
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
#: the two ids of a battle (integer ids are read as text with ``ids_as_text``)
MODEL_COLUMNS = ("model_a", "model_b")
#: Canonical id fields an arena CSV may carry as they are.
ID_COLUMNS = ("id", "user_id", "annotator_id")


#: The Kaggle "LMSYS Chatbot Arena" layout: one-hot winner columns instead of ``winner``.
ONE_HOT_COLUMNS = {"winner_model_a": "a", "winner_model_b": "b", "winner_tie": "tie"}
#: Text columns of that layout and the canonical fields they fill.
TEXT_COLUMNS = {"prompt": "prompt", "response_a": "a_text", "response_b": "b_text"}


def _sniff(probe: Probe) -> float:
    keys = {str(k).strip().lower() for k in (probe.json_keys or probe.csv_header)}
    if set(REQUIRED_COLUMNS) <= keys:
        return 1.0
    if {"model_a", "model_b", *ONE_HOT_COLUMNS} <= keys:
        return 0.95
    return 0.0


def _normalise_names(table: pa.Table) -> pa.Table:
    """Column names of the layout matched case-insensitively (``Model_A`` -> ``model_a``)."""
    known = {*REQUIRED_COLUMNS, *ONE_HOT_COLUMNS, *TEXT_COLUMNS}
    names = list(table.column_names)
    present = set(names)
    renamed = [
        n.strip().lower() if n.strip().lower() in known and n.strip().lower() not in present else n
        for n in names
    ]
    return table.rename_columns(renamed) if renamed != names else table


def _one_hot_winner(table: pa.Table, path: str) -> pa.Table:
    """``winner`` (model_a / model_b / tie) from the one-hot columns of the Kaggle layout, and
    ``prompt`` / ``a_text`` / ``b_text`` from its text columns."""
    flags = []
    for col in ONE_HOT_COLUMNS:
        values = table.column(col)
        try:
            numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DataError("expected 0 or 1", source=path, field=col) from None
        bad = ~np.isin(numbers, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"expected 0 or 1, got {values[row].as_py()!r}",
                source=path,
                line=_line_of(path, row),
                field=col,
            )
        flags.append(numbers == 1.0)
    matrix = np.column_stack(flags)
    wrong = matrix.sum(axis=1) != 1
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise DataError(
            "exactly one of winner_model_a, winner_model_b, winner_tie must be 1",
            source=path,
            line=_line_of(path, row),
            field="winner_tie",
        )
    labels = np.array(["model_a", "model_b", "tie"], dtype=object)[matrix.argmax(axis=1)]
    table = table.drop_columns(list(ONE_HOT_COLUMNS)).append_column(
        "winner", pa.array(labels, pa.string())
    )
    for col, target in TEXT_COLUMNS.items():
        if col in table.column_names and target not in table.column_names:
            values = table.column(col)
            if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
                table = table.rename_columns(
                    [target if n == col else n for n in table.column_names]
                )
    return table


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
                            # CSV cells are text: ids stay text (canonical id fields are strings)
                            column_types={c: pa.string() for c in (*REQUIRED_COLUMNS, *ID_COLUMNS)}
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
        records, lines = load_json_records(path)
        if ids_as_text_enabled():
            records = [record_ids_as_text(rec, MODEL_COLUMNS) for rec in records]
        else:
            _refuse_integer_models(records, lines, path)
        table = records_to_table(records, source=path)
    return table


def _refuse_integer_models(records: list[dict], lines: np.ndarray, path: str) -> None:
    """An integer model id among text ones: the error names its line and the option."""
    for rec, line in zip(records, lines, strict=True):
        for col in MODEL_COLUMNS:
            if is_integer(rec.get(col)):
                raise DataError(
                    f"expected text, got integer {rec[col]}; {HINT}",
                    source=path,
                    line=int(line),
                    field=col,
                )


def _line_of(path: str, row: int) -> int | None:
    """File line of record ``row`` in a JSON-lines or CSV file (skipping blank lines)."""
    try:
        _, lines = load_json_records(path)
        return int(lines[row])
    except DataError:
        return row + 2  # CSV: header on line 1


def read_arena(path: str) -> PreferenceDataset:
    """Arena battles: ``model_a``, ``model_b``, ``winner`` (JSONL or CSV)."""
    table = _normalise_names(_read_table(path))
    if ids_as_text_enabled():
        table = table_ids_as_text(table, MODEL_COLUMNS)
    if table.num_rows == 0:
        raise DataError("no records", source=path)
    if "winner" not in table.column_names and set(ONE_HOT_COLUMNS) <= set(table.column_names):
        table = _one_hot_winner(table, path)
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
            row = int(np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))[0])
            value = values[row].as_py()
            raise DataError(
                f"expected text, got {values.type} {value}{hint_for(col, value, MODEL_COLUMNS)}",
                source=path,
                line=_line_of(path, row),
                field=col,
            )
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
    rest = [c for c in table.column_names if c not in REQUIRED_COLUMNS and c not in ("a", "b", "")]
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
