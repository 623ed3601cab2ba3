from __future__ import annotations

import gzip
import json
import os
import random
import zipfile

import numpy as np
import pytest
import zstandard

from prefkit import read
from prefkit.data.io import atomic_path, check_input_file
from prefkit.data.json_guard import DepthScanner, JsonLinesGuard, first_too_deep
from prefkit.errors import DataError

LINES = '{"a": "x", "b": "y", "winner": "a"}\n{"a": "y", "b": "x", "winner": "tie"}\n'


@pytest.mark.parametrize("suffix", ["", ".gz", ".zip", ".zst", ".bz2", ".xz"])
def test_compressed_files_read_transparently(tmp_path, suffix):
    path = tmp_path / f"pairs.jsonl{suffix}"
    data = LINES.encode()
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("pairs.jsonl", data)
    elif suffix == ".zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    elif suffix == ".bz2":
        import bz2

        path.write_bytes(bz2.compress(data))
    elif suffix == ".xz":
        import lzma

        path.write_bytes(lzma.compress(data))
    else:
        path.write_bytes(data)
    ds = read(path)
    assert ds.metadata["format"] == "jsonl"
    assert [r["winner"] for r in ds.to_records()] == ["a", "tie"]


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_line_reported_with_line_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(LINES + "\n" + '{"a": "x", "b": "y", "winner": 3}\n')
    with pytest.raises(DataError) as info:
        read(path, format="jsonl")
    assert info.value.line == 4 and info.value.field == "winner"


def test_validation_error_after_fast_path_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(LINES + "\n\n" + '{"a": "x", "b": "y", "winner": "c"}\n')
    with pytest.raises(DataError) as info:
        read(path)
    assert str(info.value).endswith(
        ":5: field 'winner': unknown label 'c' (expected 'a', 'b' or 'tie')"
    )


