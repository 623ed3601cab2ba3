"""Diagnostics (accuracies, CHES, trajectories), sampling (BoN, RSO, curves) and the CLI."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.diagnostics import (
    LogpTracker,
    ches_scores,
    filter_high_ches,
    idealized_ranking_accuracy,
    implicit_reward_accuracy,
    ranking_accuracy,
)
from prefkit.align.pairs import collate, text_pairs, tokenize_pairs
from prefkit.align.sampling import (
    best_of_n,
    bon_weights,
    kl_bon,
    overoptimization_curve,
    rejection_sample,
)
from prefkit.align.tiny import synthetic_preferences
from prefkit.align.trainer import AlignConfig, AlignTrainer
from prefkit.cli.align import align_app
from prefkit.data import PreferenceDataset


def test_accuracies_by_hand() -> None:
    pc, pr = torch.tensor([-1.0, -5.0, -2.0]), torch.tensor([-2.0, -1.0, -2.0])
    assert ranking_accuracy(pc, pr) == pytest.approx((1 + 0 + 0.5) / 3)
    assert ranking_accuracy(pc, pr, chosen_lengths=[1, 10, 1], rejected_lengths=[1, 1, 4]) == (
        pytest.approx(2 / 3))
    rc, rr = torch.tensor([-1.0, -4.0, -3.0]), torch.tensor([-1.0, -1.0, -2.0])
    assert implicit_reward_accuracy(pc, pr, rc, rr) == pytest.approx(2 / 3)
    # the reference misranks pair 1 by 3 nats; p = 0.9 with β = 1 gives logit 2.197 < 3
    assert idealized_ranking_accuracy([-1, -4], [-2, -1], [0.9, 0.9], beta=1.0) == 0.5
    assert idealized_ranking_accuracy([-1, -4], [-2, -1], [0.9, 0.9], beta=0.5) == 1.0
    assert idealized_ranking_accuracy([-9.0], [-1.0], [1.0], beta=1.0) == 1.0


def test_ches_matches_hand_computation_and_filtering(tiny) -> None:
    model, tok = tiny
    ds = synthetic_preferences(4, seed=9)
    scores = ches_scores(model, tok, ds)
    pairs = tokenize_pairs(tok, text_pairs(ds))
    batch = collate(pairs, [0], tok.pad_token_id)
    with torch.no_grad():
        h = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  output_hidden_states=True).hidden_states[-1].double()
    sel = batch["loss_mask"][:, 1:]
    hp, hm = h[0, :-1][sel[0]].sum(0), h[1, :-1][sel[1]].sum(0)
    assert scores[0] == pytest.approx(float(hp @ hm - hp @ hp), rel=1e-4)
    same = PreferenceDataset.from_records([{"prompt": "describe the cat ?", "a_text": "x y",
                                            "b_text": "x y", "winner": "a"}])
    assert ches_scores(model, tok, same)[0] == pytest.approx(0.0, abs=1e-6)
    kept = filter_high_ches(ds, scores, fraction=0.25)
    assert len(kept) == 3
    assert ds.to_records()[int(np.argmax(scores))] not in kept.to_records()


def test_logp_tracker_records_displacement(tiny) -> None:
    model, tok = tiny
    data = synthetic_preferences(12, seed=10)
    trainer = AlignTrainer(model, tok, AlignConfig(loss="dpo", learning_rate=3e-3, max_steps=4,
                                                   batch_size=4))
    tracker = LogpTracker(trainer.prepare(data), pad_id=tok.pad_token_id)
    tracker.record(model, 0)
    trainer.train(data, callback=tracker)
    traj = tracker.trajectories()
    assert traj["step"] == [0, 1, 2, 3, 4]
    assert traj["rejected"][-1] < traj["rejected"][0]  # DPO pushes rejected down
    d = tracker.displacement()
    assert 0.0 <= d["displaced_share"] <= 1.0
    assert d["rejected_change"] < d["chosen_change"]


def test_kl_bon_and_unbiased_curve() -> None:
    assert kl_bon(1) == 0.0
    assert kl_bon(4) == pytest.approx(math.log(4) - 0.75)
    rng = np.random.default_rng(0)
    proxy, gold = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    curve = overoptimization_curve(proxy, gold, ns=[1, 2, 3, 6])
    for point in curve:  # the estimator equals the average over every n-subset
        n = point["n"]
        brute_p, brute_g = [], []
        for row in range(3):
            vals = [max(c, key=lambda i: proxy[row, i])
                    for c in itertools.combinations(range(6), n)]
            brute_p.append(np.mean([proxy[row, i] for i in vals]))
            brute_g.append(np.mean([gold[row, i] for i in vals]))
        assert point["proxy"] == pytest.approx(np.mean(brute_p))
        assert point["gold"] == pytest.approx(np.mean(brute_g))
    assert [p["proxy"] for p in curve] == sorted(p["proxy"] for p in curve)
    assert bon_weights(5, 2).sum() == pytest.approx(1.0)


def test_best_of_n_and_rejection_sampling() -> None:
    res = best_of_n(["p"], [["a", "bbb", "cc"]], lambda _p, texts: [len(t) for t in texts])
    assert res[0]["best"] == "bbb" and res[0]["scores"] == [1.0, 3.0, 2.0]
    with pytest.raises(ValueError):
        best_of_n(["p"], [["a"]], lambda _p, t: [1.0, 2.0])
    rewards = [0.0, 1.0, 3.0]
    # tiny β: only the maximum can be accepted; huge β: everything, uniformly
    assert rejection_sample(rewards, beta=1e-3, k=1, seed=1) == [2]
    counts = np.zeros(3)
    for s in range(3000):
        counts[rejection_sample(rewards, beta=1.0, k=1, seed=s)[0]] += 1
    target = np.exp(np.array(rewards) / 1.0)
    np.testing.assert_allclose(counts / counts.sum(), target / target.sum(), atol=0.03)
    assert sorted(rejection_sample(rewards, beta=1e6, k=3, seed=0)) == [0, 1, 2]


def test_cli_train_eval_bon(tiny_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "pairs.jsonl"
    synthetic_preferences(16, seed=11).write(str(data))
    out = tmp_path / "run"
    res = runner.invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--loss", "dpo",
                                    "--out", str(out), "--max-steps", "6", "--lr", "3e-3",
                                    "--batch-size", "4", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 6
    # the base lies outside the run: it is followed only when passed explicitly
    res = runner.invoke(align_app, ["eval", str(out), str(data), "--json",
                                    "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert set(result) == {"implicit_reward_accuracy", "ranking_accuracy", "loss", "n"}
    assert result["n"] == 16 and result["implicit_reward_accuracy"] > 0.8
    res = runner.invoke(align_app, ["bon", str(out), str(data), "--n", "3", "--max-prompts",
                                    "2", "--max-new-tokens", "8", "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert len(lines) == 2 and all(len(x["candidates"]) == 3 for x in lines)
    assert all(x["score"] == max(x["scores"]) for x in lines)


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "pairs.jsonl"
    synthetic_preferences(4).write(str(data))
    res = runner.invoke(align_app, ["train", str(data), "--base", "tiny", "--loss", "bogus",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "unknown loss" in res.output
    res = runner.invoke(align_app, ["train", str(data), "--base", str(tmp_path / "missing"),
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "must be a local model directory" in res.output
    res = runner.invoke(align_app, ["eval", str(tmp_path), str(data), "--json"])
    assert res.exit_code == 2 and "not a prefkit align run" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a_text": "x", "b_text": "y", "winner": "c"}\n')
    res = runner.invoke(align_app, ["train", str(bad), "--base", "tiny",
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "bad.jsonl" in res.output
