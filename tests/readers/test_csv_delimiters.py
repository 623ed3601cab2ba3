"""CSV dialects users bring: semicolon-separated (European spreadsheets), tab, BOM, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from prefkit import read
from prefkit.data.io import csv_delimiter

ROWS = [("x", "y", "model_a"), ("y", "z", "model_b"), ("x", "z", "tie")]


def _write(path: Path, sep: str, *, bom: bool = False) -> Path:
    text = "\n".join(sep.join(r) for r in [("model_a", "model_b", "winner"), *ROWS]) + "\n"
    data = ("\ufeff" if bom else "") + text
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data.encode()))
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "sep", "bom"), [
    ("battles.csv", ";", False), ("battles.csv", ";", True), ("battles.tsv", "\t", False),
    ("battles.csv.gz", ";", False), ("battles.csv", ",", True),
])
def test_every_dialect_reads_the_same_battles(tmp_path: Path, name: str, sep: str,
                                               bom: bool) -> None:
    ds = read(_write(tmp_path / name, sep, bom=bom))
    assert ds.kind == "pairwise" and len(ds) == 3
    assert list(ds.column("a")) == ["x", "y", "x"]
    assert list(ds.outcomes()[:2]) == [1.0, 0.0] and ds.is_tie().tolist() == [False, False, True]


def test_canonical_csv_with_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('a;b;winner;prompt\nx;y;a;"hello; world"\ny;z;b;q\n')
    ds = read(path)
    assert list(ds.column("prompt")) == ["hello; world", "q"]
    assert list(ds.column("b")) == ["y", "z"]


def test_delimiter_guess() -> None:
    assert csv_delimiter("a,b,c") == ","
    assert csv_delimiter("a;b;c") == ";"
    assert csv_delimiter("a;b,c") == ","  # a tie keeps the comma
    assert csv_delimiter("a\tb;c;d") == "\t"
    assert csv_delimiter("a,b", "x.tsv.gz") == "\t"