# ------------------------------------------------------------------ hostile inputs (issue 12)
RECORDS = "".join(
    json.dumps({"a": "x", "b": "y", "winner": "a", "id": str(i)}) + "\n" for i in range(3000)
).encode()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"write_checksum": True},
        {"write_content_size": False},
        {"write_checksum": True, "write_content_size": False, "level": 19},
    ],
)
def test_zstd_frames_complete_multi_frame_and_skippable_accepted(tmp_path, options):
    compressor = zstandard.ZstdCompressor(**options)
    skippable = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    half = len(RECORDS) // 2
    data = compressor.compress(RECORDS[:half]) + skippable + compressor.compress(RECORDS[half:])
    path = tmp_path / "pairs.jsonl.zst"
    path.write_bytes(data)
    assert len(read(path)) == 3000
    # cut anywhere inside the last frame: refused, never read as a shorter file
    for cut in (len(data) - 1, len(data) - 5, len(data) - len(data) // 4):
        path.write_bytes(data[:cut])
        with pytest.raises(DataError, match=r"truncated zstd file \(incomplete frame\)"):
            read(path)


def test_zstd_frame_walk_rejects_garbage(tmp_path):
    path = tmp_path / "pairs.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(RECORDS) + b"junk")
    with pytest.raises(DataError, match="not a zstd file"):
        read(path)


def test_fifo_and_symlink_loop_fail_fast(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.jsonl"
    os.symlink(loop.name, loop)
    for path, words in ((fifo, "not a regular file but a FIFO"), (loop, "symbolic link loop")):
        for fmt in ("auto", "jsonl", "csv", "arena"):
            with pytest.raises(DataError, match=words):
                read(path, format=fmt)
        with pytest.raises(DataError, match=words):
            check_input_file(path)


def _reference_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    return 0


def test_depth_scanner_matches_the_parsed_depth_fed_in_any_pieces():
    """Random JSON whose strings are full of brackets, quotes and backslashes: the vectorised
    scan finds exactly the parsed depth, wherever the text is cut into pieces."""
    rng = random.Random(0)
    alphabet = '{}[]"\\ax'

    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    def value(level):
        r = rng.random()
        if level > 7 or r < 0.3:
            return text()
        if r < 0.65:
            return [value(level + 1) for _ in range(rng.randint(0, 3))]
        return {text(): value(level + 1) for _ in range(rng.randint(0, 3))}

    for _ in range(500):
        v = value(0)
        data = json.dumps(v).encode()
        depth = _reference_depth(v)
        assert first_too_deep(data, depth) is None
        if depth:
            assert first_too_deep(data, depth - 1) is not None
            scanner = DepthScanner(depth - 1)
            cuts = sorted(rng.sample(range(len(data) + 1), 3))
            bounds = zip([0, *cuts], [*cuts, len(data)], strict=True)
            hits = [scanner.feed(data[a:b]) for a, b in bounds]
            assert any(h is not None for h in hits)


def test_lines_guard_names_the_line_across_pieces():
    deep = b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}\n"
    data = b'{"a": 1}\n' * 5 + deep + b'{"a": 1}\n'
    guard = JsonLinesGuard("x.jsonl")
    with pytest.raises(DataError, match=r"x.jsonl:6: nesting deeper than 64"):
        for start in range(0, len(data), 7):
            guard.feed(data[start : start + 7])
        guard.close()


def _exact_verdict(data: bytes, limit: int) -> int | None:
    """Line of the first too-deep bracket by one exact scan of the whole text, or None."""
    hit = DepthScanner(limit).feed(data)
    return None if hit is None else data.count(b"\n", 0, hit) + 1


def test_lines_guard_cheap_bound_agrees_with_the_exact_scan():
    """JSON lines with brackets inside strings, values spread over several lines and a few deep
    records, fed in random pieces: the guard (cheap bound, exact scan only where the bound
    exceeds the limit) fails on exactly the line a full exact scan names, or passes with it."""
    from prefkit.data.json_guard import line_depth_bounds

    rng = random.Random(1)
    alphabet = '{}[]"\\ax'

    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))

    def value(level):
        r = rng.random()
        if level >= 4 or r < 0.3:
            return text()
        if r < 0.65:
            return [value(level + 1) for _ in range(rng.randint(1, 2))]
        return {text(): value(level + 1) for _ in range(rng.randint(1, 2))}

    def chain(depth):  # a value nested ``depth`` deep, brackets in its keys and texts
        v = value(4)
        for _ in range(depth - 1):
            v = [text(), v] if rng.random() < 0.5 else {text(): v}
        return v

    limit = 64  # LIMITS.max_json_depth
    for trial in range(40):
        lines = []
        for _ in range(rng.randint(20, 80)):
            deep = rng.random() < 0.03
            v = chain(rng.choice([40, 64, 65, 70])) if deep else value(0)
            lines.append(json.dumps(v, indent=1 if rng.random() < 0.1 else None))
        data = ("\n".join(lines) + ("\n" if trial % 2 else "")).encode()
        expected = _exact_verdict(data, limit)
        for v, line in zip(lines, (line.encode() + b"\n" for line in lines), strict=True):
            if "\n" not in v:  # one value per line: the bound is at least its depth
                peak, _ = line_depth_bounds(np.frombuffer(line, dtype=np.uint8), 0)
                assert peak.max() >= _reference_depth(json.loads(v))
        guard = JsonLinesGuard("x.jsonl")
        cuts = sorted(rng.sample(range(len(data)), 5))
        try:
            for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
                guard.feed(data[a:b])
            guard.close()
            got = None
        except DataError as err:
            got = err.line
        assert got == expected, (trial, got, expected)


def test_lines_guard_returns_to_the_cheap_bound_after_nested_lines():
    nested = b'{"a": [{"b": "}"}, {"c": ["]", {"d": 1}]}], "e": "x"}\n' * 200  # drifts upwards
    flat = b'{"a": "x", "b": "y", "winner": "a"}\n' * 200
    guard = JsonLinesGuard("x.jsonl")
    guard.feed(nested + flat)
    assert guard.scanner is None and guard.bound <= 1 and not guard.retained
    guard.close()
