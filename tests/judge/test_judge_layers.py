"""The judge layer imports only layers below it (never align or cli), and follows the contract."""

from __future__ import annotations

import subprocess
import sys

from sklearn.base import clone

from prefkit.judge.recorded import RecordedJudge


def test_judge_never_imports_align_or_cli():
    code = (
        "import sys, prefkit.judge.analysis, prefkit.judge.arena_hard, prefkit.judge.recorded, "
        "prefkit.judge.backends, prefkit.judge.live, prefkit.judge.jury, prefkit.judge.run, "
        "prefkit.judge.backends.hf_causal, prefkit.judge.backends.reward_model, "
        "prefkit.judge.backends.openai_http\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('prefkit.align', 'prefkit.cli')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_hyper_parameters_follow_the_estimator_contract():
    judge = RecordedJudge(aggregation="average", verdicts="reparse")
    assert judge.get_params() == {"aggregation": "average", "verdicts": "reparse"}
    copy = clone(judge)
    assert copy.get_params() == judge.get_params() and copy is not judge


def test_save_load_identical_predictions_and_judgments(tmp_path, write_jsonl):
    import numpy as np

    import prefkit
    from helpers.judge_helpers import fastchat_pair
    from prefkit import PreferenceDataset, read

    ds = read(write_jsonl([fastchat_pair(1, "model_1", "model_2"), fastchat_pair(2, "tie", "error"),
                           fastchat_pair(3, "model_2", "model_2")]))
    judge = RecordedJudge(aggregation="average").fit(ds)
    prefkit.save(judge, tmp_path / "judge")
    back = prefkit.load(tmp_path / "judge")
    assert type(back) is RecordedJudge and back.get_params() == judge.get_params()
    query = PreferenceDataset.from_records(
        [{"pair_id": f"{q}/1/m1/m2", "a": "m1", "b": "m2", "winner": "a"} for q in (1, 2, 3)])
    np.testing.assert_array_equal(back.predict_proba(query), judge.predict_proba(query))
    assert back.judge(query).to_records() == judge.judge(query).to_records()
    assert back.judge(query).metadata["unparsed"] == judge.judge(query).metadata["unparsed"]
