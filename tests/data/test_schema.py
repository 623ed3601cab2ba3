from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prefkit import PreferenceDataset, read
from prefkit.errors import DataError

PAIRS = [
    {"a": "x", "b": "y", "winner": "a", "prompt": "p1", "user_id": "u1"},
    {"a": "y", "b": "z", "winner": "tie", "prompt": "p1", "meta": {"k": 1}},
    {"a": "z", "b": "x", "p_a": 0.25, "weight": 2.0},
]


def test_kind_inferred_and_union_of_keys_kept():
    ds = PreferenceDataset.from_records(PAIRS)
    assert ds.kind == "pairwise"
    assert {"meta", "p_a", "weight", "user_id"} <= set(ds.columns)
    assert ds.items() == ["x", "y", "z"]
    np.testing.assert_allclose(ds.outcomes(), [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(ds.is_tie(), [False, True, False])
    np.testing.assert_allclose(ds.weights(), [1.0, 1.0, 2.0])


def test_item_codes_index_sorted_items():
    ds = PreferenceDataset.from_records(PAIRS)
    items, ia, ib = ds.item_codes()
    assert [items[i] for i in ia] == ["x", "y", "z"]
    assert [items[i] for i in ib] == ["y", "z", "x"]


def test_text_only_candidates_use_texts_as_items():
    ds = PreferenceDataset.from_records(
        [{"prompt": "q", "a_text": "good answer", "b_text": "bad answer", "winner": "a"}]
    )
    assert ds.items() == ["bad answer", "good answer"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "jsonl.gz"])
def test_write_read_round_trip(tmp_path, fmt):
    ds = PreferenceDataset.from_records(PAIRS)
    path = tmp_path / f"out.{fmt}"
    ds.write(path)
    back = read(path)
    assert back.kind == "pairwise"
    assert back.to_records() == ds.to_records()


def test_ranking_and_rating_round_trip(tmp_path):
    ranking = PreferenceDataset.from_records(
        [
            {"ranking": ["a", "b", "c"], "ranks": [1, 1, 2]},
            {"ranking": ["c"], "unranked": ["a", "b"]},
        ]
    )
    rating = PreferenceDataset.from_records(
        [{"item": "r1", "scores": {"help": 4, "safe": 5.0}}, {"item": "r2", "scores": {"help": 1}}]
    )
    for ds, name in ((ranking, "r.jsonl"), (rating, "s.csv"), (rating, "s.parquet")):
        ds.write(tmp_path / name)
        assert read(tmp_path / name).to_records() == ds.to_records()


def test_pandas_arrow_and_hf_conversions():
    ds = PreferenceDataset.from_records(PAIRS)
    frame = ds.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    assert PreferenceDataset.from_pandas(frame).to_records() == ds.to_records()
    assert PreferenceDataset.from_arrow(ds.to_arrow()).to_records() == ds.to_records()
    datasets = pytest.importorskip("datasets")
    hf = ds.to_hf()
    assert isinstance(hf, datasets.Dataset) and hf.num_rows == 3
    assert PreferenceDataset.from_hf(hf).to_records() == ds.to_records()


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"a": "x", "b": "x", "winner": "a"}, "b", "compared with itself"),
        ({"a": "x", "b": "y", "winner": "c"}, "winner", "unknown label"),
        ({"a": "x", "b": "y", "p_a": 1.5}, "p_a", "≤ 1"),
        ({"a": "x", "b": "y", "p_a": 0.2, "winner": "a"}, "p_a", "contradicts"),
        ({"a": "x", "b": "y", "winner": "a", "weight": float("nan")}, "weight", "finite"),
        ({"a": "x", "b": "y", "winner": "a", "weight": -1.0}, "weight", "≥ 0"),
        ({"a": "x", "b": "y"}, "winner", "missing"),
        ({"ranking": ["a", "b", "a"]}, "ranking", "repeats candidate 'a'"),
        ({"ranking": ["a", "b"], "ranks": [1]}, "ranks", "entries"),
        ({"ranking": ["a", "b"], "ranks": [0, 1]}, "ranks", "start at 1"),
        ({"ranking": ["a", "b"], "ranks": [2, 1]}, "ranks", "must not decrease"),
        ({"ranking": ["a"]}, "ranking", "at least 2"),
        ({"item": "x", "scores": {}}, "scores", "no scores"),
        ({"item": "x", "scores": {"s": float("inf")}}, "scores", "finite"),
    ],
)
def test_validation_names_record_and_field(record, field, words):
    good = {
        "pairwise": {"a": "p", "b": "q", "winner": "a"},
        "ranking": {"ranking": ["p", "q"]},
        "rating": {"item": "p", "scores": {"s": 1.0}},
    }
    kind = "pairwise" if "a" in record else ("ranking" if "ranking" in record else "rating")
    with pytest.raises(DataError) as info:
        PreferenceDataset.from_records([good[kind], record], kind=kind)
    err = info.value
    assert err.field == field
    assert err.row == 1
    assert words in str(err)
    assert "\n" not in str(err)


