"""The registered online seed methods: P3O, PF-PPO, fine-grained (dense, segment-level) rewards
with Clip/Delta process-reward shaping, constrained RLHF and BRAIn — closed forms on tiny
tensors, then short runs of the tiny model against the built-in loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from prefkit.align.online import fine_grained as fg
from prefkit.align.online.algorithms import EXTRA, PAIRED
from prefkit.align.online.brain import (
    baseline_weights,
    brain_loss,
    log_goodness,
    posterior_weights,
)
from prefkit.align.online.config import OnlineConfig
from prefkit.align.online.constrained import current_lambdas, dual_ascent, lagrangian_rewards
from prefkit.align.online.gold import politeness
from prefkit.align.online.grpo import grpo_loss
from prefkit.align.online.p3o import p3o_advantages, p3o_loss
from prefkit.align.online.pf_ppo import choose_strategy, filter_groups, filtered_r2
from prefkit.align.online.sampling import completion_logps, rollout_token_logps
from prefkit.align.online.trainer import OnlineTrainer
from prefkit.align.online.transforms import clip_steps, delta_steps, shape_steps
from prefkit.align.tiny import synthetic_records

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})[:8]
SMALL = {"prompts_per_step": 2, "group_size": 4, "max_new_tokens": 8, "learning_rate": 5e-3}


def test_registered() -> None:
    assert {"p3o", "pf-ppo", "fine-grained", "constrained", "brain"} <= set(EXTRA)
    assert "p3o" in PAIRED and OnlineConfig(algo="p3o", group_size=4).samples_per_prompt == 2


# ---------------------------------------------------------------- P3O
def test_p3o_pairwise_clipped_objective_closed_form() -> None:
    adv = p3o_advantages(torch.tensor([3.0, 1.0, 0.0, 2.0]))
    assert adv.tolist() == [1.0, -1.0, -1.0, 1.0]
    # a prompt-dependent shift r + c(x) is an equivalent reward: same advantages
    shifted = p3o_advantages(torch.tensor([3.0, 1.0, 0.0, 2.0]) + torch.tensor([5, 5, -7, -7]))
    assert torch.equal(adv, shifted)
    old = torch.zeros(2)
    logps = torch.log(torch.tensor([1.5, 0.5]))  # ratios ρ_1 = 1.5, ρ_2 = 0.5
    a = torch.tensor([1.0, -1.0])
    # separate: min(1.5·1, 1.2·1) + min(0.5·(−1), 0.8·(−1)) = 1.2 − 0.8
    assert float(p3o_loss(logps, old, a, clip="separate")) == pytest.approx(-0.4)
    # joint: ρ_1/ρ_2 = 3 → min(3·1, 1.2·1) = 1.2; with A_1 = −1: min(−3, −1.2) = −3
    assert float(p3o_loss(logps, old, a, clip="joint")) == pytest.approx(-1.2)
    assert float(p3o_loss(logps, old, -a, clip="joint")) == pytest.approx(3.0)
    # at ρ = 1 both have the vanilla gradient −½(r_1 − r_2)∇(log π_1 − log π_2), mean over pairs
    r = torch.tensor([2.0, -1.0, 0.5, 1.5])
    for clip in ("separate", "joint"):
        lp = torch.zeros(4, requires_grad=True)
        p3o_loss(lp, lp.detach(), p3o_advantages(r), clip=clip).backward()
        vanilla = torch.tensor([-1.5, 1.5, 0.5, -0.5]) / 2
        assert torch.allclose(lp.grad, vanilla), clip


# ---------------------------------------------------------------- PF-PPO
def test_policy_filtration_strategies_and_r2_selection() -> None:
    rewards = np.array([0.1, 0.9, 0.5, 0.3, 2.0, 1.0, 3.0, 0.0])  # two groups of 4
    assert filter_groups(rewards, 4, "best-of-n").tolist() == [1, 6]
    assert filter_groups(rewards, 4, "best-worst").tolist() == [0, 1, 6, 7]
    assert filter_groups(rewards, 4, "best-of-n", k=2).tolist() == [1, 2, 4, 6]
    br = filter_groups(rewards, 4, "best-random", rng=np.random.default_rng(3))
    assert len(br) == 4 and {1, 6} <= set(br.tolist())
    with pytest.raises(ValueError, match="keeps 4 of each group of 2"):
        filter_groups(rewards, 2, "best-worst", k=2)
    # a reward model that is right among the best responses and noise among the worst
    rng = np.random.default_rng(0)
    r = rng.normal(size=(400, 4))
    top = r.argmax(1)
    actual = rng.normal(size=(400, 4))
    actual[np.arange(400), top] = 2 * r[np.arange(400), top]
    r, actual = r.reshape(-1), actual.reshape(-1)
    kept = filter_groups(r, 4, "best-of-n")
    assert filtered_r2(r, actual, kept) == pytest.approx(1.0)
    best, scores = choose_strategy(r, actual, 4)
    assert best == "best-of-n" and scores["best-worst"] < 0.9
    x, y = r[kept], actual[kept]
    assert filtered_r2(r, actual, kept) == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)


# ---------------------------------------------------------------- Clip / Delta
def test_delta_telescopes_and_clip_bounds_step_repetition() -> None:
    steps = np.array([0.7, 0.2, 0.9, 0.4])
    d = delta_steps(steps)
    for k in range(4):  # Σ_{t ≥ k} r̃_t = r_k
        assert d[k:].sum() == pytest.approx(steps[k])
    assert np.allclose(clip_steps(steps, 0.5), [0.0, -0.3, 0.0, -0.1])
    assert np.allclose(shape_steps("clip-delta", steps, 0.5), delta_steps(clip_steps(steps, 0.5)))
    # the hack: repeating a correct step raises the raw return, never the shaped one
    hacked = np.concatenate([steps, [0.9] * 5])
    assert hacked.sum() > steps.sum() + 4
    assert shape_steps("clip", hacked, 0.5).sum() <= shape_steps("clip", steps, 0.5).sum()
    assert shape_steps("delta", hacked).sum() == pytest.approx(hacked[0])
    assert shape_steps("delta", steps).sum() == pytest.approx(steps[0])
    with pytest.raises(ValueError, match="unknown process-reward shaping"):
        shape_steps("cap", steps)


# ---------------------------------------------------------------- fine-grained layout
def test_segments_and_dense_token_advantage_layout() -> None:
    assert fg.segment_ends(["sure", " !", " the", " cat", " .", ""]) == [1, 5]
    assert fg.segment_ends(["a", ".", "b"]) == [1, 2]
    assert fg.segment_ends(["a", "b"]) == [1]
    values = [[1.0, 3.0], [2.0], [0.0, 0.0, 4.0]]
    dense = fg.dense_rewards(values, [[1, 4], [2], [0, 1, 3]], width=5)
    assert dense.tolist() == [[0, 1, 0, 0, 3], [0, 0, 2, 0, 0], [0, 0, 0, 4, 0]]
    adv = fg.token_advantages(dense)  # sum of the values of the segments ending at or after t
    assert adv.tolist() == [[4, 4, 3, 3, 3], [2, 2, 2, 0, 0], [4, 4, 4, 4, 0]]
    # group normalisation pools every segment of the group (DeepSeekMath process supervision)
    norm = fg.normalise_segments(values[:2], 2, "group")
    pooled = np.array([1.0, 3.0, 2.0])
    expected = (pooled - 2.0) / (pooled.std(ddof=1) + 1e-4)
    assert np.allclose(np.concatenate(norm), expected)
    assert np.allclose(np.concatenate(fg.normalise_segments(values[:2], 2, "none")),
                       pooled - 2.0)


def test_one_segment_per_completion_reduces_to_grpo() -> None:
    g = torch.Generator().manual_seed(0)
    tok = torch.randn(4, 6, generator=g, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0],
                         [1, 1, 0, 0, 0, 0]], dtype=torch.float32)
    old = tok.detach() + 0.1 * torch.randn(4, 6, generator=g)
    rewards = [2.0, -1.0, 0.5, 3.0]
    ends = [[int(m.sum()) - 1] for m in mask]
    norm = fg.normalise_segments([[r] for r in rewards], 2, "group")
    adv = fg.token_advantages(fg.dense_rewards(norm, ends, 6)) * mask
    ours = fg.token_clipped_loss(tok, old, adv, mask, epsilon=0.2)
    seq = torch.tensor(rewards).view(-1, 2)
    seq_adv = ((seq - seq.mean(1, keepdim=True)) / (seq.std(1, keepdim=True) + 1e-4)).reshape(-1)
    expected = grpo_loss(tok, old, seq_adv, mask)
    assert float(ours.detach()) == pytest.approx(float(expected.detach()), abs=1e-6)


# ---------------------------------------------------------------- constrained RLHF
def test_lagrangian_and_projected_dual_ascent() -> None:
    r = np.array([1.0, 2.0])
    c = np.array([[1.0, 0.0], [2.0, 4.0]])
    assert np.allclose(lagrangian_rewards(r, c, np.array([0.5, 0.25])), [0.5, 0.0])
    # λ ← max(0, λ + η(ĉ − d)): grows while violated, projected at 0 once satisfied
    assert np.allclose(dual_ascent(np.array([0.2, 0.1]), np.array([3.0, 0.5]),
                                   np.array([1.0, 2.0]), 0.1), [0.4, 0.0])
    hist = [{"lambda_next": 0.3}]
    assert current_lambdas(hist, 1, np.zeros(1)).tolist() == [0.3]
    assert current_lambdas([], 1, np.full(1, 0.7)).tolist() == [0.7]


def test_primal_dual_reaches_the_constrained_optimum() -> None:
    """Best response π_λ ∝ π_ref exp((r − λc)/β) with dual ascent on λ converges to λ* with
    E_{π_λ*}[c] = d — the solution of max E[r] − β KL s.t. E[c] ≤ d."""
    r, c, beta, d = np.array([3.0, 2.0, 0.0]), np.array([4.0, 1.0, 0.0]), 1.0, 1.0

    def policy(lam: float) -> np.ndarray:
        z = (r - lam * c) / beta
        p = np.exp(z - z.max())
        return p / p.sum()

    lam = 0.0
    for _ in range(3000):
        lam = float(dual_ascent(np.array([lam]), np.array([policy(lam) @ c]), np.array([d]),
                                0.2)[0])
    star = brentq(lambda x: policy(x) @ c - d, 0.0, 10.0)
    assert lam == pytest.approx(star, abs=1e-6)
    assert policy(lam) @ c == pytest.approx(d, abs=1e-6) and policy(0.0) @ c > d


# ---------------------------------------------------------------- BRAIn
def test_brain_self_normalised_posterior_weights() -> None:
    ref = torch.log(torch.tensor([0.5, 0.25, 0.25, 0.2, 0.3, 0.5]))
    q = torch.log(torch.tensor([0.25, 0.25, 0.5, 0.2, 0.3, 0.5]))
    r = torch.tensor([1.0, 0.0, 2.0, 0.0, 0.0, 0.0])
    alpha = posterior_weights(ref, q, log_goodness(r, temperature=2.0), 3)
    w = np.array([0.5 / 0.25 * np.exp(0.5), 1.0, 0.25 / 0.5 * np.exp(1.0)])
    assert np.allclose(alpha[:3].numpy(), w / w.sum())
    assert np.allclose(alpha[3:].numpy(), 1 / 3)  # q = π_ref, equal rewards
    # BT goodness against the reference sample: log σ((r − r_ref)/τ)
    assert float(log_goodness(torch.tensor([1.0]), good="sigmoid",
                              reference_rewards=torch.tensor([1.0]))) == pytest.approx(
        np.log(0.5))
    assert np.allclose(baseline_weights(q, q, 3).numpy(), 1 / 3)  # on-policy: β_i = 1/K
    lp = torch.zeros(6, requires_grad=True)
    beta = torch.full((6,), 1 / 3)
    brain_loss(lp, alpha, beta, 3).backward()
    assert torch.allclose(lp.grad, -(alpha - beta) / 2)  # mean over the 2 prompts


def test_brain_fixed_point_is_the_reward_conditioned_posterior() -> None:
    """Samples = the whole support under a uniform proposal: the SNIS weights are the exact
    posterior π_ref·exp(r/τ)/Z (the KL-regularised optimum), the baselined loss has the gradient
    of KL(posterior ‖ π_θ) in the logits, and it vanishes exactly at π_θ = posterior."""
    ref = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1]))
    r, tau = torch.tensor([0.0, 1.0, 2.0, -1.0]), 0.5
    uniform = torch.full((4,), float(np.log(0.25)))
    alpha = posterior_weights(ref, uniform, log_goodness(r, temperature=tau), 4)
    target = (ref + r / tau).softmax(0)
    assert torch.allclose(alpha, target)
    for theta0 in (torch.tensor([0.3, -1.0, 2.0, 0.5]), target.log()):
        theta = theta0.clone().requires_grad_(True)
        logp = theta.log_softmax(0)
        brain_loss(logp, alpha, baseline_weights(logp.detach(), uniform, 4), 4).backward()
        assert torch.allclose(theta.grad, theta0.softmax(0) - target, atol=1e-6)
    assert theta.grad.abs().max() < 1e-6


# ---------------------------------------------------------------- the tiny model
def _trainer(tiny, algo: str, labeller=politeness, **kw) -> OnlineTrainer:
    model, tok = tiny
    params = kw.pop("algo_params", {})
    cfg = OnlineConfig(algo=algo, max_steps=kw.pop("max_steps", 1), seed=kw.pop("seed", 0),
                       algo_params=params, **{**SMALL, **kw})
    return OnlineTrainer(model, tok, labeller, PROMPTS, cfg, gold=politeness)


def _rollout(trainer: OnlineTrainer):
    cfg = trainer.config
    trainer.inner._ensure_engine()
    rollout = trainer._sample(trainer.step_prompts(0), cfg.samples_per_prompt,
                              trainer.step_seed(0))
    return rollout, rollout_token_logps(trainer.reference, rollout)


def test_pf_ppo_step_is_builtin_grpo_on_the_kept_samples(tiny) -> None:
    trainer = _trainer(tiny, "pf-ppo", algo_params={"strategy": "best-worst"}, beta=0.1)
    rollout, ref = _rollout(trainer)
    from prefkit.align.online.pf_ppo import step_loss

    record: dict[str, float] = {}
    ours = step_loss(trainer, rollout, ref, record)
    kept = filter_groups(politeness(rollout.sample_prompts, rollout.texts), 4, "best-worst")
    sub = rollout.select(kept.tolist())
    sub.prompts, sub.group_size = rollout.prompts, 2
    builtin = trainer._policy_gradient_loss(sub, ref[torch.as_tensor(kept)], {})
    assert float(ours.detach()) == pytest.approx(float(builtin.detach()), abs=1e-6)
    assert record["kept"] == 0.5 and "filter_r2" in record


def test_p3o_is_invariant_to_a_prompt_dependent_reward_shift(tiny) -> None:
    """An equivalent reward r(x, y) + c(x) gives the same P3O step (same loss and gradient)."""
    from prefkit.align.online.labellers import FunctionLabeller
    from prefkit.align.online.p3o import step_loss

    def shifted(prompts, completions):
        return politeness(prompts, completions) + np.array([len(p) % 7 for p in prompts])

    trainer = _trainer(tiny, "p3o", beta=0.1)
    rollout, ref = _rollout(trainer)
    assert rollout.group_size == 2
    grads, losses, gaps = [], [], []
    for labeller in (politeness, shifted):
        trainer.labeller = FunctionLabeller(labeller)
        trainer.model.zero_grad()
        record: dict[str, float] = {}
        loss = step_loss(trainer, rollout, ref, record)
        loss.backward()
        losses.append(float(loss.detach()))
        gaps.append(record["reward_gap"])
        grads.append(torch.cat([p.grad.reshape(-1) for p in trainer.model.parameters()
                                if p.grad is not None]))
    assert gaps[0] == gaps[1] > 0 and losses[0] == pytest.approx(losses[1], abs=1e-6)
    assert grads[0].abs().max() > 0 and torch.allclose(grads[0], grads[1], atol=1e-6)


def test_fine_grained_calls_segment_functions_and_lays_out_their_rewards(tiny, monkeypatch
                                                                        ) -> None:
    calls: list[tuple[str, list[str]]] = []

    def spy(prompt: str, segments: list[str]) -> list[float]:
        calls.append((prompt, list(segments)))
        return fg.politeness_segments(prompt, segments)

    monkeypatch.setattr(fg, "spy_segments", spy, raising=False)
    trainer = _trainer(tiny, "fine-grained", beta=0.0, algo_params={
        "segment_reward": "prefkit.align.online.fine_grained:spy_segments,"
                          "prefkit.align.online.fine_grained:politeness_segments",
        "segment_weights": [1.0, 0.5], "shaping": "delta"})
    rollout, ref = _rollout(trainer)
    record: dict[str, float] = {}
    loss = fg.step_loss(trainer, rollout, ref, record)
    assert len(calls) == len(rollout)
    ends, segs, _ = fg.rollout_segments(trainer.tokenizer, rollout, fg.DEFAULT_DELIMITERS)
    for (_, got), want, text in zip(calls, segs, rollout.texts, strict=True):
        assert got == want and " ".join(got).split() == text.split()
    values = [delta_steps(1.5 * politeness([""] * len(s), s)) for s in segs]
    adv = fg.token_advantages(fg.dense_rewards(fg.normalise_segments(values, 4), ends,
                                               rollout.completion_ids.shape[1]))
    tok, _ = completion_logps(trainer.model, rollout.prompt_ids, rollout.prompt_mask,
                                 rollout.completion_ids, rollout.completion_mask)
    mask = rollout.completion_mask.float()
    expected = fg.token_clipped_loss(tok, tok.detach(), adv * mask, mask)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), abs=1e-6)
    assert record["segments"] == pytest.approx(np.mean([len(e) for e in ends]))


def test_constrained_multiplier_follows_dual_ascent_across_a_resume(tiny_dir, tmp_path
                                                                     ) -> None:
    """λ is a function of the history: a run stopped after step 1 and resumed takes step 2
    with λ_2 = max(0, λ_1 + η(ĉ_1 − d)) from the saved record."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    params = {"cost": "words", "cost_limit": 2.0, "lambda_lr": 0.1, "lambda_init": 0.05}

    def run(max_steps, resume=False):
        pair = (AutoModelForCausalLM.from_pretrained(tiny_dir),
                AutoTokenizer.from_pretrained(tiny_dir))
        trainer = _trainer(pair, "constrained", max_steps=2, save_every=1, group_size=2,
                           algo_params=params)
        trainer.train(tmp_path, max_steps=max_steps, resume=resume, progress=False)
        return trainer

    run(1)
    hist = run(2, resume=True).history
    lam = 0.05
    for rec in hist:
        assert rec["lambda"] == pytest.approx(lam)
        lam = max(0.0, lam + 0.1 * (rec["cost"] - 2.0))
        assert rec["lambda_next"] == pytest.approx(lam)
    assert hist[0]["cost"] > 2.0 and hist[1]["lambda"] > hist[0]["lambda"]


