"""Integer ids read as text on request (``read(..., ids_as_text=True)``, ``--ids-as-text``).

A file whose ids are integers, read with the option, gives exactly the dataset (and the
leaderboard) of the same file with those ids written as text; without it, the one-line error names
the option; floats, booleans and nested values stay errors; the fast battle-log reader agrees with
the general one.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefkit.cli import app
from prefkit.data import PreferenceDataset, read
from prefkit.data.battles import read_battle_codes
from prefkit.data.ids import HINT
from prefkit.errors import DataError

runner = CliRunner()
#: model numbers of several widths: the text order ("10" < "2") differs from the number order
MODELS = [2, 10, 7, 100, 33, 1]


def _battles(n: int = 400, seed: int = 0) -> list[dict[str, Any]]:
    """Pairwise records with integer ids (a, b, user_id, annotator_id, a prompt_id covariate)."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(1.0, -1.0, len(MODELS))
    out = []
    for k in range(n):
        i, j = rng.choice(len(MODELS), 2, replace=False)
        p = 1 / (1 + np.exp(strength[j] - strength[i]))
        u = rng.random()
        winner = "tie" if u > 0.92 else ("a" if u < 0.92 * p else "b")
        out.append({"a": MODELS[i], "b": MODELS[j], "winner": winner,
                    "user_id": int(rng.integers(1, 6)), "annotator_id": 9, "prompt_id": k % 17})
    return out


