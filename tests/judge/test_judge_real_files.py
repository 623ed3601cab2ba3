"""The three recorded judge files in ../shared/data/judges (skipped when the data is absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers.judge_helpers import FASTCHAT_PAIR, PANDALM_GPT, PANDALM_HUMAN, RATINGS
from prefkit import read
from prefkit.cli.app import app
from prefkit.evaluate import evaluate
from prefkit.judge.analysis import analyze
from prefkit.judge.recorded import RecordedJudge, reparse

runner = CliRunner()


def test_fastchat_pair_file(real_file):
    ds = read(real_file(FASTCHAT_PAIR))
    assert ds.metadata["format"] == "fastchat-pair"
    assert len(ds) == 147 and len(ds.metadata["unparsed"]) == 3  # 75 pairs x 2, three $ERROR$
    _, report = reparse(ds)
    assert (report.total, report.agree) == (150, 150)
    result = analyze(ds, bootstrap=0)
    assert result["n"] == 75
    # README: g1 == g2 on 20 + 18 + 8 pairs (model_2, model_1, tie)
    assert result["position_consistency"] == pytest.approx(46 / 75)
    assert result["unparsed"] == 3 and result["unparsed_pairs"] == 2
    assert 0.5 < result["first_position_win_rate"] < 0.8
    assert result["length_coef"] is not None


def test_ratings_file_reparse_explains_the_nulls(real_file):
    ds = read(real_file(RATINGS))
    assert ds.metadata["format"] == "fastchat-single" and len(ds) == 297
    _, report = reparse(ds)
    assert (report.total, report.agree, report.recorded_unparsed, report.reparsed_unparsed) == (
        300, 298, 3, 1)
    assert sorted(d["token"] for d in report.disagreements) == ["9/10", "[[9.5]]"]
    assert sorted(d["reparsed"] for d in report.disagreements) == [9.0, 9.5]


def test_pandalm_gpt_against_humans(real_file):
    judged = read(real_file(PANDALM_GPT))
    human = read(real_file(PANDALM_HUMAN))
    assert len(judged) == 974 and len(judged.metadata["unparsed"]) == 25
    result = analyze(judged, human=human, bootstrap=0)
    assert result["n"] == 999 and result["human_votes"] == 2997
    assert 0.6 < result["agreement_with_ties"] < result["agreement_without_ties"] < 0.9
    assert 0.3 < result["cohen_kappa"] < 0.6
    assert result["longer_win_rate"] is not None  # texts from the test set
    judge = RecordedJudge().fit(judged)
    p = judge.predict_proba(human)
    assert p.shape == (len(human),) and np.isnan(p).sum() == 25 * 3  # 3 annotator rows a pair
    scores = evaluate(judge, human.filter(judge.has_verdict(human)))
    # evaluate's accuracy drops human ties; the MT-Bench "without ties" also drops judge ties
    assert scores["n"] == len(human) - 75 and 0.7 < scores["accuracy"] < 0.9


def test_cli_analyze_fixed_contract(real_file):
    path = real_file(FASTCHAT_PAIR)
    result = runner.invoke(app, ["judge", "analyze", str(path), "--json", "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("n", "unparsed", "position_consistency", "first_position_win_rate"):
        assert key in out
    assert out["n"] == 75 and out["format"] == "fastchat-pair"
    explicit = runner.invoke(
        app, ["judge", "analyze", str(path), "--format", "fastchat-pair", "--json",
              "--bootstrap", "0"])
    assert json.loads(explicit.stdout)["position_consistency"] == out["position_consistency"]


def test_cli_analyze_with_humans(real_file):
    result = runner.invoke(
        app, ["judge", "analyze", str(real_file(PANDALM_GPT)), "--human",
              str(real_file(PANDALM_HUMAN)), "--json", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("agreement_with_ties", "agreement_without_ties", "cohen_kappa"):
        assert isinstance(out[key], float)
