"""Exact and near-duplicate texts (MinHash + LSH, verified Jaccard) and train/test leakage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app
from prefkit.data.schema import PreferenceDataset
from prefkit.quality.duplicates import find_duplicates, jaccard, near_pairs, normalise, shingles

pytest.importorskip("datasketch")

runner = CliRunner()
ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _random_text(rng: np.random.Generator, words: int = 40) -> str:
    return " ".join("".join(rng.choice(ALPHABET, size=rng.integers(3, 9))) for _ in range(words))


def _edit(rng: np.random.Generator, text: str, n_chars: int) -> str:
    """Substitute ``n_chars`` letters at random positions (a near duplicate)."""
    chars = list(text)
    for pos in rng.choice(len(chars), size=n_chars, replace=False):
        chars[pos] = "#"
    return "".join(chars)


def _corpus(seed: int = 0, n_distinct: int = 300, n_near: int = 40, n_exact: int = 20):
    """Distinct random texts plus planted near copies (1–2 edits) and exact copies (re-cased,
    re-spaced).  Returns the texts and the set of planted index pairs."""
    rng = np.random.default_rng(seed)
    texts = [_random_text(rng) for _ in range(n_distinct)]
    planted_near, planted_exact = set(), set()
    for src in rng.choice(n_distinct, size=n_near + n_exact, replace=False)[:n_near]:
        texts.append(_edit(rng, texts[src], int(rng.integers(1, 3))))
        planted_near.add((int(src), len(texts) - 1))
    for src in rng.choice(n_distinct, size=n_exact, replace=False):
        if any(int(src) in p for p in planted_near):
            continue
        texts.append("  " + texts[src].upper().replace(" ", "\n "))
        planted_exact.add((int(src), len(texts) - 1))
    return texts, planted_near, planted_exact


def test_shingle_jaccard_closed_form():
    assert shingles("abcdefg", 5) == {"abcde", "bcdef", "cdefg"}
    # one substitution in the middle of 7 chars changes all 3 shingles: J = 0 / 6
    assert jaccard(shingles("abcdefg"), shingles("abcXefg")) == 0.0
    assert jaccard(shingles("abcdefgh"), shingles("abcdefgX")) == pytest.approx(3 / 5)
    assert normalise("  Hello\n\tWorld ") == "hello world"


def test_near_duplicates_precision_recall_on_planted_corpus():
    texts, planted_near, planted_exact = _corpus()
    keys = [normalise(t) for t in texts]
    found = {(i, j) for i, j, sim in near_pairs(keys, 0.9)}
    planted = planted_near | planted_exact
    recall = len(found & planted) / len(planted)
    precision = len(found & planted) / len(found)
    assert recall >= 0.95
    assert precision == 1.0
    # every found pair really is above the threshold
    for i, j in found:
        assert jaccard(shingles(keys[i]), shingles(keys[j])) >= 0.9


def test_groups_in_a_dataset_find_exact_and_near_and_no_false_positives():
    texts, planted_near, planted_exact = _corpus(seed=1)
    rows = [{"prompt": t, "a_text": f"answer {k} x", "b_text": f"other {k} y", "winner": "a"}
            for k, t in enumerate(texts)]
    report = find_duplicates(PreferenceDataset.from_records(rows), top=1000)
    prompt = report["fields"]["prompt"]
    assert prompt["exact_groups"] == len(planted_exact)
    assert prompt["near_groups"] == len(planted_near)
    groups = {tuple(g["rows"]) for g in prompt["groups"]}
    assert groups == {tuple(sorted(p)) for p in planted_near | planted_exact}
    assert report["duplicate_records"]["groups"] == 0  # the responses differ
    # distinct random texts alone: nothing
    clean = [{"prompt": t, "a_text": "p", "b_text": "q", "winner": "a"} for t in texts[:300]]
    none = find_duplicates(PreferenceDataset.from_records(clean))["fields"]["prompt"]
    assert none["exact_groups"] == 0 and none["near_groups"] == 0


def test_templated_but_different_prompts_are_not_near_duplicates():
    rng = np.random.default_rng(5)
    prompts = [f"Write a short poem about {_random_text(rng, 6)} in the style of "
               f"{_random_text(rng, 3)}." for _ in range(100)]
    rows = [{"prompt": p, "a": "x", "b": "y", "winner": "a"} for p in prompts]
    block = find_duplicates(PreferenceDataset.from_records(rows))["fields"]["prompt"]
    assert block["near_groups"] == 0 and block["exact_groups"] == 0


def _pairs_file(path, prompts):
    with open(path, "w") as fh:
        for k, p in enumerate(prompts):
            fh.write(json.dumps({"prompt": p, "a_text": f"resp {k} one two three",
                                 "b_text": f"resp {k} four five six", "winner": "a"}) + "\n")
    return path


def test_cross_file_leaks_cli(tmp_path):
    rng = np.random.default_rng(2)
    train = [_random_text(rng) for _ in range(80)]
    fresh = [_random_text(rng) for _ in range(30)]
    test = [*fresh, train[3], train[10].upper(), _edit(rng, train[20], 1), _edit(rng, train[30], 2)]
    a = _pairs_file(tmp_path / "train.jsonl", train)
    b = _pairs_file(tmp_path / "test.jsonl", test)
    result = runner.invoke(app, ["quality", "duplicates", str(a), "--against", str(b), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    leaks = doc["against"]["fields"]["prompt"]
    assert (leaks["exact"], leaks["near"]) == (2, 2)
    assert leaks["rows"] == [30, 31, 32, 33]
    # the split check (exact prompt strings) sees only the verbatim copy
    assert doc["against"]["split_leakage"]["prompt"]["leaked"] == 1
    assert doc["fields"]["prompt"]["near_groups"] == 0
    # text output and a bad threshold
    result = runner.invoke(app, ["quality", "duplicates", str(a), "--against", str(b)])
    assert result.exit_code == 0 and "leak" in result.output
    result = runner.invoke(app, ["quality", "duplicates", str(a), "--threshold", "1.5"])
    assert result.exit_code == 2 and "threshold" in result.output
    assert "Traceback" not in result.output


def test_duplicate_records_either_order():
    rows = [{"prompt": "P", "a_text": "one", "b_text": "two", "winner": "a"},
            {"prompt": "p ", "a_text": "TWO", "b_text": "one", "winner": "b"},
            {"prompt": "P", "a_text": "one", "b_text": "three", "winner": "a"}]
    dup = find_duplicates(PreferenceDataset.from_records(rows))["duplicate_records"]
    assert dup["groups"] == 1 and dup["examples"] == [[0, 1]]
    # two annotators' labels of one comparison (one pair_id) are not a duplicate
    same = [{**r, "pair_id": "c1" if k < 2 else "c2"} for k, r in enumerate(rows)]
    assert find_duplicates(PreferenceDataset.from_records(same))["duplicate_records"]["groups"] == 0


def test_item_level_data_skips_with_a_note():
    rows = [{"a": "x", "b": "y", "winner": "a"}] * 5
    report = find_duplicates(PreferenceDataset.from_records(rows))
    assert "skipped" in report["fields"]["prompt"] and "skipped" in report["duplicate_records"]
