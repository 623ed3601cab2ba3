"""Parquet as Hugging Face datasets ship it: TRL / arena columns, not only prefkit's own."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefkit import read
from prefkit.errors import DataError, FormatDetectionError


def _conversation(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_trl_conversational_parquet_reads_like_its_json_lines(tmp_path: Path) -> None:
    rows = [
        {"prompt": q, "chosen": _conversation(q, good), "rejected": _conversation(q, bad),
         "score_chosen": 8.0, "score_rejected": 3.0}
        for q, good, bad in [("2+2?", "4", "5"), ("Capital of France?", "Paris", "Rome")]
    ]
    path = tmp_path / "train_prefs-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    ds = read(path)
    assert ds.kind == "pairwise" and len(ds) == 2
    assert ds.metadata["format"] == "parquet/trl" and ds.name == path.name
    assert list(ds.column("a_text")) == ["4", "Paris"]
    assert list(ds.column("b_text")) == ["5", "Rome"]
    assert list(ds.outcomes()) == [1.0, 1.0]


def test_arena_parquet_and_canonical_round_trip(tmp_path: Path) -> None:
    battles = tmp_path / "battles.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"model_a": "x", "model_b": "y", "winner": "model_b"},
        {"model_a": "x", "model_b": "z", "winner": "tie (bothbad)"},
    ]), battles)
    ds = read(battles)
    assert ds.metadata["format"] == "parquet/arena"
    assert list(ds.outcomes()[:1]) == [0.0] and ds.is_tie().tolist() == [False, True]
    own = tmp_path / "own.parquet"
    ds.write(str(own))
    again = read(own)
    assert again.metadata["format"] == "parquet" and again.to_records() == ds.to_records()


def test_unknown_or_broken_rows_name_the_parquet_file(tmp_path: Path) -> None:
    odd = tmp_path / "odd.parquet"
    pq.write_table(pa.Table.from_pylist([{"x": 1}]), odd)
    with pytest.raises(FormatDetectionError, match=r"odd\.parquet.*columns: x"):
        read(odd)
    broken = tmp_path / "broken.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"model_a": "x", "model_b": "y", "winner": "model_a"},
        {"model_a": "x", "model_b": "y", "winner": "sometimes"},
    ]), broken)
    with pytest.raises(DataError, match=r"broken\.parquet") as err:
        read(broken)
    assert "prefkit-parquet" not in str(err.value) and "sometimes" in str(err.value)
