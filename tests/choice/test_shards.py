"""Sharded counting: the merged table of many shard files equals one count of all battles, and
so does the Bradley–Terry fit (exactly, not approximately)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefkit.choice import BradleyTerry
from prefkit.choice.shards import count_files, merge_counts
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError


def _battles(seed: int, n: int, items: list[str]) -> pa.Table:
    rng = np.random.default_rng(seed)
    strength = np.linspace(-1.5, 1.5, len(items))
    a = rng.integers(0, len(items), n)
    b = (a + rng.integers(1, len(items), n)) % len(items)
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    u = rng.random(n)
    winner = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "a", "b"))
    names = np.array(items)
    return pa.table({"a": names[a], "b": names[b], "winner": winner})


def _write_shards(tmp_path: Path) -> tuple[list[Path], pa.Table]:
    items = [f"m{k}" for k in range(8)]
    # shards see different item subsets (shard 2 lacks m0..m2) and different sizes and formats
    parts = [_battles(0, 3000, items), _battles(1, 1000, items), _battles(2, 500, items[3:])]
    paths = []
    for k, part in enumerate(parts):
        path = tmp_path / f"shard{k}.parquet"
        pq.write_table(part, path)
        paths.append(path)
    jsonl = tmp_path / "shard3.jsonl"
    extra = _battles(3, 700, items)
    jsonl.write_text("".join(
        f'{{"a": "{r["a"]}", "b": "{r["b"]}", "winner": "{r["winner"]}"}}\n'
        for r in extra.to_pylist()))
    paths.append(jsonl)
    return paths, pa.concat_tables([*parts, extra])


@pytest.mark.parametrize("workers", [1, 2])
def test_merged_shards_equal_one_count_and_one_fit(tmp_path: Path, workers: int) -> None:
    paths, everything = _write_shards(tmp_path)
    merged = count_files(paths, workers=workers)
    whole = BradleyTerry().counts(PreferenceDataset(everything, "pairwise"))
    assert merged.items == whole.items
    wins_m, ties_m = merged.matrix()
    wins_w, ties_w = whole.matrix()
    np.testing.assert_array_equal(wins_m, wins_w)
    np.testing.assert_array_equal(ties_m, ties_w)
    fit_m = BradleyTerry().fit_counts(merged).ratings_
    fit_w = BradleyTerry().fit(PreferenceDataset(everything, "pairwise")).ratings_
    np.testing.assert_allclose(fit_m, fit_w, rtol=0, atol=1e-10)


def test_merge_reorients_rows_whose_item_order_flips() -> None:
    from prefkit.choice.counts import PairCounts

    # shard 1 knows only (z, y): locally z=0 < y=1, globally y < z, so its wins must swap
    one = PairCounts(["z", "y"], np.array([0]), np.array([1]), np.array([5.0]), np.array([2.0]),
                     np.array([1.0]))
    two = PairCounts(["y", "z"], np.array([0]), np.array([1]), np.array([1.0]), np.array([3.0]),
                     np.array([0.0]))
    merged = merge_counts([one, two])
    assert merged.items == ["y", "z"]
    assert (merged.wi[0], merged.wj[0], merged.t[0]) == (3.0, 8.0, 1.0)  # y: 2+1 wins, z: 5+3


def test_bad_shard_is_named(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"a": "x", "b": "y", "winner": "a"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": "x", "b": "y", "winner": "maybe"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl"):
        count_files([good, bad], workers=2)
    with pytest.raises(DataError, match="unknown engine"):
        count_files([good], engine="spark")



def test_tables_merged_as_they_arrive_equal_one_merge(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver merges every few tables (bounded memory for thousands of shards): the same
    table as one merge of all of them."""
    import prefkit.choice.shards as shards

    paths, everything = _write_shards(tmp_path)
    monkeypatch.setattr(shards, "MERGE_EVERY", 2)
    merged = count_files(paths * 3, workers=1)  # 12 shards, merged two at a time
    whole = BradleyTerry().counts(PreferenceDataset(pa.concat_tables([everything] * 3),
                                                    "pairwise"))
    assert merged.items == whole.items
    for got, want in zip(merged.matrix(), whole.matrix(), strict=True):
        np.testing.assert_array_equal(got, want)
