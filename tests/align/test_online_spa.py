"""SPA / Selfie (docs/seeds.md row 67): the implicit-reward judge, the de-coupled noise
detection and the confidence smoothing by hand; order invariance; then the loop on the tiny
model — self-labelled rounds raise the gold reward over what the human seed alone gave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from prefkit.align.online.config import ALGORITHMS, OnlineConfig
from prefkit.align.online.gold import politeness
from prefkit.align.online.spa import (
    extrapolated_logps,
    implicit_rewards,
    noisy_count,
    refined_dpo_losses,
    self_label,
    smoothing,
    wrong_label_probability,
)
from prefkit.align.tiny import synthetic_records

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})


@pytest.fixture(autouse=True)
def _one_thread():
    """The tiny model runs fastest on one thread; on a shared, loaded 2-core machine more
    threads spin against each other (75 s against 5 s for the run below)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_spa_is_registered_and_checked() -> None:
    from prefkit.align.online.params import AlgoParamError

    assert "spa" in ALGORITHMS
    OnlineConfig(algo="spa", algo_params={"noise_fraction": "0.25", "refine": "flip"}).check()
    with pytest.raises(AlgoParamError, match="spa: needs --beta > 0"):
        OnlineConfig(algo="spa", beta=0.0).check()
    with pytest.raises(AlgoParamError, match=r"noise_fraction=1\.5: must be <= 1"):
        OnlineConfig(algo="spa", algo_params={"noise_fraction": 1.5}).check()
    with pytest.raises(AlgoParamError, match="refine='drop': expected one of smooth, flip"):
        OnlineConfig(algo="spa", algo_params={"refine": "drop"}).check()


def test_the_judge_is_the_implicit_reward_by_hand() -> None:
    """r = β Σ_t (log π_θ − log π_ref) over the completion's tokens; best vs worst per group."""
    policy = torch.tensor([[-1.0, -2.0, -0.5], [-0.2, -0.3, -9.0], [-3.0, -1.0, -1.0],
                           [-0.1, -0.1, -0.1], [-1.0, -1.0, -1.0], [-2.0, -2.0, -2.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5], [-0.4, -0.4, -1.0], [-1.0, -1.0, -1.0],
                        [-0.1, -0.1, -0.1], [-1.0, -1.0, -1.0], [-2.0, -2.0, -2.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]])
    beta = 0.5
    r = implicit_rewards(policy, ref, mask, beta)
    # by hand: 0.5·(0.5 − 1 + 0) = −0.25; 0.5·(0.2 + 0.1) = 0.15 (third token masked);
    # 0.5·(−2 + 0 + 0) = −1; the second group is three exact copies of the reference
    assert r.tolist() == pytest.approx([-0.25, 0.15, -1.0, 0.0, 0.0, 0.0])
    assert self_label(r, 3) == [(1, 2)]  # group 2 is all ties: no pair
    assert self_label(r, 2) == [(1, 0), (3, 2)]  # pairs (0,1), (2,3); (4,5) is a tie
    assert self_label(-r, 2) == [(0, 1), (2, 3)]  # the judge follows the reward's sign


