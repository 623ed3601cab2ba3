"""Vectorised validation of a preference table; the first problem becomes a one-line DataError."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefkit.data.json_guard import first_too_deep
from prefkit.data.limits import LIMITS, limit_error
from prefkit.data.schema import REQUIRED, WINNER_LABELS
from prefkit.errors import DataError


class SelfComparisonWarning(UserWarning):
    """Records whose two sides are the same response text (and have no ids)."""


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


class _Checker:
    def __init__(self, table: pa.Table, source: str | None, line_numbers: np.ndarray | None):
        self.table = table
        self.source = source
        self.line_numbers = line_numbers

    def fail(self, row: int | None, field: str | None, reason: str) -> None:
        line = None
        if row is not None and self.line_numbers is not None and row < len(self.line_numbers):
            line = int(self.line_numbers[row])
        raise DataError(
            reason, source=self.source, line=line, row=None if line else row, field=field
        )

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def null_mask(self, name: str) -> np.ndarray:
        if not self.has(name):
            return np.ones(self.table.num_rows, dtype=bool)
        return pc.is_null(self.table.column(name)).to_numpy(zero_copy_only=False)

    def check_finite(
        self, name: str, *, low: float | None = None, high: float | None = None
    ) -> None:
        if not self.has(name):
            return
        values = pc.fill_null(self.table.column(name), 0.0).to_numpy(zero_copy_only=False)
        values = np.asarray(values, dtype=float)
        row = _first(~np.isfinite(values))
        if row is not None:
            self.fail(row, name, f"must be a finite number, got {values[row]}")
        if low is not None:
            row = _first(values < low)
            if row is not None:
                self.fail(row, name, f"must be ≥ {low}, got {values[row]}")
        if high is not None:
            row = _first(values > high)
            if row is not None:
                self.fail(row, name, f"must be ≤ {high}, got {values[row]}")

    def where(self, row: int) -> str:
        """``line N`` when line numbers are known, else ``record N``."""
        if self.line_numbers is not None and row < len(self.line_numbers):
            return f"line {int(self.line_numbers[row])}"
        return f"record {row}"

    def check_unique(self, name: str) -> None:
        """Fail on the first record whose (non-null) value repeats an earlier record's."""
        encoded = pc.dictionary_encode(self.table.column(name).combine_chunks())
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        rows = np.flatnonzero(codes >= 0)
        if not rows.size:
            return
        uniq, first_pos = np.unique(codes[rows], return_index=True)
        first_row = np.full(len(encoded.dictionary), -1, dtype=np.int64)
        first_row[uniq] = rows[first_pos]
        row = _first(first_row[codes[rows]] != rows)
        if row is not None:
            bad = int(rows[row])
            value = encoded.dictionary[int(codes[bad])].as_py()
            first = int(first_row[codes[bad]])
            self.fail(bad, name, f"duplicated {name} {value!r} (first at {self.where(first)})")

    def check_required(self, kind: str) -> None:
        for group in REQUIRED[kind]:
            present = [c for c in group if self.has(c)]
            if not present:
                names = " or ".join(f"'{c}'" for c in group)
                self.fail(None, group[0], f"missing: a {kind} record needs {names}")
            missing = np.ones(self.table.num_rows, dtype=bool)
            for c in present:
                missing &= self.null_mask(c)
            row = _first(missing)
            if row is not None:
                names = " or ".join(f"'{c}'" for c in group)
                self.fail(row, group[0], f"missing value: needs {names}")

    def check_text_lengths(self) -> None:
        """No text cell (of any string or list-of-string column) longer than
        ``LIMITS.max_text_chars`` characters."""
        limit = LIMITS.max_text_chars
        for name in self.table.column_names:
            col = self.table.column(name)
            kind = col.type
            if pa.types.is_list(kind) or pa.types.is_large_list(kind):
                if not _is_text(kind.value_type):
                    continue
                flat = col.combine_chunks()
                parents = pc.list_parent_indices(flat).to_numpy(zero_copy_only=False)
                values = pc.list_flatten(flat)
            elif _is_text(kind):
                parents, values = None, col
            else:
                continue
            longest = pc.max(pc.binary_length(values)).as_py() if len(values) else None
            if longest is None or longest <= limit:
                continue  # UTF-8 bytes bound the characters: nothing can be too long
            lengths = pc.fill_null(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False)
            hit = _first(lengths > limit)
            if hit is not None:
                row = int(parents[hit]) if parents is not None else hit
                line = None
                if self.line_numbers is not None and row < len(self.line_numbers):
                    line = int(self.line_numbers[row])
                raise limit_error(
                    f"text of {int(lengths[hit])} characters, longer than {limit}",
                    "max_text_chars",
                    source=self.source,
                    line=line,
                    row=None if line else row,
                    field=name,
                )

    def check_meta_depth(self) -> None:
        """``meta`` (JSON text) nests at most ``LIMITS.max_json_depth`` deep, so that decoding
        it later (``to_records``, writers) is safe."""
        if not self.has("meta") or not _is_text(self.table.column("meta").type):
            return
        limit = LIMITS.max_json_depth
        col = self.table.column("meta")
        opens = pc.add(
            pc.fill_null(pc.count_substring(col, "{"), 0),
            pc.fill_null(pc.count_substring(col, "["), 0),
        ).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(opens > limit):
            text = col[int(row)].as_py()
            if first_too_deep(text.encode("utf-8", "surrogatepass"), limit) is not None:
                line = None
                if self.line_numbers is not None and row < len(self.line_numbers):
                    line = int(self.line_numbers[row])
                raise limit_error(
                    f"nesting deeper than {limit}",
                    "max_json_depth",
                    source=self.source,
                    line=line,
                    row=None if line else int(row),
                    field="meta",
                )

    def check_non_empty_strings(self, names: tuple[str, ...]) -> None:
        for name in names:
            if not self.has(name):
                continue
            col = self.table.column(name)
            empty = pc.fill_null(pc.equal(pc.utf8_length(col), 0), False).to_numpy(
                zero_copy_only=False
            )
            row = _first(empty)
            if row is not None:
                self.fail(row, name, "empty string")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def validate_table(
    table: pa.Table, kind: str, *, source: str | None = None, line_numbers: np.ndarray | None = None
) -> None:
    """Raise :class:`DataError` for the first impossible value in ``table`` of ``kind``."""
    if table.num_rows == 0:
        return
    check = _Checker(table, source, line_numbers)
    check.check_text_lengths()
    check.check_meta_depth()
    check.check_required(kind)
    check.check_finite("weight", low=0.0)
    check.check_finite("margin")
    if check.has("id"):
        check.check_unique("id")
    if kind == "pairwise":
        _validate_pairwise(check)
    elif kind == "ranking":
        _validate_ranking(check)
    else:
        _validate_rating(check)


