"""The embedding cache under many small writes: bounded shards, bit-identical merges, several
processes writing at once (issue 12: the cache wrote one shard per call and rescanned them all)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np

from prefkit.encode import CachedEncoder, EmbeddingCache
from prefkit.encode.cache import text_keys


def shard_files(cache: EmbeddingCache) -> list[Path]:
    return sorted(cache.directory.glob("shard-*.keys.npy"))


def vector_of(key: bytes, dim: int = 5) -> np.ndarray:
    """A vector fixed by the key, with values whose bits a lossy copy would change."""
    raw = np.frombuffer(hashlib.sha256(key.ljust(20, b"\0")).digest()[: 4 * dim], np.uint32)
    raw = raw & 0xBFFFFFFF
    return raw.view(np.float32)  # exponent bit 30 cleared: finite, any sign, mantissa, subnormal


class KeyEncoder:
    """Encodes a text as :func:`vector_of` its cache key; counts what it was asked."""

    id = "key-encoder-v1"
    dim = 5

    def __init__(self) -> None:
        self.seen = 0

    def encode(self, texts):
        self.seen += len(texts)
        return np.stack([vector_of(k) for k in text_keys(texts).tolist()])


def test_many_small_calls_keep_shards_bounded_and_lookups_correct(tmp_path):
    enc = CachedEncoder(KeyEncoder(), tmp_path)
    texts = [f"text {i}" for i in range(600)]
    for start in range(0, len(texts), 2):  # 300 calls of 2 new texts
        enc.encode(texts[start : start + 2])
    enc.cache.wait()  # merged-away shards are deleted in a background thread
    # 2-row shards: levels 0 (< 16 rows), 1 (< 256), 2; at most fanout - 1 = 15 shards on each
    assert len(shard_files(enc.cache)) <= 3 * 15  # before the fix: 300
    assert enc.cache.shard_count == len(shard_files(enc.cache))
    again = KeyEncoder()
    fresh = CachedEncoder(again, tmp_path)
    got = fresh.encode(texts[::-1])
    assert again.seen == 0 and len(fresh.cache) == 600
    expected = np.stack([vector_of(k) for k in text_keys(texts[::-1]).tolist()])
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(enc.encode(texts).view(np.uint32),
                                  expected[::-1].view(np.uint32))


def test_compaction_keeps_every_vector_bit_identical(tmp_path):
    rng = np.random.default_rng(0)
    writer = EmbeddingCache("m", tmp_path, fanout=4)
    early_reader = None
    expected: dict[bytes, np.ndarray] = {}
    for call in range(60):
        keys = np.array([rng.bytes(20) for _ in range(3)], dtype="S20")
        bits = rng.integers(0, 2**32, size=(3, 6), dtype=np.uint32)
        bits[bits >> 23 & 0xFF == 0xFF] &= 0x807FFFFF  # no NaN / inf
        vecs = bits.view(np.float32)
        vecs[0, 0] = -0.0
        writer.add(keys, vecs)
        expected.update(zip(keys.tolist(), vecs, strict=True))
        if call == 10:
            early_reader = EmbeddingCache("m", tmp_path, fanout=0)  # indexed shards now merged
    writer.wait()
    assert len(shard_files(writer)) < 10  # 60 shards written, merged on 4 levels at most
    all_keys = np.array(list(expected), dtype="S20")
    want = np.stack(list(expected.values())).view(np.uint32)
    for cache in (writer, EmbeddingCache("m", tmp_path), early_reader):
        found, _ = cache.lookup(all_keys)  # the early reader picks up the merged shards here
        assert found.all()
        np.testing.assert_array_equal(cache.get(all_keys).view(np.uint32), want)
    assert early_reader.shard_count == len(shard_files(writer))
    assert not early_reader._stale  # merged-away shards released, not kept in memory
    assert not list(writer.directory.glob("*.bad"))


def test_a_cache_of_many_old_small_shards_is_merged_on_open(tmp_path):
    old = EmbeddingCache("m", tmp_path, fanout=0)  # writes like prefkit 0.1: a shard per call
    keys = np.array([bytes([i]) * 20 for i in range(100)], dtype="S20")
    vecs = np.arange(200, dtype=np.float32).reshape(100, 2)
    for i in range(100):
        old.add(keys[i : i + 1], vecs[i : i + 1])
    assert len(shard_files(old)) == 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache = EmbeddingCache("m", tmp_path)
    cache.wait()
    assert len(shard_files(cache)) < 16
    np.testing.assert_array_equal(EmbeddingCache("m", tmp_path).get(keys[::-1]), vecs[::-1])
    np.testing.assert_array_equal(old.get(keys), vecs)  # the old handle still reads everything


WRITER = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    from prefkit.encode import EmbeddingCache

    def vec(k):  # k as numpy gives it back: trailing NUL bytes dropped
        bits = np.frombuffer(hashlib.sha256(k.ljust(20, b"\\0")).digest()[:16], "<u4")
        return (bits & 0xBFFFFFFF).view("<f4")

    root, me, other, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    key = lambda tag, i, j: hashlib.sha1(f"{tag}-{i}-{j}".encode()).digest()
    cache = EmbeddingCache("shared", root, fanout=4)
    rng = np.random.default_rng(int(me == "a"))
    for i in range(calls):
        keys = np.array([key(me, i, j) for j in range(3)] + [key("both", i, 0)], dtype="S20")
        cache.add(keys, np.stack([vec(k) for k in keys.tolist()]))
        if i % 5 == 0:  # read what the other process wrote so far, while it merges
            probe = np.array([key(other, int(n), 0) for n in rng.integers(0, calls, 8)],
                             dtype="S20")
            found, rows = cache.lookup(probe)
            if rows:
                got = cache.get(probe[found])
                want = np.stack([vec(k) for k in probe[found].tolist()])
                assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), "wrong vector"
    print("ok", cache.shard_count)
    """
)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    calls = 150
    procs = [
        subprocess.Popen([sys.executable, "-W", "error", "-c", WRITER, str(tmp_path), me, other,
                          str(calls)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for me, other in (("a", "b"), ("b", "a"))
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.startswith("ok"), err[-2000:]
        assert not err.strip()  # no warnings: no shard was ever seen half-written
    cache = EmbeddingCache("shared", tmp_path, fanout=4)
    cache.wait()
    keys = [
        hashlib.sha1(f"{tag}-{i}-{j}".encode()).digest()
        for tag, js in (("a", 3), ("b", 3), ("both", 1))
        for i in range(calls)
        for j in range(js)
    ]
    assert len(cache) == len(keys) == 7 * calls
    want = np.stack([(np.frombuffer(hashlib.sha256(k).digest()[:16], "<u4") & 0xBFFFFFFF)
                     for k in keys]).view("<f4")
    got = cache.get(np.array(keys, dtype="S20"))
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert len(shard_files(cache)) < 40  # 300 shards written, merged by both processes
    assert not list(cache.directory.glob("*.bad"))
