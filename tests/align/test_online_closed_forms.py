"""Closed forms of the online pieces: best-of-N KL, KL estimators, SPPO's fixed point on an
intransitive game, reward transforms, labeller aggregation and win rates, prompt files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prefkit.align.online.iterative_dpo import best_worst
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.labellers import (
    EnsembleLabeller,
    FunctionLabeller,
    LabellerError,
    PreferenceModelLabeller,
    aggregate,
)
from prefkit.align.online.overopt import bon_kl_exact, bon_kl_monte_carlo
from prefkit.align.online.prompts import read_prompts
from prefkit.align.online.sppo import sppo_loss
from prefkit.align.online.transforms import length_penalty, lsc, par, per_prompt_normalise
from prefkit.align.sampling import kl_bon
from prefkit.errors import DataError


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_best_of_n_kl_formula_matches_monte_carlo(n: int) -> None:
    rng = np.random.default_rng(n)
    probs, rewards = rng.dirichlet(np.ones(4000)), rng.normal(size=4000)
    estimate, se = bon_kl_monte_carlo(probs, rewards, n, samples=20000, seed=n)
    assert abs(estimate - kl_bon(n)) < 4 * se + 1e-3
    # the exact discrete KL is below the continuous formula and close to it on a fine support
    assert bon_kl_exact(probs, rewards, n) <= kl_bon(n) + 1e-9
    assert bon_kl_exact(probs, rewards, n) == pytest.approx(kl_bon(n), abs=1e-3)
    # a coarse support (3 outcomes) is far below: the formula is for tie-free rewards
    assert bon_kl_exact(np.ones(3), np.arange(3.0), n) < kl_bon(n) - 0.02


def test_kl_estimators_are_unbiased_for_a_categorical() -> None:
    g = torch.Generator().manual_seed(0)
    logits_p, logits_q = torch.randn(6, generator=g), torch.randn(6, generator=g)
    logp, logq = logits_p.log_softmax(0), logits_q.log_softmax(0)
    exact = float((logp.exp() * (logp - logq)).sum())
    for est in ("k1", "k3"):  # E_{y~p}[k(y)] = KL(p‖q), computed exactly over the support
        assert float((logp.exp() * kl_per_token(logp, logq, est)).sum()) == pytest.approx(exact)
    assert (kl_per_token(logp, logq, "k3") >= 0).all()
    assert ((kl_per_token(logp, logq, "k1")) < 0).any()


def test_sppo_finds_the_nash_mixture_of_rock_paper_scissors() -> None:
    """Minimising SPPO's loss exactly each iteration gives π_{t+1} ∝ π_t exp(η P(y ≻ π_t));
    the average iterate of this self-play reaches the minimax (uniform) mixture of an
    intransitive preference that no scalar reward can represent."""
    from scipy.optimize import minimize

    pref = np.array([[0.5, 0.9, 0.1], [0.1, 0.5, 0.9], [0.9, 0.1, 0.5]])  # cyclic
    pi = np.array([0.7, 0.2, 0.1])
    eta, rounds, average = 1.0, 40, np.zeros(3)
    start = float((pref @ pi).max() - 0.5)  # exploitability: best response's edge over ½
    for _ in range(rounds):
        win = torch.as_tensor(pref @ pi)
        ref = torch.as_tensor(np.log(pi))
        weights = torch.as_tensor(pi)

        def loss(logits: np.ndarray, weights=weights, ref=ref, win=win) -> float:
            """E_{y ~ π_t} of SPPO's loss, exactly."""
            logp = torch.as_tensor(logits).log_softmax(0)
            return float((weights * sppo_loss(logp, ref, win, eta=eta)).sum())

        new = np.exp(minimize(loss, np.log(pi), method="BFGS", options={"gtol": 1e-10}).x)
        new /= new.sum()
        target = pi * np.exp(eta * win.numpy())
        assert new == pytest.approx(target / target.sum(), abs=5e-3)
        pi = new
        average += pi / rounds
    assert start > 0.2
    assert float((pref @ average).max() - 0.5) < 0.04
    assert average == pytest.approx(np.full(3, 1 / 3), abs=0.05)


