"""The fast battle-log reader (prefkit.data.battles): whenever it returns codes they equal the
general reader's ``item_codes()`` / ``outcome_codes()``; any file it cannot vouch for returns None
(then the general reader validates it and names the problem)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefkit.data import read
from prefkit.data.battles import read_battle_codes
from prefkit.errors import DataError


def _battles(seed: int, n: int, n_items: int = 9) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    names = [f"m{k}" if k % 3 else f"модель {k}" for k in range(n_items)]  # non-ASCII names too
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    winner = rng.choice(["a", "b", "tie"], n, p=[0.45, 0.45, 0.1])
    return [{"a": names[x], "b": names[y], "winner": w} for x, y, w in zip(a, b, winner,
                                                                          strict=True)]


def _jsonl(path: Path, records: list[dict], opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return path


def _parquet(path: Path, records: list[dict], *, dictionary: bool) -> Path:
    table = pa.Table.from_pylist(records)
    if dictionary:
        table = pa.table({c: table.column(c).dictionary_encode() for c in table.column_names})
    # small row groups: several chunks, each Parquet row group with its own dictionary, some
    # dictionary entries unused by a chunk (the first item appears only in the first rows)
    pq.write_table(table, path, row_group_size=700)
    return path


def _assert_same_as_general_reader(path: Path) -> None:
    codes = read_battle_codes(path)
    assert codes is not None
    dataset = read(path)
    items, ia, ib = dataset.item_codes()
    assert codes.items == items
    np.testing.assert_array_equal(codes.ia, ia)
    np.testing.assert_array_equal(codes.ib, ib)
    np.testing.assert_array_equal(codes.outcome, dataset.outcome_codes())


ARENA = {"a": "model_a", "b": "model_b", "tie": "tie"}


@pytest.mark.parametrize(
    "layout", ["parquet-dict", "parquet-plain", "jsonl", "jsonl.gz", "arena-parquet",
               "arena-jsonl"])
def test_codes_equal_the_general_readers(tmp_path: Path, layout: str) -> None:
    records = [{"a": "solo", "b": "m1", "winner": "a"}, *_battles(0, 3000)]
    if layout.startswith("arena"):  # LMArena's columns and labels, both kinds of tie
        records = [{"model_a": r["a"], "model_b": r["b"],
                    "winner": ARENA[r["winner"]] if k % 7 else "tie (bothbad)"}
                   for k, r in enumerate(records)]
        layout = layout.split("-")[1] + ("-dict" if layout.endswith("parquet") else "")
    if layout.startswith("parquet"):
        path = _parquet(tmp_path / "b.parquet", records, dictionary=layout == "parquet-dict")
    elif layout == "jsonl":
        path = _jsonl(tmp_path / "b.jsonl", records)
    else:
        path = _jsonl(tmp_path / "b.jsonl.gz", records, gzip.open)
    _assert_same_as_general_reader(path)


BAD = {
    "extra column": [{"a": "x", "b": "y", "winner": "a", "weight": 2.0}],
    "missing winner": [{"a": "x", "b": "y"}],
    "null": [{"a": "x", "b": None, "winner": "a"}],
    "empty name": [{"a": "", "b": "y", "winner": "a"}],
    "unknown label": [{"a": "x", "b": "y", "winner": "A"}],
    "self comparison": [{"a": "x", "b": "x", "winner": "tie"}],
    "number id": [{"a": 3, "b": "y", "winner": "a"}],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_anything_unusual_goes_to_the_general_reader(tmp_path: Path, case: str) -> None:
    records = [*BAD[case], {"a": "x", "b": "y", "winner": "b"}]
    path = _jsonl(tmp_path / "b.jsonl", records)
    assert read_battle_codes(path) is None
    if case != "extra column":  # the general reader says what is wrong, and where
        with pytest.raises(DataError, match=r"b\.jsonl"):
            read(path)
    if case not in ("number id", "missing winner"):
        table = pa.Table.from_pylist(records)
        pq.write_table(table, tmp_path / "b.parquet")
        assert read_battle_codes(tmp_path / "b.parquet") is None


def test_not_utf8_and_foreign_kinds_go_to_the_general_reader(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"a": "x", "b": "y", "winner": "a"}\n{"a": "\xff", "b": "y", '
                     b'"winner": "b"}\n')
    assert read_battle_codes(path) is None
    with pytest.raises(DataError, match=r"b\.jsonl:2"):
        read(path)
    table = pa.Table.from_pylist(_battles(1, 10)).replace_schema_metadata(
        {"prefkit.kind": "ranking"})
    pq.write_table(table, tmp_path / "r.parquet")
    assert read_battle_codes(tmp_path / "r.parquet") is None
    assert read_battle_codes(path, "csv") is None  # a format it does not read


def test_deep_nesting_is_refused_before_arrow_parses(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a": "x", "b": "y", "winner": "a"}\n' + '{"a": ' + "[" * 20000 + "\n")
    with pytest.raises(DataError, match=r"deep\.jsonl:2: nesting deeper than 64"):
        read_battle_codes(path)
