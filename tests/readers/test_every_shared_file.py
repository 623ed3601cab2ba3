"""Every data file in ../shared/data loads with ``--format auto``; counts match its README.

Where a reader drops records on purpose the README count is recovered from the metadata
(e.g. Polis keeps the latest of repeated votes; CEMS rows without an outcome are dropped).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from prefkit import read

# file-name fragment -> (format, kind, records, items or None)
EXPECTED = {
    "tulu_1.converted": ("tulu-human-eval", "pairwise", 1150, None),
    "brexit-consensus_comments": ("polis-comments", "rating", 50, 50),
    "brexit-consensus_votes": ("polis", "rating", 5312 - 9, 50),
    "beach_preferences": ("beach", "pairwise", 1442, 15),
    "BradleyTerry2__data_CEMS": ("paired-covariates", "pairwise", 4545 - 91, 6),
    "CEMSChoice": ("paired-covariates", "pairwise", 4545 - 91, 6),
    "Topmodel2007": ("paired-covariates", "pairwise", 192 * 15, 6),
    "newstest2021_ende": ("mqm", "rating", 8959, None),
    "ted_ende": ("mqm", "rating", 7406, None),
    "testcase-pairwise-1": ("choix", "pairwise", 3, 3),
    "testcase-pairwise-2": ("choix", "pairwise", 4, None),
    "testcase-rankings-1": ("choix", "ranking", 3, 3),
    "testcase-rankings-2": ("choix", "ranking", 3, None),
    "testcase-top1-1": ("choix", "ranking", 3, 3),
    "testcase-top1-2": ("choix", "ranking", 3, 3),
    "LLMEval2_benchmark": ("llmeval2", "pairwise", 2553, None),
    "ImageReward": ("imagereward", "ranking", 466, None),
    "PandaLM__data_testset": ("pandalm", "pairwise", 999 * 3, None),
    "arena_hard_battles": ("arena", "pairwise", 2136, 5),
    "Adversarial_GPTInst": ("llmbar", "pairwise", 92, None),
    "Adversarial_GPTOut": ("llmbar", "pairwise", 47, None),
    "Adversarial_Manual": ("llmbar", "pairwise", 46, None),
    "Adversarial_Neighbor": ("llmbar", "pairwise", 134, None),
    "LLMBar_Natural": ("llmbar", "pairwise", 100, None),
    "Processed_FairEval": ("llmbar", "pairwise", 66, None),
    "Processed_LLMEval2": ("llmbar", "pairwise", 200, None),
    "Processed_MT-Bench": ("llmbar", "pairwise", 200, None),
    "hhh_alignment": ("hhh", "pairwise", 221, None),
    "potato_true_ranking": ("rank-table", "ranking", 1, 20),
    "potato_visual": ("rank-table", "ranking", 12, 20),
    "potato_weighing": ("rank-table", "ranking", 12, 20),
    "sushi_rankings": ("rank-table", "ranking", 5000, 10),
    "beans": ("beans", "ranking", 842 * 4, None),
    "nascar": ("race-results", "ranking", 36, 87),
    "pudding": ("pair-counts", "pairwise", 15 * 3, 6),
    "cities.soi": ("preflib", "ranking", 372, None),
    "netflix.soc": ("preflib", "ranking", 24, None),
    "skaters.toc": ("preflib", "ranking", 9, None),
    "baseball": ("sports", "pairwise", 80, None),
    "football": ("sports", "pairwise", 1900, None),
    "icehockey": ("sports", "pairwise", 1083, None),
    "nfl_games": ("sports", "pairwise", 16810, None),
    "results.csv": ("sports", "pairwise", 49520, 337),
    "shootouts": ("sports", "pairwise", 683, None),
}
# Recorded LLM-judge outputs (judges/, issue 13): judgments with a verdict are records; the
# judgments without one (judge errors, parse failures) are kept in metadata["unparsed"].
JUDGES = {
    "FastChat__": ("fastchat-pair", "pairwise", 75 * 2 - 3, 2, 3),
    "gpt-3.5-turbo-testset": ("pandalm-gpt", "pairwise", 999 - 25, 2, 25),
    "arena-bench-v1_model_judgment": ("fastchat-single", "rating", 300 - 3, 1, 3),
}
EXPECTED.update({key: row[:4] for key, row in JUDGES.items()})
NO_READER_YET: tuple[str, ...] = ()


def _data_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.name not in ("README.md", "SOURCES.tsv")
    )


def test_every_file_is_expected(shared_data):
    names = [p.name for p in _data_files(shared_data)]
    known = (*EXPECTED, *NO_READER_YET)
    unmatched = [n for n in names if not any(key in n for key in known)]
    assert unmatched == [], f"files without an expected count: {unmatched}"


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_file_loads_with_expected_counts(shared_data, key):
    matches = [p for p in _data_files(shared_data) if key in p.name]
    assert len(matches) == 1, matches
    fmt, kind, records, items = EXPECTED[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read(matches[0])
    assert ds.metadata["format"] == fmt
    assert ds.kind == kind
    assert len(ds) == records
    if items is not None:
        assert ds.describe()["items"] == items


@pytest.mark.parametrize("key", sorted(JUDGES))
def test_judge_outputs_keep_their_unparsed_judgments(shared_data, key):
    matches = [p for p in _data_files(shared_data) if key in p.name]
    assert len(matches) == 1, matches
    assert len(read(matches[0]).metadata["unparsed"]) == JUDGES[key][4]
