"""The game-theoretic online methods of the seed papers (docs/seeds.md rows 51, 77–79, 81, 82):
closed forms on small tensors and tabular games, then short runs on the tiny model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from prefkit.align.online.apo import extrapolate_logprobs, extrapolate_state
from prefkit.align.online.config import ALGORITHMS, OnlineConfig
from prefkit.align.online.egpo import (
    _half_step_direction,
    extragradient_surrogate,
    online_ipo_loss,
)
from prefkit.align.online.game_utils import preference_matrix, reinforce_term
from prefkit.align.online.gold import politeness
from prefkit.align.online.gpo import expected_scores, gpo_loss, preference_scores
from prefkit.align.online.hypo import hypo_loss
from prefkit.align.online.labellers import FunctionLabeller
from prefkit.align.online.mixture import mixture_logprobs, sample_mixture
from prefkit.align.online.nash_md import nash_md_loss, nash_md_tabular_step
from prefkit.align.online.spo import spo_rewards
from prefkit.align.tiny import synthetic_records

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})[:8]
TINY = {"prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4, "learning_rate": 5e-3}
GAMES = ("hypo", "gpo", "nash-md", "spo", "apo", "egpo")


def _table_labeller(table: dict[str, int], pref: np.ndarray) -> FunctionLabeller:
    """A pairwise labeller over named items with P(a ≻ b) = pref[a, b]."""
    def prefer(prompts, a, b):
        return [pref[table[u], table[v]] for u, v in zip(a, b, strict=True)]

    return FunctionLabeller(prefer, pairwise=True, name="table")


def test_games_are_registered() -> None:
    assert set(GAMES) <= set(ALGORITHMS)


# ------------------------------------------------------------------ Nash-MD and the mixture
def test_mixture_is_the_normalised_geometric_mean() -> None:
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.1, 0.3, 0.6])
    for beta in (0.0, 0.25, 1.0):
        expected = p ** (1 - beta) * q ** beta
        got = mixture_logprobs(p.log() + 3.0, q.log() - 1.0, beta).exp()  # logits, any offset
        assert got == pytest.approx(expected / expected.sum(), abs=1e-6)
    with pytest.raises(ValueError, match="mixture"):
        mixture_logprobs(p.log(), q.log(), 1.5)


def test_nash_md_pg_gradient_is_the_regularised_game_gradient() -> None:
    """E_{y~π}[∇ loss] = ∇[−P(π ≻ π^μ) + β KL(π‖π_ref)] (mixture fixed), exactly over the
    support of a categorical policy."""
    g = torch.Generator().manual_seed(1)
    n, beta = 5, 0.3
    upper = torch.rand(n, n, generator=g)
    pref = torch.triu(upper, 1) + torch.tril(1 - upper.T, -1) + 0.5 * torch.eye(n)
    theta = torch.randn(n, generator=g, requires_grad=True)
    ref = torch.randn(n, generator=g).log_softmax(0)
    mix = torch.randn(n, generator=g).softmax(0)
    logp = theta.log_softmax(0)
    p_vs_mix = pref @ mix  # P(y ≻ π^μ)
    surrogate = (logp.exp().detach() * nash_md_loss(logp, ref, p_vs_mix, beta=beta)).sum()
    (grad,) = torch.autograd.grad(surrogate, theta)
    logp2 = theta.log_softmax(0)
    objective = -(logp2.exp() * p_vs_mix).sum() + beta * (logp2.exp() * (logp2 - ref)).sum()
    (expected,) = torch.autograd.grad(objective, theta)
    assert grad == pytest.approx(expected, abs=1e-6)


def test_tabular_nash_md_reaches_the_regularised_equilibrium() -> None:
    """Last iterate → π*_τ ∝ μ exp(P(y ≻ π*_τ)/τ) on an intransitive game (to O(η))."""
    pref = np.array([[0.5, 0.9, 0.2, 0.6], [0.1, 0.5, 0.8, 0.6],
                     [0.8, 0.2, 0.5, 0.6], [0.4, 0.4, 0.4, 0.5]])
    mu, tau, eta = np.array([0.1, 0.2, 0.3, 0.4]), 0.1, 0.05
    star = mu.copy()  # the equilibrium by damped fixed-point iteration
    for _ in range(20000):
        target = mu * np.exp(pref @ star / tau)
        star = 0.97 * star + 0.03 * target / target.sum()
    target = mu * np.exp(pref @ star / tau)
    assert star == pytest.approx(target / target.sum(), abs=1e-9)
    pi = np.array([0.85, 0.05, 0.05, 0.05])
    for _ in range(6000):
        pi = nash_md_tabular_step(pi, mu, pref, eta=eta, tau=tau)
    assert np.abs(pi - star).max() < 2e-3
    assert np.abs(star - mu).max() > 0.1  # the game moved it far from μ


def test_mixture_sampler_endpoints_are_the_two_models(tiny) -> None:
    """Greedy mixture decoding with β = 0 / 1 is the policy's / reference's greedy decoding
    (checks the cached step-by-step loop, left padding and the EOS cut)."""
    from prefkit.align.online.sampling import left_pad
    from prefkit.align.pairs import encode_prompt

    model, tok = tiny
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    prompts = PROMPTS[:3]
    ids, mask = left_pad([encode_prompt(tok, p) for p in prompts], tok.pad_token_id)
    seen = []
    for beta, which in ((0.0, model), (1.0, reference)):
        got = sample_mixture(model, reference, tok, prompts, mixture=beta, max_new_tokens=8,
                             top_k=1)
        gen = which.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                             max_new_tokens=8, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        expected = [t.strip() for t in tok.batch_decode(gen[:, ids.shape[1]:],
                                                        skip_special_tokens=True)]
        assert got.texts == expected
        assert len(got) == 3 and got.group_size == 1
        seen.append(got.texts)
    assert seen[0] != seen[1]  # the two endpoints differ, so the check has teeth


# ------------------------------------------------------------------ SPO
def test_spo_reward_is_the_in_group_win_rate() -> None:
    items = {"rock": 0, "paper": 1, "scissors": 2, "well": 3}
    pref = np.array([[0.5, 0.2, 0.9, 0.3], [0.8, 0.5, 0.1, 0.6],
                     [0.1, 0.9, 0.5, 0.7], [0.7, 0.4, 0.3, 0.5]])
    labeller = _table_labeller(items, pref)
    texts = ["rock", "paper", "scissors", "well", "rock", "rock", "paper", "scissors"]
    matrix = preference_matrix(labeller, ["x"] * 8, texts, 4)
    soft = spo_rewards(matrix)
    assert soft == pytest.approx(labeller.win_rates(["x"] * 8, texts, 4))
    # by hand: rock vs (paper, scissors, well) = (0.2 + 0.9 + 0.3)/3
    assert soft[0] == pytest.approx(1.4 / 3)
    assert soft[4] == pytest.approx((0.5 + 0.2 + 0.9) / 3)  # a copy of itself is a tie
    hard = spo_rewards(matrix, hard=True)
    assert hard[0] == pytest.approx(1 / 3)  # beats scissors only
    assert hard[4] == pytest.approx((0.5 + 0 + 1) / 3)
    # the group rewards sum to K/2 (a constant-sum game)
    assert soft.reshape(2, 4).sum(1) == pytest.approx([2.0, 2.0])


def test_spo_self_play_concentrates_on_a_condorcet_winner() -> None:
    """A softmax policy trained on the self-play win rate (RLOO advantages, as ``spo``)
    finds the item that beats every other, although the others form a cycle."""
    from prefkit.align.online.rloo import rloo_advantages

    pref = np.array([[0.5, 0.6, 0.6, 0.6], [0.4, 0.5, 0.9, 0.1],
                     [0.4, 0.1, 0.5, 0.9], [0.4, 0.9, 0.1, 0.5]])
    theta = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    g = torch.Generator().manual_seed(0)
    k, groups = 4, 32
    for _ in range(200):
        logp = theta.log_softmax(0)
        y = torch.multinomial(logp.exp().detach(), groups * k, replacement=True,
                              generator=g).view(groups, k)
        matrix = pref[y.numpy()[:, :, None], y.numpy()[:, None, :]]
        reward = torch.as_tensor(spo_rewards(matrix), dtype=torch.float32)
        adv = rloo_advantages(reward, k)
        loss = -(adv * logp[y.reshape(-1)]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(theta.detach().softmax(0)[0]) > 0.9


# ------------------------------------------------------------------ GPO
def test_gpo_scores_are_the_gpm_scores() -> None:
    """P = σ(s) of a GPM (k = 2 rotation blocks, s(i ≻ j) = Σ_blocks v_i[0] v_j[1] − v_i[1] v_j[0],
    :mod:`prefkit.reward.gpm`) gives back s, and ŝ = its leave-one-out mean."""
    v = np.random.default_rng(0).normal(size=(4, 2, 2))
    s = (v[:, None, :, 0] * v[None, :, :, 1] - v[:, None, :, 1] * v[None, :, :, 0]).sum(-1)
    assert s == pytest.approx(-s.T)
    p = 1 / (1 + np.exp(-s))
    assert preference_scores(p) == pytest.approx(s, abs=1e-6)
    assert expected_scores(p[None]) == pytest.approx(s.sum(1) / 3, abs=1e-6)
    assert preference_scores(p, tau=0.5) == pytest.approx(0.5 * s, abs=1e-6)
    # a Bradley–Terry preference gives ŝ(y_i ≻ group) = r_i − mean_{j≠i} r_j
    r = np.array([0.3, -1.0, 2.0])
    bt = 1 / (1 + np.exp(-(r[:, None] - r[None, :])))
    assert expected_scores(bt[None]) == pytest.approx(r - (r.sum() - r) / 2, abs=1e-6)
    # the labeller path builds the same matrix; the loss is SPPO's square with ŝ
    labeller = _table_labeller({"a": 0, "b": 1, "c": 2, "d": 3}, p)
    matrix = preference_matrix(labeller, ["x"] * 4, ["a", "b", "c", "d"], 4)
    assert matrix[0] == pytest.approx(p, abs=1e-12)
    logps, ref = torch.tensor([-3.0, -2.0]), torch.tensor([-2.5, -2.5])
    scores = torch.tensor([0.4, -0.4])
    assert gpo_loss(logps, ref, scores, eta=2.0) == pytest.approx(
        torch.tensor([(-0.5 - 0.8) ** 2, (0.5 + 0.8) ** 2]))


# ------------------------------------------------------------------ HyPO
def test_hypo_is_dpo_plus_lambda_times_the_online_kl() -> None:
    g = torch.Generator().manual_seed(2)
    dpo = torch.rand(3, generator=g)
    logps, ref = -5 * torch.rand(4, generator=g), -5 * torch.rand(4, generator=g)
    value = hypo_loss(dpo, logps, ref, 2, lam=0.7)
    assert float(value) == pytest.approx(float(dpo.mean() + 0.7 * (logps - ref).mean()))
    # the gradient of the KL term is the REINFORCE gradient of KL(π‖π_ref): Monte Carlo on a
    # categorical policy against the exact gradient
    theta = torch.randn(6, generator=g, requires_grad=True)
    ref_lp = torch.randn(6, generator=g).log_softmax(0)
    logp = theta.log_softmax(0)
    y = torch.multinomial(logp.exp().detach(), 40_000, replacement=True, generator=g)
    term = reinforce_term(logp[y].detach() - ref_lp[y], logp[y], 4)
    (mc,) = torch.autograd.grad(term, theta)
    exact_logp = theta.log_softmax(0)
    (exact,) = torch.autograd.grad((exact_logp.exp() * (exact_logp - ref_lp)).sum(), theta)
    assert mc == pytest.approx(exact, abs=0.03)
    assert float(exact.abs().max()) > 0.1


# ------------------------------------------------------------------ APO
def test_apo_extrapolation_is_the_nesterov_step() -> None:
    g = torch.Generator().manual_seed(3)
    old, new = torch.randn(7, generator=g), torch.randn(7, generator=g)
    p_old, p_new = old.softmax(0), new.softmax(0)
    for alpha in (0.0, 0.3, 1.0):
        target = p_new * (p_new / p_old) ** alpha
        got = extrapolate_logprobs(p_new.log(), p_old.log(), alpha).exp()
        assert got == pytest.approx(target / target.sum(), abs=1e-6)
        # on logit parameters the weight extrapolation is the same distribution
        state = extrapolate_state({"w": new, "n": torch.tensor(3)}, {"w": old,
                                                                    "n": torch.tensor(1)},
                                  alpha)
        assert state["w"].softmax(0) == pytest.approx(target / target.sum(), abs=1e-6)
        assert int(state["n"]) == 3  # integer buffers are not extrapolated


# ------------------------------------------------------------------ EGPO
def test_egpo_pieces() -> None:
    from prefkit.align.losses.ipo import ipo_loss

    g = torch.Generator().manual_seed(4)
    logps, ref = -5 * torch.rand(6, generator=g), -5 * torch.rand(6, generator=g)
    tau = 0.2
    # a sure preference (p = 1) is IPO on (first, second) as (chosen, rejected)
    ipo = ipo_loss(logps[0::2], logps[1::2], ref[0::2], ref[1::2], beta=tau).losses
    assert online_ipo_loss(logps, ref, torch.ones(3), tau=tau) == pytest.approx(ipo)
    # p = ½ regresses the margin to 0; swapping the pair and p gives the same loss
    assert online_ipo_loss(logps, ref, torch.full((3,), 0.5), tau=tau) == pytest.approx(
        ((logps - ref)[0::2] - (logps - ref)[1::2]) ** 2)
    swapped = torch.stack([logps[1::2], logps[0::2]], 1).reshape(-1)
    swapped_ref = torch.stack([ref[1::2], ref[0::2]], 1).reshape(-1)
    p = torch.tensor([0.9, 0.3, 0.6])
    assert online_ipo_loss(swapped, swapped_ref, 1 - p, tau=tau) == pytest.approx(
        online_ipo_loss(logps, ref, p, tau=tau))
    # the surrogate has the given value and gradient
    w = torch.randn(3, requires_grad=True, generator=g)
    given = torch.tensor([1.0, -2.0, 0.5])
    out = extragradient_surrogate([w], [given], torch.tensor(7.0))
    (grad,) = torch.autograd.grad(out, w)
    assert float(out.detach()) == 7.0 and grad == pytest.approx(given)
    # the half step is the step AdamW would take (no weight decay, lr 1)
    q = torch.nn.Parameter(torch.randn(5, generator=g))
    opt = torch.optim.AdamW([q], lr=1.0, weight_decay=0.0)
    for _ in range(2):
        assert _half_step_direction(opt, q, q.detach() * 0 + 1).shape == q.shape
        q.grad = torch.randn(5, generator=g)
        direction = _half_step_direction(opt, q, q.grad)
        before = q.detach().clone()
        opt.step()
        assert before - direction == pytest.approx(q.detach(), abs=1e-6)


# ------------------------------------------------------------------ the trainer, tiny model
def test_apo_reference_is_the_extrapolated_iterate(tiny) -> None:
    from prefkit.align.online.trainer import OnlineTrainer

    model, tok = tiny
    theta = [{k: v.detach().clone() for k, v in model.state_dict().items()}]
    cfg = OnlineConfig(algo="apo", max_steps=2, refresh_every=1, prompts_per_step=1,
                       group_size=2, max_new_tokens=5, learning_rate=5e-3,
                       algo_params={"alpha": 0.5})
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
    trainer.train(progress=False, callback=lambda t, r: theta.append(
        {k: v.detach().clone() for k, v in t.model.state_dict().items()}))
    ref = trainer.reference.state_dict()
    # refreshed at the start of step 2: π̂_1 = θ_1 + ½(θ_1 − θ_0)
    moved = 0
    for k, v in ref.items():
        expected = theta[1][k] + 0.5 * (theta[1][k] - theta[0][k])
        assert torch.allclose(v, expected, atol=1e-7), k
        moved += int(not torch.equal(theta[1][k], theta[0][k]))
    assert moved > 0


def test_hypo_on_an_offline_file(tiny, tmp_path) -> None:
    """At θ = π_ref the step-1 loss is log 2 (DPO) + λ·0 (KL); the offline DPO loss falls."""
    import json

    from prefkit.align.online.trainer import OnlineTrainer

    model, tok = tiny
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": p, "a_text": "sure ! the cat is kind .", "b_text": "whatever . ugh .",
             "winner": "a"} for p in PROMPTS[:4]]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cfg = OnlineConfig(algo="hypo", max_steps=2, beta=0.5, **{**TINY, "prompts_per_step": 1},
                       algo_params={"pairs": str(path), "lam": 0.2})
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
    hist = trainer.train(progress=False)
    assert hist[0]["offline_dpo"] == pytest.approx(np.log(2), abs=1e-5)
    assert abs(hist[0]["online_kl"]) < 1e-4
    for h in hist:
        assert h["loss"] == pytest.approx(h["offline_dpo"] + 0.2 * h["online_kl"], abs=1e-4)
    assert hist[-1]["offline_dpo"] < hist[0]["offline_dpo"] - 0.01


@pytest.mark.parametrize("algo", ["nash-md", "egpo"])
def test_mixture_methods_train(tiny, algo: str) -> None:
    """One step: the mixture opponents are labelled (P in [0, 1]) and the policy moves."""
    from prefkit.align.online.trainer import OnlineTrainer

    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = OnlineConfig(algo=algo, max_steps=1, prompts_per_step=1, group_size=2,
                       max_new_tokens=4, learning_rate=5e-3, algo_params={"mixture": 0.5})
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
    hist = trainer.train(progress=False)
    key = "p_vs_mixture" if algo == "nash-md" else "p_first"
    assert all(0.0 <= h[key] <= 1.0 for h in hist)
    assert all(np.isfinite(h["loss"]) for h in hist)
    assert any(not torch.equal(v, before[k]) for k, v in trainer.model.state_dict().items())
    if algo == "egpo":
        assert hist[0]["loss"] == pytest.approx(hist[0]["half_step_loss"])


def test_unknown_or_bad_settings_are_one_line_errors() -> None:
    from types import SimpleNamespace

    from prefkit.align.online.params import AlgoParamError, param
    from prefkit.errors import PrefkitError

    def trainer(algo: str, **params):
        return SimpleNamespace(config=OnlineConfig(algo=algo, algo_params=params))

    with pytest.raises(AlgoParamError, match="--algo-param: nash-md: unknown key 'mixtrue' "
                       r"\(accepted: mixture\)"):
        param(trainer("nash-md", mixtrue=0.5), "mixture")
    with pytest.raises(PrefkitError, match="hard='maybe': expected true or false"):
        param(trainer("spo", hard="maybe"), "hard")
    with pytest.raises(AlgoParamError, match="expected one of rloo, grpo"):
        param(trainer("spo", estimator="ppo"), "estimator")
    assert param(trainer("nash-md"), "mixture") == 0.125
