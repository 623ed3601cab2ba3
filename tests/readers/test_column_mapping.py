"""Column mapping (issue 12 item 14): any table → PreferenceDataset, in Python and with --map."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import prefkit
from prefkit.cli import app
from prefkit.data.readers.mapping import label_key, parse_labels, parse_mapping
from prefkit.errors import DataError

runner = CliRunner()

# A pairwise test set with a numeric label (0 = first, 1 = second, 2 = tie) and the two responses
# in fields with other names.
LABELLED = [
    {"question": "q1", "response_0": "r0", "response_1": "r1", "label": 0, "source": "s"},
    {"question": "q2", "response_0": "u0", "response_1": "u1", "label": 1, "source": "s"},
    {"question": "q3", "response_0": "v0", "response_1": "v1", "label": 2, "source": "t"},
    {"question": "q4", "response_0": "w0", "response_1": "w1", "label": 1, "source": "t"},
]
LABEL_MAP = {"0": "a", "1": "b", "2": "tie"}
TEXT_MAPPING = {
    "prompt": "question",
    "a_text": "response_0",
    "b_text": "response_1",
    "winner": "label",
}


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _matches_csv(path: Path) -> Path:
    """A small ATP-style match table made here (synthetic players)."""
    path.write_text(
        "tourney_id,tourney_date,winner_id,winner_name,loser_id,loser_name,score\n"
        "T1,20190101,101,Ann Alpha,102,Bea Beta,6-4 6-4\n"
        "T1,20190101,103,Cid Gamma,101,Ann Alpha,7-6 6-3\n"
        "T2,20190201,102,Bea Beta,103,Cid Gamma,6-1 6-2\n",
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------------------- library
def test_numeric_label_layout_through_the_mapping(tmp_path):
    path = _jsonl(tmp_path / "test.jsonl", LABELLED)
    ds = prefkit.read(path, columns=TEXT_MAPPING, labels=LABEL_MAP)
    assert ds.kind == "pairwise"
    assert ds.table.column("winner").to_pylist() == ["a", "b", "tie", "b"]
    assert ds.table.column("a_text").to_pylist() == [r["response_0"] for r in LABELLED]
    assert ds.table.column("b_text").to_pylist() == [r["response_1"] for r in LABELLED]
    assert ds.table.column("prompt").to_pylist() == ["q1", "q2", "q3", "q4"]
    # an unmapped field that clashes with a canonical one is kept under another name
    assert ds.table.column("orig_source").to_pylist() == ["s", "s", "t", "t"]
    assert ds.metadata["format"] == "mapping"


def test_csv_labels_match_as_text_and_integer_floats(tmp_path):
    path = tmp_path / "test.csv"
    path.write_text("x,y,lab\nm1,m2,1.0\nm2,m3,0\nm3,m1,2\n", encoding="utf-8")
    ds = prefkit.read(path, columns={"a": "x", "b": "y", "winner": "lab"}, labels=LABEL_MAP)
    assert ds.table.column("winner").to_pylist() == ["b", "a", "tie"]


def test_const_winner_and_names_from_a_match_table(tmp_path):
    path = _matches_csv(tmp_path / "matches.csv")
    ds = prefkit.read(path, columns={"a": "winner_name", "b": "loser_name", "winner": "const:a"})
    assert ds.table.column("a").to_pylist() == ["Ann Alpha", "Cid Gamma", "Bea Beta"]
    assert set(ds.table.column("winner").to_pylist()) == {"a"}
    assert sorted(ds.items()) == ["Ann Alpha", "Bea Beta", "Cid Gamma"]
    # every unmapped column stays as a covariate
    assert {"tourney_id", "winner_id", "loser_id", "score"} <= set(ds.table.column_names)


def test_winner_column_holding_the_winners_name(tmp_path):
    rows = [
        {"p1": "x", "p2": "y", "won": "y"},
        {"p1": "x", "p2": "z", "won": "x"},
        {"p1": "y", "p2": "z", "won": "tie"},
    ]
    path = _jsonl(tmp_path / "m.jsonl", rows)
    ds = prefkit.read(path, columns={"a": "p1", "b": "p2", "winner": "won"})
    assert ds.table.column("winner").to_pylist() == ["b", "a", "tie"]


def test_drop_label_and_dotted_paths(tmp_path):
    rows = [
        {"pair": {"first": "m1", "second": "m2"}, "verdict": "A"},
        {"pair": {"first": "m2", "second": "m3"}, "verdict": "error"},
        {"pair": {"first": "m3", "second": "m1"}, "verdict": "B"},
    ]
    path = _jsonl(tmp_path / "j.jsonl", rows)
    ds = prefkit.read(
        path,
        columns={"a": "pair.first", "b": "pair.second", "winner": "verdict"},
        labels={"A": "a", "B": "b", "error": "drop"},
    )
    assert len(ds) == 2
    assert ds.metadata["dropped"] == 1
    assert ds.table.column("a").to_pylist() == ["m1", "m3"]
    assert ds.table.column("winner").to_pylist() == ["a", "b"]


def test_mapping_reads_compressed_files(tmp_path):
    path = tmp_path / "test.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in LABELLED))
    ds = prefkit.read(path, columns=TEXT_MAPPING, labels=LABEL_MAP)
    assert len(ds) == len(LABELLED)


def test_fastchat_judgments_read_through_a_mapping(shared_data):
    path = next((shared_data / "judges").glob("*FastChat*gpt-4_pair.jsonl"))
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    ds = prefkit.read(
        path,
        columns={"a": "model_1", "b": "model_2", "winner": "g1_winner"},
        labels={"model_1": "a", "model_2": "b", "tie": "tie", "error": "drop"},
    )
    expected = [r for r in records if r["g1_winner"] != "error"]
    assert len(ds) == len(expected)
    assert ds.metadata["dropped"] == len(records) - len(expected)
    want = {"model_1": "a", "model_2": "b", "tie": "tie"}
    assert ds.table.column("winner").to_pylist() == [want[r["g1_winner"]] for r in expected]


# ---------------------------------------------------------------------------- bad mappings
@pytest.mark.parametrize(
    ("columns", "labels", "reason"),
    [
        ({"a_text": "response_0", "b_text": "nope", "winner": "label"}, LABEL_MAP, "no column"),
        ({"a_text": "response_0", "b_text": "response_1"}, None, "needs winner="),
        ({"a_text": "response_0", "b_text": "response_1", "winnr": "label"}, None, "unknown"),
        ({"a_text": "response_0", "b_text": "response_1", "winner": "label"}, None, "label"),
        (
            {"a_text": "response_0", "b_text": "response_1", "winner": "label"},
            {"0": "a", "1": "b"},
            "unknown label '2'",
        ),
        ({"a": "response_0", "ranking": "label"}, None, "several kinds"),
    ],
)
def test_bad_mapping_is_one_line(tmp_path, one_line_error, columns, labels, reason):
    path = _jsonl(tmp_path / "test.jsonl", LABELLED)
    err = one_line_error(lambda: prefkit.read(path, columns=columns, labels=labels), reason=reason)
    assert str(path) in str(err)


def test_bad_value_names_line_and_column(tmp_path, one_line_error):
    rows = [dict(LABELLED[0]), {**LABELLED[1], "label": 7}]
    path = _jsonl(tmp_path / "test.jsonl", rows)
    one_line_error(
        lambda: prefkit.read(path, columns=TEXT_MAPPING, labels=LABEL_MAP),
        line=2,
        field="label",
        reason="unknown label '7'",
    )


def test_boolean_id_is_refused(tmp_path, one_line_error):
    path = _jsonl(tmp_path / "b.jsonl", [{"x": True, "y": "m", "w": "a"}])
    one_line_error(
        lambda: prefkit.read(path, columns={"a": "x", "b": "y", "winner": "w"}),
        line=1,
        field="x",
        reason="expected an id",
    )


def test_mapping_with_a_format_is_refused(tmp_path, one_line_error):
    path = _jsonl(tmp_path / "test.jsonl", LABELLED)
    one_line_error(
        lambda: prefkit.read(path, format="arena", columns=TEXT_MAPPING, labels=LABEL_MAP),
        reason="leave out format",
    )


def test_spec_parsers():
    assert parse_mapping(["a=winner_name", "winner=const:a"]) == {
        "a": "winner_name",
        "winner": "const:a",
    }
    assert parse_labels(["0=a,1=b", "2=TIE"]) == {"0": "a", "1": "b", "2": "tie"}
    assert label_key(1.0) == "1" and label_key(2) == "2" and label_key(" x ") == "x"
    for bad in (["a"], ["=x"], ["a=x", "a=y"]):
        with pytest.raises(DataError):
            parse_mapping(bad)
    with pytest.raises(DataError):
        parse_labels(["0=first"])


# ---------------------------------------------------------------------------- CLI
def test_cli_map_round_trip(tmp_path):
    src = _jsonl(tmp_path / "test.jsonl", LABELLED)
    out = tmp_path / "canonical.jsonl"
    maps = [f"--map={k}={v}" for k, v in TEXT_MAPPING.items()]
    result = runner.invoke(
        app, ["data", "convert", str(src), str(out), *maps, "--label-map", "0=a,1=b,2=tie"]
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    back = prefkit.read(out)  # the written file is canonical: read with --format auto
    assert back.metadata["format"] == "jsonl"
    assert back.table.column("winner").to_pylist() == ["a", "b", "tie", "b"]
    assert back.table.column("a_text").to_pylist() == [r["response_0"] for r in LABELLED]
    for command in (["validate"], ["describe", "--json"]):
        result = runner.invoke(
            app, ["data", *command, str(src), *maps, "--label-map", "0=a,1=b,2=tie"]
        )
        assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith("{") and json.loads(result.stdout)["ties"] == 1


def test_cli_map_split(tmp_path):
    src = _matches_csv(tmp_path / "matches.csv")
    out = tmp_path / "parts"
    result = runner.invoke(
        app,
        [
            "data",
            "split",
            str(src),
            "--out",
            str(out),
            "--test-size",
            "0.34",
            "--map",
            "a=winner_name",
            "--map",
            "b=loser_name",
            "--map",
            "winner=const:a",
        ],
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    total = len(prefkit.read(out / "train.csv")) + len(prefkit.read(out / "test.csv"))
    assert total == 3


@pytest.mark.parametrize(
    "args",
    [
        ["--map", "a_text=response_0", "--map", "b_text=nope", "--map", "winner=label"],
        ["--map", "a_text"],
        ["--label-map", "0=a"],
        [
            "--map",
            "a_text=response_0",
            "--map",
            "b_text=response_1",
            "--map",
            "winner=label",
            "--label-map",
            "0=a,1=b",
        ],
    ],
)
def test_cli_bad_mapping_exit_2_one_error_line(tmp_path, args):
    src = _jsonl(tmp_path / "test.jsonl", LABELLED)
    result = runner.invoke(app, ["data", "validate", str(src), *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