def test_reward_transforms() -> None:
    r, ref = np.array([0.0, 2.0, -1.0]), np.array([0.0, 1.0, 1.0])
    assert lsc(r, ref) == pytest.approx(np.log(1 / (1 + np.exp(-(r - ref)))))
    assert (lsc(r, ref) < 0).all()
    assert par(r, ref) == pytest.approx(1 / (1 + np.exp(-(r - ref))))
    assert par(r, np.stack([ref, ref + 1], 1)) == pytest.approx(
        0.5 * (1 / (1 + np.exp(-(r - ref))) + 1 / (1 + np.exp(-(r - ref - 1)))))
    z = per_prompt_normalise(np.array([1.0, 2.0, 3.0, 10.0, 10.0, 10.0]), 3)
    assert z[:3] == pytest.approx([-1, 0, 1], abs=1e-3)
    assert z[3:] == pytest.approx([0, 0, 0])
    assert length_penalty(np.zeros(3), np.array([2, 5, 9]), 0.5, free_tokens=4) == \
        pytest.approx([0, -0.5, -2.5])
    assert best_worst(np.array([1.0, 3.0, 2.0, 5.0, 5.0, 5.0]), 3) == [(1, 0)]


def test_labellers_aggregate_and_check() -> None:
    members = [FunctionLabeller(lambda p, c, k=k: [k * len(t) for t in c]) for k in (1, 2, 3)]
    texts = ["a", "bb"]
    rows = np.array([[1.0, 2, 3], [2, 4, 6]])
    for how in ("mean", "wco", "uwo"):
        lab = EnsembleLabeller(members, aggregation=how, lam=0.5)
        assert lab.rewards(["x", "x"], texts) == pytest.approx(aggregate(rows, how, 0.5))
    assert aggregate(rows, "wco") == pytest.approx([1, 2])
    assert aggregate(rows, "uwo", 0.5) == pytest.approx(rows.mean(1) - 0.5 * rows.var(1))
    # Bradley–Terry preferences and in-group win rates of a scalar labeller
    lab = FunctionLabeller(lambda p, c: [float(len(t)) for t in c])
    p = lab.preferences(["x"], ["aaa"], ["a"])
    assert p == pytest.approx([1 / (1 + math.exp(-2))])
    win = lab.win_rates(["x"] * 3, ["a", "aa", "aaa"], 3)
    s = lambda d: 1 / (1 + math.exp(-d))  # noqa: E731
    assert win == pytest.approx([(s(-1) + s(-2)) / 2, (s(1) + s(-1)) / 2, (s(2) + s(1)) / 2])
    # a pairwise model (predict_proba over pairwise records) labels pairs directly
    class Longer:
        def predict_proba(self, ds):
            a, b = ds.column("a_text"), ds.column("b_text")
            return np.array([0.9 if len(x) > len(y) else 0.1 for x, y in zip(a, b, strict=True)])

    pm = PreferenceModelLabeller(Longer())
    assert pm.preferences(["q", "q"], ["long", "s"], ["s", "long"]) == pytest.approx([0.9, 0.1])
    assert pm.group_rewards(["q"] * 2, ["long", "s"], 2) == pytest.approx([0.9, 0.1])
    with pytest.raises(LabellerError, match="pairwise preferences, not rewards"):
        pm.rewards(["q"], ["s"])
    bad = FunctionLabeller(lambda p, c: [float("nan")] * len(c), name="nan-rm")
    with pytest.raises(LabellerError, match="nan-rm: 2 of 2 labels are not finite"):
        bad.rewards(["x", "y"], ["a", "b"])
    short = FunctionLabeller(lambda p, c: [1.0], name="short")
    with pytest.raises(LabellerError, match="expected 2 labels"):
        short.rewards(["x", "y"], ["a", "b"])


def test_prompt_files_name_file_and_line(tmp_path) -> None:
    good = tmp_path / "p.jsonl"
    good.write_text('{"prompt": "hi"}\n\n{"messages": [{"role": "user", "content": "yo"}]}\n')
    assert read_prompts(good) == ["hi", "yo"]
    text = tmp_path / "p.txt"
    text.write_text("one\n two \n")
    assert read_prompts(text) == ["one", "two"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not JSON"):
        read_prompts(bad)
    bad.write_text('{"prompt": "ok"}\n{"text": "no prompt"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: no 'prompt'"):
        read_prompts(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(DataError, match="no prompts"):
        read_prompts(empty)
    with pytest.raises(DataError, match="no such prompts file"):
        read_prompts(tmp_path / "missing.jsonl")