def test_bad_method_settings_are_one_line_data_errors() -> None:
    from types import SimpleNamespace

    from prefkit.align.online.constrained import settings
    from prefkit.align.online.params import param
    from prefkit.align.online.policy_terms import load_function
    from prefkit.errors import DataError

    def fake(algo: str, **params):
        return SimpleNamespace(config=OnlineConfig(algo=algo, algo_params=params))

    assert param(fake("pf-ppo", k="2"), "k") == 2
    with pytest.raises(DataError, match=r"--algo-param: pf-ppo: k='two': expected an integer"):
        param(fake("pf-ppo", k="two"), "k")
    with pytest.raises(DataError, match="expected one of best-random, best-worst, best-of-n"):
        param(fake("pf-ppo", strategy="top"), "strategy")
    with pytest.raises(DataError, match="cost_limit=… is needed for cost json:loads"):
        settings(fake("constrained", cost="json:loads"))
    specs, limits, lr, init = settings(fake("constrained", cost="length,words",
                                            cost_limit=[3, 4]))
    assert specs == ["length", "words"] and limits.tolist() == [3.0, 4.0]
    assert lr == 0.05 and init.tolist() == [0.0, 0.0]
    with pytest.raises(DataError, match="'nowhere:fn': cannot load it"):
        load_function("nowhere:fn", "segment_reward")