def test_extrapolated_judge_and_confidence_smoothing_by_hand() -> None:
    """log π̃ = log_softmax((1 + λ) log π_θ − λ log π_ref); z = σ(r̃_l − r̃_w); the top ⌊ρn + ½⌋
    pairs by z get α = z; loss −(1 − α) log σ(βΔ) − α log σ(−βΔ)."""
    pt = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]))
    pr = np.log(np.array([[0.4, 0.4, 0.2], [0.2, 0.5, 0.3]]))
    lam = 0.5
    targets = [0, 1]
    expected = 0.0
    for t in range(2):  # renormalised p^(1+λ) / r^λ at each position, by hand
        w = np.exp(pt[t]) ** (1 + lam) / np.exp(pr[t]) ** lam
        expected += math.log(w[targets[t]] / w.sum())
    got = extrapolated_logps(torch.tensor(pt)[None], torch.tensor(pr)[None],
                             torch.tensor([targets]), torch.ones(1, 2), lam)
    assert float(got) == pytest.approx(expected, abs=1e-9)
    at_zero = extrapolated_logps(torch.tensor(pt)[None], torch.tensor(pr)[None],
                                 torch.tensor([targets]), torch.ones(1, 2), 0.0)
    assert float(at_zero) == pytest.approx(math.log(0.5) + math.log(0.6))  # λ = 0: π_θ
    # confidence and smoothing on four pairs
    r_w = torch.tensor([1.0, 0.2, 0.5, 2.0])
    r_l = torch.tensor([0.0, 0.4, 0.4, -1.0])
    z = wrong_label_probability(r_w, r_l)
    assert z.tolist() == pytest.approx([_sigmoid(-1.0), _sigmoid(0.2), _sigmoid(-0.1),
                                        _sigmoid(-3.0)])
    assert [noisy_count(4, rho) for rho in (0.0, 0.1, 0.125, 0.25, 0.5, 1.0)] == [0, 0, 1, 1,
                                                                                  2, 4]
    # ρ = 0.5: the two largest z (pairs 1 and 2) are smoothed by their own z
    assert smoothing(z, 0.5).tolist() == pytest.approx([0.0, _sigmoid(0.2), _sigmoid(-0.1),
                                                        0.0])
    assert smoothing(z, 0.25, "flip").tolist() == [0.0, 1.0, 0.0, 0.0]
    assert smoothing(z, 0.5, "none").tolist() == [0.0] * 4
    # the loss: hand formula, and plain DPO (prefkit's dpo_loss) where α = 0
    from prefkit.align.losses.dpo import dpo_loss

    pw, pl = torch.tensor([-3.0, -4.0, -2.0, -5.0]), torch.tensor([-4.0, -3.5, -2.5, -6.0])
    rw, rl = torch.tensor([-3.5, -3.0, -2.0, -5.5]), torch.tensor([-3.0, -3.0, -3.0, -6.0])
    beta, alpha = 0.3, smoothing(z, 0.5)
    losses = refined_dpo_losses(pw, pl, rw, rl, alpha, beta)
    for i in range(4):
        delta = (pw[i] - rw[i]) - (pl[i] - rl[i])
        a = float(alpha[i])
        hand = (-(1 - a) * math.log(_sigmoid(beta * float(delta)))
                - a * math.log(_sigmoid(-beta * float(delta))))
        assert float(losses[i]) == pytest.approx(hand, abs=1e-6)
    plain = dpo_loss(pw, pl, rw, rl, beta=beta).losses
    assert losses[[0, 3]] == pytest.approx(plain[[0, 3]])
    assert not torch.allclose(losses[[1, 2]], plain[[1, 2]])


def test_which_response_is_called_a_does_not_change_the_labels() -> None:
    """Permuting the samples inside each group gives the same (chosen, rejected) texts, the
    same z and the same α."""
    g = torch.Generator().manual_seed(5)
    k, groups = 4, 6
    policy, ref = -torch.rand(k * groups, 5, generator=g), -torch.rand(k * groups, 5,
                                                                       generator=g)
    mask = torch.ones(k * groups, 5)
    texts = [f"text-{i}" for i in range(k * groups)]
    perm = torch.cat([torch.randperm(k, generator=g) + k * j for j in range(groups)])
    for order, name in ((torch.arange(k * groups), "as given"), (perm, "permuted")):
        r = implicit_rewards(policy[order], ref[order], mask[order], 0.4)
        pairs = self_label(r, k)
        labelled = [(texts[int(order[w])], texts[int(order[lo])]) for w, lo in pairs]
        z = wrong_label_probability(r[[w for w, _ in pairs]], r[[lo for _, lo in pairs]])
        if name == "as given":
            first, first_z = labelled, z
    assert labelled == first and len(labelled) == groups
    assert z == pytest.approx(first_z)
    assert smoothing(z, 0.5) == pytest.approx(smoothing(first_z, 0.5))
    # K = 2: swapping a and b in every pair swaps nothing in the labels
    r2 = implicit_rewards(policy[:4], ref[:4], mask[:4], 0.4)
    swapped = r2[[1, 0, 3, 2]]
    assert {(texts[w], texts[lo]) for w, lo in self_label(r2, 2)} == {
        (texts[[1, 0, 3, 2][w]], texts[[1, 0, 3, 2][lo]]) for w, lo in self_label(swapped, 2)}


