"""Auto-detection defects of issue 12 item 14: long first records, ATP-style match tables,
arena CSVs the sniffer used to reject; and issue 11 item 6: readers never import each other."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import prefkit
from prefkit.data.readers import sniff_format

READERS_DIR = Path(prefkit.__file__).parent / "data" / "readers"


# ---------------------------------------------------------------------------- long first record
def _long_first(path: Path, first: dict, second: dict) -> Path:
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n", encoding="utf-8")
    assert len(json.dumps(first)) > 100 * 1024
    return path


@pytest.mark.parametrize(
    ("first", "second", "fmt"),
    [
        (
            {"prompt": "p", "chosen": "c" * 102_400, "rejected": "r"},
            {"prompt": "q", "chosen": "c", "rejected": "r"},
            "trl",
        ),
        (
            {"a": "m1", "b": "m2", "winner": "a", "a_text": "x" * 102_400, "b_text": "y"},
            {"a": "m2", "b": "m1", "winner": "tie", "a_text": "u", "b_text": "v"},
            "jsonl",
        ),
        (
            {"model_a": "m1", "model_b": "m2", "winner": "model_a", "conv": "z" * 102_400},
            {"model_a": "m2", "model_b": "m1", "winner": "tie", "conv": "w"},
            "arena",
        ),
    ],
)
def test_jsonl_with_a_100_kib_first_record_is_detected(tmp_path, first, second, fmt):
    path = _long_first(tmp_path / "long.jsonl", first, second)
    assert sniff_format(path) == fmt
    ds = prefkit.read(path)
    assert len(ds) == 2 and ds.metadata["format"] == fmt


def test_json_array_with_a_long_first_element_is_detected(tmp_path):
    path = tmp_path / "long.json"
    records = [{"model_a": "m1", "model_b": "m2", "winner": "model_b", "conv": "q" * 150_000}]
    path.write_text(json.dumps(records), encoding="utf-8")
    assert sniff_format(path) == "arena"


def test_probe_growth_is_bounded_by_the_record_limit(tmp_path, monkeypatch):
    """Past PREFKIT_MAX_RECORD_BYTES the sniffer stops growing and fails confidently."""
    from prefkit.errors import FormatDetectionError

    monkeypatch.setenv("PREFKIT_MAX_RECORD_BYTES", "65536")
    path = _long_first(
        tmp_path / "long.jsonl",
        {"prompt": "p", "chosen": "c" * 102_400, "rejected": "r"},
        {"prompt": "q", "chosen": "c", "rejected": "r"},
    )
    with pytest.raises(FormatDetectionError):
        sniff_format(path)


# ---------------------------------------------------------------------------- ATP-style tables
ATP_HEADER = (
    "tourney_id,tourney_name,surface,draw_size,tourney_level,tourney_date,match_num,"
    "winner_id,winner_seed,winner_entry,winner_name,winner_hand,winner_ht,winner_ioc,winner_age,"
    "loser_id,loser_seed,loser_entry,loser_name,loser_hand,loser_ht,loser_ioc,loser_age,"
    "score,best_of,round,minutes,winner_rank,winner_rank_points,loser_rank,loser_rank_points"
)
# synthetic players and numbers, made for this test
ATP_ROWS = [
    "2031-001,Alpha Open,Hard,32,A,20310105,300,9001,1,,Ann Alpha,R,185,AAA,25.1,"
    "9002,,,Bea Beta,L,190,BBB,28.3,6-4 6-4,3,F,90,1,5000,7,2100",
    "2031-001,Alpha Open,Hard,32,A,20310105,299,9001,1,,Ann Alpha,R,185,AAA,25.1,"
    "9003,2,,Cid Gamma,R,180,CCC,22.0,7-6(3) 6-3,3,SF,101,1,5000,3,3100",
    "2031-001,Alpha Open,Hard,32,A,20310105,298,9002,,,Bea Beta,L,190,BBB,28.3,"
    "9004,,Q,Dee Delta,R,178,DDD,30.2,6-1 6-2,3,SF,64,7,2100,120,400",
]


def test_atp_style_table_reads_players_by_name_not_numeric_id(tmp_path):
    path = tmp_path / "atp_matches_2031.csv"
    path.write_text(ATP_HEADER + "\n" + "\n".join(ATP_ROWS) + "\n", encoding="utf-8")
    ds = prefkit.read(path)
    assert ds.kind == "pairwise"
    assert ds.table.column("a").to_pylist() == ["Ann Alpha", "Ann Alpha", "Bea Beta"]
    assert ds.table.column("b").to_pylist() == ["Bea Beta", "Cid Gamma", "Dee Delta"]
    assert set(ds.table.column("winner").to_pylist()) == {"a"}
    assert not any(item.isdigit() for item in ds.items())
    # the ids are kept, as covariates
    assert {"winner_id", "loser_id", "tourney_date"} <= set(ds.table.column_names)


def test_winner_loser_ids_alone_still_read(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("winner_id,loser_id\n1,2\n2,3\n", encoding="utf-8")
    ds = prefkit.read(path)
    assert ds.table.column("a").to_pylist() == ["1", "2"]


# ---------------------------------------------------------------------------- arena CSVs
ARENA_CSVS = {
    "blank_lines_before_header": "\n\nmodel_a,model_b,winner\nm1,m2,model_a\nm2,m1,tie\n",
    "capitalised_header": "Model_A,Model_B,Winner\nm1,m2,model_a\nm2,m1,tie\n",
    "pandas_index_column": ",model_a,model_b,winner\n0,m1,m2,model_a\n1,m2,m1,tie\n",
    "kaggle_one_hot": (
        "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,"
        "winner_tie\n"
        '1,m1,m2,"[""hi""]","[""hello""]","[""hey""]",1,0,0\n'
        '2,m2,m1,"[""yo""]","[""a""]","[""b""]",0,0,1\n'
    ),
}


@pytest.mark.parametrize("name", sorted(ARENA_CSVS))
def test_arena_csvs_pandas_reads_are_read(tmp_path, name):
    import pandas as pd

    path = tmp_path / f"{name}.csv"
    path.write_text(ARENA_CSVS[name], encoding="utf-8")
    assert len(pd.read_csv(path)) == 2  # what pandas reads ...
    ds = prefkit.read(path)  # ... prefkit reads with --format auto
    assert ds.metadata["format"] == "arena"
    assert ds.table.column("a").to_pylist() == ["m1", "m2"]
    assert ds.table.column("winner").to_pylist() == ["a", "tie"]


def test_kaggle_layout_texts_and_bad_one_hot(tmp_path, one_line_error):
    path = tmp_path / "train.csv"
    path.write_text(ARENA_CSVS["kaggle_one_hot"], encoding="utf-8")
    ds = prefkit.read(path)
    assert ds.table.column("a_text").to_pylist() == ['["hello"]', '["a"]']
    bad = tmp_path / "bad.csv"
    bad.write_text(ARENA_CSVS["kaggle_one_hot"].replace(",1,0,0\n", ",1,1,0\n"), encoding="utf-8")
    one_line_error(lambda: prefkit.read(bad), reason="exactly one of")


# ---------------------------------------------------------------------------- module structure
def _public_reader_modules() -> set[str]:
    return {
        p.stem
        for p in READERS_DIR.glob("*.py")
        if not p.stem.startswith("_") and p.stem != "registry"
    }


def test_no_reader_imports_another_reader():
    """Adapters share helpers through internal ``_`` modules only (issue 11 item 6); the
    registry (which dispatches to them) is no adapter."""
    public = _public_reader_modules()
    offenders = []
    for path in sorted(READERS_DIR.glob("*.py")):
        if path.stem == "registry":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                internal = parts[:3] == ["prefkit", "data", "readers"] and len(parts) == 4
                if internal and parts[3] in public:
                    offenders.append(f"{path.name} imports {parts[3]}")
    assert offenders == []
    assert {"rank_table", "trl", "sports", "hh_rlhf", "mapping"} <= public