def _as_text(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same records with every integer written as text (what a string-id log holds)."""
    def text(name: str, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) for v in value]
        return str(value) if isinstance(value, int) and name != "scores" else value
    return [{k: text(k, v) for k, v in rec.items()} for rec in records]


def _arena(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = {"a": "model_a", "b": "model_b", "tie": "tie"}
    return [{"model_a": r["a"], "model_b": r["b"], "winner": labels[r["winner"]]}
            for r in records]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    name = path.name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(records), path, row_group_size=150)
    elif name.endswith(".json"):
        path.write_text(json.dumps(records, indent=1))
    elif name.endswith((".csv", ".tsv")):
        sep = "\t" if name.endswith(".tsv") else ","
        keys = list(records[0])
        path.write_text(sep.join(keys) + "\n" + "".join(
            sep.join(str(r[k]) for k in keys) + "\n" for r in records))
    else:
        opener: Any = gzip.open if name.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    return path


def _pairs(tmp_path: Path, name: str, records: list[dict[str, Any]]) -> tuple[Path, Path]:
    """(integer-id file, string-id file) of the same records."""
    (tmp_path / "int").mkdir(exist_ok=True)
    (tmp_path / "str").mkdir(exist_ok=True)
    return (_write(tmp_path / "int" / name, records),
            _write(tmp_path / "str" / name, _as_text(records)))


def _assert_same(ds: PreferenceDataset, reference: PreferenceDataset) -> None:
    assert ds.kind == reference.kind
    assert ds.table.schema == reference.table.schema
    assert ds.table.equals(reference.table), (ds.table.slice(0, 2), reference.table.slice(0, 2))


FORMATS = {
    "jsonl": ("b.jsonl", _battles),
    "jsonl.gz": ("b.jsonl.gz", _battles),
    "json": ("b.json", _battles),
    "csv": ("b.csv", lambda: [{k: v for k, v in r.items() if k != "prompt_id"}
                              for r in _battles()]),  # CSV cells are text: nothing to convert
    "tsv": ("b.tsv", lambda: [{k: v for k, v in r.items() if k != "prompt_id"}
                              for r in _battles()]),
    "parquet": ("b.parquet", _battles),
    "arena-jsonl": ("arena.jsonl", lambda: _arena(_battles())),
    "arena-parquet": ("arena.parquet", lambda: _arena(_battles())),  # read as JSON lines
    "ranking": ("r.jsonl", lambda: [{"ranking": [2, 10, 1], "user_id": 3},
                                    {"ranking": [10], "unranked": [2, 1]}]),
    "rating": ("s.jsonl", lambda: [{"item": 7, "scores": {"x": 1}},
                                   {"item": 10, "scores": {"x": 2}}]),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_integer_ids_read_as_text_equal_the_string_id_file(tmp_path: Path, fmt: str) -> None:
    name, make = FORMATS[fmt]
    int_file, str_file = _pairs(tmp_path, name, make())
    reference = read(str_file)
    _assert_same(read(int_file, ids_as_text=True), reference)
    _assert_same(read(str_file, ids_as_text=True), reference)  # text ids: nothing changes
    if not fmt.endswith(("csv", "tsv")):  # (a CSV cell is text either way)
        with pytest.raises(DataError) as err:
            read(int_file)
        message = str(err.value)
        assert message.endswith(HINT) and "\n" not in message, message
        assert message.startswith(f"{int_file}:") and "field '" in message, message


@pytest.mark.parametrize("name", ["b.jsonl", "b.parquet", "arena.parquet", "arena.jsonl"])
def test_the_fast_battle_path_agrees_with_the_general_reader(tmp_path: Path, name: str) -> None:
    records = [{k: r[k] for k in ("a", "b", "winner")} for r in _battles()]
    records = _arena(records) if name.startswith("arena") else records
    int_file, str_file = _pairs(tmp_path, name, records)
    assert read_battle_codes(int_file) is None  # without the option: the general reader's error
    codes = read_battle_codes(int_file, ids_as_text=True)
    assert codes is not None
    items, ia, ib = read(int_file, ids_as_text=True).item_codes()
    assert codes.items == items == sorted(str(m) for m in MODELS)
    np.testing.assert_array_equal(codes.ia, ia)
    np.testing.assert_array_equal(codes.ib, ib)
    np.testing.assert_array_equal(codes.outcome, read(str_file).outcome_codes())
    text_codes = read_battle_codes(str_file)
    np.testing.assert_array_equal(codes.ia, text_codes.ia)


def test_a_mix_of_text_and_integer_ids(tmp_path: Path) -> None:
    """A log that switches from text to integer ids: the fast path declines, the general reader
    reads it with the option and names the line without it."""
    records = [{"a": "x", "b": 3, "winner": "a"}, {"a": 3, "b": "x", "winner": "b"}]
    path = _write(tmp_path / "mix.jsonl", records)
    assert read_battle_codes(path, ids_as_text=True) is None
    assert read(path, ids_as_text=True).items() == ["3", "x"]
    with pytest.raises(DataError, match=r"mix\.jsonl:1: field 'b': .*pass --ids-as-text"):
        read(path)
    arena = _write(tmp_path / "mix_arena.jsonl", _arena(records))
    assert read(arena, ids_as_text=True).items() == ["3", "x"]
    with pytest.raises(DataError, match=r"mix_arena\.jsonl:1: field 'model_b': .*ids-as-text"):
        read(arena)


PAIR = {"a": "y", "b": "x", "winner": "b"}
REFUSED = {  # (first line, second line, what the error on line 2 says with the option)
    "float": (PAIR, {**PAIR, "a": 3.0},
              "field 'a': expected string, got float 3.0; --ids-as-text reads integer ids only"),
    "bool": (PAIR, {**PAIR, "a": True}, "field 'a': expected string, got bool true$"),
    "list": (PAIR, {**PAIR, "a": [3]}, "field 'a': expected string, got list"),
    "object": (PAIR, {**PAIR, "a": {"id": 3}}, "field 'a': expected string, got dict"),
    "float user": (PAIR, {**PAIR, "user_id": 4.0}, "field 'user_id': expected string, got float"),
    "float in ranking": ({"ranking": ["x"]}, {"ranking": [1, 2.5]},
                         "field 'ranking': expected string list"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_floats_booleans_and_nested_ids_stay_errors(tmp_path: Path, case: str) -> None:
    first, second, message = REFUSED[case]
    path = _write(tmp_path / "bad.jsonl", [first, second])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: " + message):
        read(path, ids_as_text=True)
    with pytest.raises(DataError, match=r"bad\.jsonl:2: ") as err:
        read(path)
    assert "ids-as-text" not in str(err.value)  # the option would not help: not offered


@pytest.mark.parametrize("arrow_type", [pa.float64(), pa.bool_()])
def test_float_and_boolean_parquet_columns_stay_errors(tmp_path: Path, arrow_type: Any) -> None:
    values = [1.0, 2.0] if arrow_type == pa.float64() else [True, False]
    for columns in ({"a": values, "b": ["x", "y"], "winner": ["a", "b"]},
                    {"model_a": values, "model_b": ["x", "y"], "winner": ["model_a", "tie"]}):
        path = tmp_path / "f.parquet"
        pq.write_table(pa.table(columns, schema=pa.schema(
            [(k, arrow_type if k in ("a", "model_a") else pa.string()) for k in columns])), path)
        assert read_battle_codes(path, ids_as_text=True) is None
        with pytest.raises(DataError, match=r"f\.parquet: record 0: field '(model_)?a': expected"):
            read(path, ids_as_text=True)


def _board(args: list[str]) -> dict[str, float]:
    result = runner.invoke(app, ["leaderboard", *args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    rows = json.loads(result.stdout)["items"]
    return {row["name"]: row["rating"] for row in rows}


@pytest.mark.parametrize("name", ["b.jsonl", "b.json", "b.parquet", "arena.parquet"])
def test_cli_leaderboard_with_the_flag_equals_the_string_id_board(tmp_path: Path,
                                                                  name: str) -> None:
    records = _arena(_battles()) if name.startswith("arena") else _battles()
    int_file, str_file = _pairs(tmp_path, name, records)
    board = _board([str(int_file), "--ids-as-text"])
    assert board == _board([str(str_file)])
    assert sorted(board) == sorted(str(m) for m in MODELS)
    result = runner.invoke(app, ["leaderboard", str(int_file)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {int_file}"), lines
    assert lines[0].endswith("pass --ids-as-text to read integer ids as text"), lines


def test_cli_leaderboard_of_several_files_counts_integer_ids(tmp_path: Path) -> None:
    """Several shards (counted in worker processes) with the flag: the board of one file."""
    records = [{k: r[k] for k in ("a", "b", "winner")} for r in _battles()]
    shards = [_write(tmp_path / f"s{k}.parquet", records[k::2]) for k in range(2)]
    whole, _ = _pairs(tmp_path, "whole.parquet", records)
    board = _board([str(s) for s in shards] + ["--ids-as-text", "--workers", "2"])
    expected = _board([str(whole), "--ids-as-text"])
    assert board.keys() == expected.keys()
    assert np.allclose([board[k] for k in expected], list(expected.values()), atol=1e-6)


@pytest.mark.parametrize("command", [["data", "validate"], ["data", "describe", "--json"]])
def test_every_data_command_takes_the_flag(tmp_path: Path, command: list[str]) -> None:
    int_file, _ = _pairs(tmp_path, "b.jsonl", _battles(50))
    assert runner.invoke(app, [*command, str(int_file), "--ids-as-text"]).exit_code == 0
    result = runner.invoke(app, [*command, str(int_file)])
    assert result.exit_code == 2 and "pass --ids-as-text" in result.stderr
    # the flag holds for one command only
    assert runner.invoke(app, [*command, str(int_file)]).exit_code == 2


def test_python_constructors_stay_strict() -> None:
    """The Python constructors stay strict; their error names the option too."""
    with pytest.raises(DataError, match="field 'a': expected string, got int 17; pass --ids"):
        PreferenceDataset.from_records([{"a": 17, "b": "x", "winner": "a"}])