def _validate_pairwise(check: _Checker) -> None:
    table = check.table
    check.check_non_empty_strings(("a", "b"))
    if check.has("winner"):
        w = table.column("winner")
        bad = pc.invert(pc.is_in(w, value_set=pa.array(WINNER_LABELS)))
        bad = pc.and_(bad, pc.is_valid(w)).to_numpy(zero_copy_only=False)
        row = _first(bad)
        if row is not None:
            check.fail(
                row, "winner", f"unknown label {w[row].as_py()!r} (expected 'a', 'b' or 'tie')"
            )
    check.check_finite("p_a", low=0.0, high=1.0)
    if check.has("winner") and check.has("p_a"):
        both = ~check.null_mask("winner") & ~check.null_mask("p_a")
        if both.any():
            w = table.column("winner").to_numpy(zero_copy_only=False)
            p = table.column("p_a").to_numpy(zero_copy_only=False)
            hard = np.select([w == "a", w == "b", w == "tie"], [1.0, 0.0, 0.5], np.nan)
            clash = both & ((hard == 1.0) & (p < 0.5) | (hard == 0.0) & (p > 0.5))
            row = _first(clash)
            if row is not None:
                check.fail(row, "p_a", f"{p[row]} contradicts winner {w[row]!r}")
    if check.has("a") and check.has("b"):
        same = pc.fill_null(pc.equal(table.column("a"), table.column("b")), False)
        row = _first(same.to_numpy(zero_copy_only=False))
        if row is not None:
            check.fail(
                row, "b", f"candidate {table.column('a')[row].as_py()!r} compared with itself"
            )
    if check.has("a_text") and check.has("b_text"):
        # a candidate is its id, else its text: two sides without ids and with the same
        # text are one candidate compared with itself (two models may well write the same text)
        no_ids = check.null_mask("a") & check.null_mask("b")
        same_text = pc.fill_null(
            pc.equal(table.column("a_text"), table.column("b_text")), False
        ).to_numpy(zero_copy_only=False)
        same = no_ids & same_text
        row = _first(same)
        if row is not None:
            # a warning, not an error: public benchmarks (LLMEval2) hold such records
            warnings.warn(
                f"{check.source or '<data>'}: {int(same.sum())} record(s) compare a response "
                f"with itself (identical 'a_text' and 'b_text', no ids; first at "
                f"{check.where(row)}); they carry no preference between two responses",
                SelfComparisonWarning,
                stacklevel=4,
            )