def test_duplicated_ids_rejected():
    with pytest.raises(DataError, match="duplicated id 'r1'"):
        PreferenceDataset.from_records(
            [
                {"id": "r1", "a": "x", "b": "y", "winner": "a"},
                {"id": "r1", "a": "y", "b": "x", "winner": "b"},
            ]
        )


def test_wrong_column_type_is_a_data_error():
    table = pa.table({"a": ["x"], "b": ["y"], "winner": ["a"], "weight": ["heavy"]})
    with pytest.raises(DataError, match="weight"):
        PreferenceDataset(table)


def test_meta_objects_stored_as_json_text():
    ds = PreferenceDataset.from_records(PAIRS)
    meta = ds.table.column("meta").to_pylist()
    assert json.loads(meta[1]) == {"k": 1}
    assert ds.to_records()[1]["meta"] == {"k": 1}


def test_take_filter_concat():
    ds = PreferenceDataset.from_records(PAIRS)
    assert ds.take([2, 0]).to_records()[0]["a"] == "z"
    assert len(ds.filter(ds.is_tie())) == 1
    both = PreferenceDataset.concat([ds, ds.take([0])])
    assert len(both) == 4
    ranking = PreferenceDataset.from_records([{"ranking": ["a", "b"]}])
    with pytest.raises(DataError, match="different kinds"):
        PreferenceDataset.concat([ds, ranking])


def test_outcome_codes():
    ds = PreferenceDataset.from_records(PAIRS)
    np.testing.assert_array_equal(ds.outcome_codes(), [0, 2, -1])


# ------------------------------------------------------------------ strict types, per value
@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        ({"a": "x", "b": "y", "winner": "a", "weight": True}, "weight", "number, got bool"),
        ({"a": "x", "b": "y", "p_a": "0.7"}, "p_a", 'expected number, got str "0.7"'),
        ({"a": True, "b": "y", "winner": "a"}, "a", "expected string, got bool"),
        ({"a": "x", "b": "y", "winner": "a", "user_id": 7}, "user_id", "expected string, got int"),
        ({"ranking": ["x", "y"], "ranks": [1.5, 2]}, "ranks", "expected integer list"),
        ({"item": "r", "scores": {"h": "high"}}, "scores", "expected number map"),
    ],
)
def test_from_records_is_strict_per_value(record, field, words):
    """pyarrow alone would store ``True`` as 1.0 and rank 1.5 as 1; the second record is bad
    whatever the first one holds."""
    good = {
        "pairwise": {"a": "p", "b": "q", "winner": "a", "weight": 1.0, "user_id": "u"},
        "ranking": {"ranking": ["p", "q"], "ranks": [1, 2]},
        "rating": {"item": "p", "scores": {"h": 1.0}},
    }
    kind = "pairwise" if "b" in record else ("ranking" if "ranking" in record else "rating")
    with pytest.raises(DataError) as info:
        PreferenceDataset.from_records([good[kind], record], kind=kind)
    assert info.value.field == field
    assert info.value.row == 1
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("column", "values", "words"),
    [
        ("weight", [True, False], "expected number, got boolean true"),
        ("p_a", ["0.7", "0.2"], 'expected number, got string "0.7"'),
        ("a", [1, 2], "expected string, got number 1"),
    ],
)
def test_arrow_and_pandas_columns_are_not_coerced(column, values, words):
    data = {"a": ["x", "y"], "b": ["y", "z"], "winner": ["a", "b"], column: values}
    with pytest.raises(DataError, match=words) as info:
        PreferenceDataset(pa.table(data))
    assert info.value.field == column
    with pytest.raises(DataError, match=words):
        PreferenceDataset.from_pandas(pd.DataFrame(data))


def test_identical_texts_without_ids_warn_as_self_comparison():
    from prefkit.data.validate import SelfComparisonWarning

    same = {"prompt": "q", "a_text": "same answer", "b_text": "same answer", "winner": "tie"}
    other = {"prompt": "q", "a_text": "one", "b_text": "two", "winner": "a"}
    with pytest.warns(SelfComparisonWarning, match=r"1 record\(s\) compare a response with itself"):
        PreferenceDataset.from_records([other, same])
    # two models may write the same text: with ids the candidates differ, nothing to say
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PreferenceDataset.from_records([{**same, "a": "gpt", "b": "llama"}])


def test_lone_surrogate_in_python_records_is_a_data_error():
    good = {"a": "x", "b": "y", "winner": "a", "a_text": "fine"}
    with pytest.raises(DataError, match="lone surrogate") as info:
        PreferenceDataset.from_records([good, {**good, "a_text": "bad \ud800"}])
    assert (info.value.row, info.value.field) == (1, "a_text")
