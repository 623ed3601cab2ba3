"""``prefkit leaderboard`` over many files (issue #18 item 3): several files, a directory or a glob
give exactly the leaderboard of one concatenated file, counted in this process or in workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefkit.cli import app

runner = CliRunner()


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


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A directory of shards (Parquet and JSON lines, different item subsets) and the single
    file holding all their battles."""
    root = tmp_path_factory.mktemp("shards")
    items = [f"m{k}" for k in range(7)]
    parts = [_battles(0, 2000, items), _battles(1, 600, items[2:]), _battles(2, 900, items)]
    directory = root / "logs"
    directory.mkdir()
    pq.write_table(parts[0], directory / "day1.parquet")
    pq.write_table(parts[1], directory / "day2.parquet")
    with open(directory / "day3.jsonl", "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in parts[2].to_pylist())
    (directory / "notes.txt").write_text("not a battle file\n")
    whole = root / "all.jsonl"
    with open(whole, "w") as fh:
        for part in parts:
            fh.writelines(json.dumps(r) + "\n" for r in part.to_pylist())
    return directory, whole


def _board(args: list[str]) -> dict:
    result = runner.invoke(app, ["leaderboard", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("options", [[], ["--ties", "model"], ["--model", "thurstone"]],
                         ids=["bt", "davidson", "thurstone"])
def test_directory_equals_one_concatenated_file(shards: tuple[Path, Path],
                                                options: list[str]) -> None:
    directory, whole = shards
    assert _board([str(directory), *options]) == _board([str(whole), *options])


def test_files_glob_and_workers_give_the_same_board(shards: tuple[Path, Path]) -> None:
    directory, whole = shards
    expected = _board([str(whole)])
    files = sorted(str(p) for p in directory.iterdir() if p.suffix != ".txt")
    assert _board(files) == expected
    assert _board([str(directory / "day*")]) == expected  # a quoted glob
    assert _board([str(directory), "--workers", "2"]) == expected


def test_order_dependent_models_read_the_records_in_file_order(shards: tuple[Path, Path]) -> None:
    directory, whole = shards
    files = sorted(str(p) for p in directory.iterdir() if p.suffix != ".txt")
    elo = ["--model", "elo", "--k", "8"]
    assert _board([*files, *elo]) == _board([str(whole), *elo])


def test_bad_inputs_are_one_line(shards: tuple[Path, Path], tmp_path: Path) -> None:
    directory, _ = shards
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": "m1", "b": "m2", "winner": "maybe"}\n')
    for args, words in (
        ([str(directory / "day1.parquet"), str(bad)], "bad.jsonl:1: field 'winner'"),
        ([str(tmp_path / "empty_dir")], "no such file"),
        ([str(tmp_path / "*.parquet")], "no file matches this pattern"),
    ):
        result = runner.invoke(app, ["leaderboard", *args])
        assert result.exit_code == 2, result.output
        assert words in result.output, result.output
    (tmp_path / "only_text").mkdir()
    (tmp_path / "only_text" / "a.txt").write_text("x\n")
    result = runner.invoke(app, ["leaderboard", str(tmp_path / "only_text")])
    assert result.exit_code == 2 and "no Parquet or JSON-lines files" in result.output


RAY_BLOCKED = textwrap.dedent(
    """
    import sys
    sys.modules["ray"] = None  # 'import ray' now raises ImportError
    sys.argv = ["prefkit", "leaderboard", *sys.argv[1:], "--engine", "ray"]
    from prefkit.cli import main
    main()
    """
)


def test_engine_ray_without_ray_names_the_extra(shards: tuple[Path, Path]) -> None:
    directory, _ = shards
    done = subprocess.run([sys.executable, "-c", RAY_BLOCKED, str(directory)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'prefkit[ray]'" in lines[0], done.stderr


def test_tables_a_directory_skips_are_named(shards: tuple[Path, Path], tmp_path: Path) -> None:
    """A CSV among the battle files is not counted, and a warning names it (notes.txt is not a
    table: no warning for it); the board is the one of the battle files alone."""
    directory, _ = shards
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for path in directory.iterdir():
        (mixed / path.name).write_bytes(path.read_bytes())
    (mixed / "extra.csv.gz").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"1 table file\(s\) .* skipped \(extra.csv.gz\)"):
        board = _board([str(mixed)])
    assert board == _board([str(directory)])