def _seed_file(tmp_path) -> str:
    """The human-labelled seed: 32 pairs of the tiny model's synthetic preference data."""
    path = tmp_path / "seed.jsonl"
    rows = synthetic_records(200)[100:132]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _gold(model, tok) -> float:
    from prefkit.align.online.sampling import sample_rollout

    roll = sample_rollout(model, tok, PROMPTS, n=4, max_new_tokens=16, seed=123, logps=False)
    return float(np.mean(politeness(roll.sample_prompts, roll.texts)))


def test_self_labelled_rounds_raise_the_gold_reward(tiny, tmp_path) -> None:
    """12 DPO steps on the human seed, then 3 rounds of 4 steps on self-labelled pairs: the
    gold reward (politeness, never seen by the self-labelled rounds) rises over the rounds."""
    from prefkit.align.online.trainer import OnlineTrainer

    model, tok = tiny
    cfg = OnlineConfig(algo="spa", max_steps=24, beta=0.3, prompts_per_step=4, group_size=8,
                       max_new_tokens=16, learning_rate=3e-3, steps_per_round=4,
                       round_prompts=8, seed=0,
                       algo_params={"seed": _seed_file(tmp_path), "seed_steps": 12})
    golds: dict[str, float] = {"start": _gold(model, tok)}

    def after_seed(trainer, record) -> None:
        if trainer.step == 12:
            golds["seed"] = _gold(trainer.model, tok)

    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg, gold=politeness)
    hist = trainer.train(progress=False, callback=after_seed)
    golds["end"] = _gold(trainer.model, tok)
    assert [h["spa_stage"] for h in hist] == [0.0] * 12 + [1.0] * 12
    assert hist[0]["seed_dpo"] == pytest.approx(math.log(2), abs=1e-5)  # θ = π_ref
    rounds = [h for h in hist if "self_pairs" in h]
    assert [h["step"] for h in rounds] == [13.0, 17.0, 21.0]
    assert all(0.0 <= h["self_label_agreement"] <= 1.0 and h["self_pairs"] >= 1
               for h in rounds)
    assert golds["seed"] > golds["start"]  # the seed alone helps …
    assert golds["end"] > golds["seed"] + 0.5, golds  # … and the self-labelled rounds add more


def test_resume_mid_round_trains_on_the_same_pairs(tiny_dir, tmp_path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefkit.align.online.trainer import OnlineTrainer

    def run(out, max_steps, resume=False):
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        cfg = OnlineConfig(algo="spa", max_steps=5, save_every=1, beta=0.3, prompts_per_step=2,
                           group_size=2, max_new_tokens=4, learning_rate=3e-3,
                           steps_per_round=3, round_prompts=4,
                           algo_params={"seed_prompts": 4, "seed_steps": 1,
                                        "noise_fraction": 0.5})
        trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
        trainer.train(out, max_steps=max_steps, resume=resume, progress=False)
        return trainer

    straight = run(tmp_path / "a", 5)
    run(tmp_path / "b", 3)  # stops inside the first self-labelled round (steps 2–4)
    resumed = run(tmp_path / "b", 5, resume=True)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [h["loss"] for h in straight.history] == pytest.approx(
        [h["loss"] for h in resumed.history], nan_ok=True)