def _list_parents(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    arr = col.combine_chunks()
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(arr)
    return parents, values


def _validate_ranking(check: _Checker) -> None:
    table = check.table
    n = table.num_rows
    ranking = table.column("ranking")
    lengths = pc.fill_null(pc.list_value_length(ranking), 0).to_numpy(zero_copy_only=False)
    extra = np.zeros(n, dtype=np.int64)
    if check.has("unranked"):
        extra = pc.fill_null(pc.list_value_length(table.column("unranked")), 0).to_numpy(
            zero_copy_only=False
        )
    row = _first(lengths == 0)
    if row is not None:
        check.fail(row, "ranking", "empty ranking")
    row = _first(lengths + extra < 2)
    if row is not None:
        check.fail(row, "ranking", "a ranking needs at least 2 candidates")
    # candidates: ranked then unranked, all distinct and non-null
    columns = ["ranking"] + (["unranked"] if check.has("unranked") else [])
    parents_all, values_all = [], []
    for name in columns:
        parents, values = _list_parents(table.column(name))
        null = pc.is_null(values).to_numpy(zero_copy_only=False)
        row = _first(null)
        if row is not None:
            check.fail(int(parents[row]), name, "null candidate in list")
        parents_all.append(parents)
        values_all.append(values.cast(pa.string()))
    parents = np.concatenate(parents_all)
    values = pa.concat_arrays(values_all)
    codes = pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key = parents * (int(codes.max()) + 1 if codes.size else 1) + codes
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(np.diff(key[order]) == 0)
    if dup.size:
        pos = order[dup[0] + 1]
        row = int(parents[pos])
        check.fail(row, "ranking", f"repeats candidate {values[int(pos)].as_py()!r}")
    if check.has("ranks"):
        ranks = table.column("ranks")
        has_ranks = ~check.null_mask("ranks")
        rlen = pc.fill_null(pc.list_value_length(ranks), 0).to_numpy(zero_copy_only=False)
        row = _first(has_ranks & (rlen != lengths))
        if row is not None:
            check.fail(row, "ranks", f"has {rlen[row]} entries for {lengths[row]} candidates")
        rparents, rvalues = _list_parents(ranks)
        rv = pc.fill_null(rvalues, 0).to_numpy(zero_copy_only=False)
        row = _first(rv < 1)
        if row is not None:
            check.fail(int(rparents[row]), "ranks", "ranks start at 1 (1 = best)")
        if rv.size > 1:
            same_parent = rparents[1:] == rparents[:-1]
            row = _first(same_parent & (rv[1:] < rv[:-1]))
            if row is not None:
                check.fail(
                    int(rparents[row + 1]), "ranks", "ranks must not decrease along 'ranking'"
                )
    if check.has("texts"):
        tlen = pc.list_value_length(table.column("texts")).to_numpy(zero_copy_only=False)
        has_texts = ~check.null_mask("texts")
        tlen = np.where(has_texts, np.nan_to_num(tlen.astype(float)), lengths)
        row = _first(tlen != lengths)
        if row is not None:
            check.fail(row, "texts", f"has {int(tlen[row])} texts for {lengths[row]} candidates")


def _validate_rating(check: _Checker) -> None:
    scores = check.table.column("scores").combine_chunks()
    as_list = pa.ListArray.from_arrays(scores.offsets, scores.items, mask=scores.is_null())
    sizes = pc.fill_null(pc.list_value_length(as_list), 0).to_numpy(zero_copy_only=False)
    row = _first(sizes == 0)
    if row is not None:
        check.fail(row, "scores", "no scores")
    parents = pc.list_parent_indices(as_list).to_numpy(zero_copy_only=False)
    values = pc.fill_null(scores.items, np.nan).to_numpy(zero_copy_only=False)
    row = _first(~np.isfinite(values.astype(float)))
    if row is not None:
        check.fail(int(parents[row]), "scores", f"score must be a finite number, got {values[row]}")
