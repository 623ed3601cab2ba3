"""The seed-paper losses of issue 19: LN-DPO, TPO, CoPG, SparsePO, Rationale-DPO, MODPO, SmPO,
RankList — parity with TRL where TRL has the loss, closed-form limits otherwise, a few training
steps on the tiny model, and the ``--loss`` command-line contract."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from prefkit.align.lists import synthetic_rankings
from prefkit.align.losses import (
    copg_loss,
    cpo_loss,
    dpo_loss,
    get_loss,
    ipo_loss,
    ln_dpo_loss,
    loss_names,
    modpo_loss,
    plackett_luce_loss,
    preference_strength,
    pro_loss,
    ranklist_loss,
    rationale_dpo_loss,
    selm_loss,
    smpo_loss,
    sparsepo_loss,
    sparsepo_token_loss,
    tpo_loss,
)
from prefkit.align.pairs import TokenPairs, pair_logps
from prefkit.align.tiny import synthetic_records
from prefkit.align.trainer import AlignConfig, AlignTrainer
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError

ATOL = 1e-9


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dpo", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 4, "batch_size": 4}
    return AlignConfig(**{**base, **kw})


@pytest.fixture
def b() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = 8

    def lp() -> torch.Tensor:
        return -torch.rand(n, generator=g, dtype=torch.float64) * 30 - 1

    return {"pc": lp(), "pr": lp(), "rc": lp(), "rr": lp(),
            "lc": torch.randint(1, 12, (n,), generator=g),
            "lr": torch.randint(1, 12, (n,), generator=g)}


# ------------------------------------------------------------------------------ TRL parity
class _Accel:
    device = torch.device("cpu")

    @staticmethod
    def gather_for_metrics(x):
        return x

    gather = gather_for_metrics


def _trl_dpo_per_pair(loss_type: str, pc, pr, rc, rr, lc, lr, *, beta: float) -> float:
    """TRL DPOTrainer._compute_loss on one pair whose per-token log-probs we choose."""
    from trl import DPOTrainer

    k_c, k_r = int(lc), int(lr)
    width = max(k_c, k_r) + 2
    per_token = torch.zeros(2, width - 1, dtype=pc.dtype)
    mask = torch.zeros(2, width, dtype=torch.long)
    per_token[0, :k_c], per_token[1, :k_r] = pc / k_c, pr / k_r
    mask[0, 1:1 + k_c], mask[1, 1:1 + k_r] = 1, 1

    class Model:
        training = True

        def __call__(self, **kwargs):
            z = torch.zeros_like(per_token)
            return SimpleNamespace(log_probs=per_token, entropy=z, mean_logits=z,
                                   is_top1=z.bool())

    model = Model()
    fake = SimpleNamespace(
        model=model, accelerator=_Accel(), aux_loss_enabled=False, ld_alpha=None,
        precompute_ref_logps=True, f_divergence_type="reverse_kl", loss_types=[loss_type],
        loss_weights=[1.0], beta=beta, label_smoothing=0.0, use_weighting=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0, _tp_size=1, args=SimpleNamespace(discopop_tau=0.05),
    )
    inputs = {"input_ids": torch.ones(mask.shape, dtype=torch.long),
              "attention_mask": torch.ones(mask.shape, dtype=torch.long),
              "completion_mask": mask, "ref_chosen_logps": rc.reshape(1),
              "ref_rejected_logps": rr.reshape(1)}
    return float(DPOTrainer._compute_loss(fake, model, inputs, return_outputs=False))


@pytest.mark.parametrize("beta", [0.1, 0.7])
def test_ln_dpo_matches_trl_sigmoid_norm(b, beta: float) -> None:
    pytest.importorskip("trl")
    mine = ln_dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=beta,
                       chosen_lengths=b["lc"], rejected_lengths=b["lr"]).losses
    for i in range(len(mine)):
        theirs = _trl_dpo_per_pair("sigmoid_norm", b["pc"][i], b["pr"][i], b["rc"][i],
                                   b["rr"][i], b["lc"][i], b["lr"][i], beta=beta)
        assert mine[i].item() == pytest.approx(theirs, abs=1e-6)


@pytest.mark.parametrize(("beta", "alpha"), [(0.1, 0.5), (0.8, 1.5)])
def test_tpo_matches_trl_tpo_trainer(beta: float, alpha: float) -> None:
    """TRL's experimental TPOTrainer on (chosen, rejected, gold) rows of the same logits."""
    pytest.importorskip("trl")
    from trl.experimental.tpo import TPOTrainer

    torch.manual_seed(1)
    n, width, vocab = 4, 9, 13
    logits = torch.randn(3 * n, width, vocab, dtype=torch.float64)
    ids = torch.randint(0, vocab, (3 * n, width))
    mask = torch.zeros(3 * n, width, dtype=torch.long)
    mask[:, 3:] = 1  # prompt of 3 tokens; equal completion lengths (TRL averages over all tokens)
    mask[:n, -2:] = 0  # chosen responses shorter: summed log-probs must still agree

    class Model:
        training = True

        def __call__(self, **kwargs):
            return SimpleNamespace(logits=logits)

    model = Model()
    fake = SimpleNamespace(model=model, tpo_alpha=alpha, loss_type="sigmoid", beta=beta,
                           label_smoothing=0.0, tpo_l_gamma=0.0, accelerator=_Accel(),
                           _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
                           _total_train_tokens=0, _tp_size=1)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "completion_mask": mask}
    theirs = float(TPOTrainer._compute_loss(fake, model, inputs, return_outputs=False))

    tok = logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    tok_mask = mask[:, 1:].to(tok.dtype)
    logps, lengths = (tok * tok_mask).sum(-1), tok_mask.sum(-1)
    mine = tpo_loss(logps[:n], logps[n:2 * n], beta=beta, alpha=alpha,
                    gold_logps=logps[2 * n:], gold_lengths=lengths[2 * n:])
    assert mine.losses.mean().item() == pytest.approx(theirs, abs=1e-9)


# ------------------------------------------------------------------------------ closed forms
def test_ln_dpo_with_equal_lengths_is_dpo_with_beta_over_length(b) -> None:
    n = torch.full_like(b["lc"], 7)
    ln = ln_dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.7, chosen_lengths=n,
                     rejected_lengths=n)
    ref = dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.1)
    torch.testing.assert_close(ln.losses, ref.losses, atol=ATOL, rtol=0)
    # unequal lengths: the long response is no longer favoured just for its length
    assert not torch.allclose(
        ln_dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.7, chosen_lengths=b["lc"],
                    rejected_lengths=b["lr"]).losses, ln.losses)


def test_tpo_without_gold_is_cpo_on_the_chosen_response(b) -> None:
    mine = tpo_loss(b["pc"], b["pr"], beta=0.2, alpha=0.5, chosen_lengths=b["lc"])
    cpo = cpo_loss(b["pc"], b["pr"], beta=0.2, alpha=0.5, chosen_lengths=b["lc"])
    torch.testing.assert_close(mine.losses, cpo.losses, atol=ATOL, rtol=0)
    gold = tpo_loss(b["pc"], b["pr"], beta=0.2, alpha=0.5, gold_logps=b["rc"],
                    gold_lengths=b["lr"])
    pref = tpo_loss(b["pc"], b["pr"], beta=0.2, alpha=0.0)
    torch.testing.assert_close(gold.losses - pref.losses, 0.5 * -b["rc"] / b["lr"],
                               atol=ATOL, rtol=0)


@pytest.mark.parametrize("beta", [0.05, 0.3, 2.0])
def test_copg_with_a_unit_preference_reward_is_scaled_ipo(b, beta: float) -> None:
    """(1 − βh)² = β²·(h − 1/β)² = β² × IPO with τ = β/2 (the paper's IPO special case)."""
    copg = copg_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=beta)
    ipo = ipo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=beta / 2)
    torch.testing.assert_close(copg.losses, beta**2 * ipo.losses, atol=1e-9, rtol=1e-9)


def test_copg_is_zero_where_the_implicit_reward_gap_equals_the_reward_gap(b) -> None:
    beta = 0.4
    h = (b["pc"] - b["rc"]) - (b["pr"] - b["rr"])
    out = copg_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=beta, reward_margin=beta * h)
    torch.testing.assert_close(out.losses, torch.zeros_like(h), atol=1e-12, rtol=0)
    pc = b["pc"].clone().requires_grad_(True)
    copg_loss(pc, b["pr"], b["rc"], b["rr"], beta=beta, reward_margin=beta * h + 1.0
              ).losses.sum().backward()
    assert bool((pc.grad < 0).all())  # the reward gap is larger: raise the chosen log-prob
    # soft labels: margin 2p − 1, so a tie (p = ½) targets a zero gap
    tie = copg_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=beta, p=0.5)
    torch.testing.assert_close(tie.losses, (beta * h) ** 2, atol=1e-9, rtol=0)


def test_sparsepo_all_ones_masks_is_dpo_and_masked_tokens_get_no_gradient() -> None:
    g = torch.Generator().manual_seed(3)
    tok = [-torch.rand(5, 6, generator=g, dtype=torch.float64) for _ in range(4)]
    tok[0].requires_grad_(True)
    ones = torch.ones(5, 6, dtype=torch.float64)
    full = sparsepo_token_loss(*tok, chosen_reward_mask=ones, rejected_reward_mask=ones,
                               beta=0.3)
    dpo = dpo_loss(*(t.sum(-1) for t in tok), beta=0.3)
    torch.testing.assert_close(full.losses, dpo.losses, atol=ATOL, rtol=0)
    sparse = ones.clone()
    sparse[:, ::2] = 0.0
    out = sparsepo_token_loss(*tok, chosen_reward_mask=sparse, rejected_reward_mask=ones,
                              beta=0.3)
    out.losses.sum().backward()
    assert bool((tok[0].grad[:, ::2] == 0).all()) and bool((tok[0].grad[:, 1::2] != 0).all())
    # the KL term: equal KL on both sides cancels; more KL on the chosen side raises the loss
    kl = torch.rand(5, 6, generator=g, dtype=torch.float64)
    same = sparsepo_token_loss(*(t.detach() for t in tok), chosen_reward_mask=ones,
                               rejected_reward_mask=ones, chosen_kl=kl, rejected_kl=kl, beta=0.3)
    torch.testing.assert_close(same.losses, dpo.losses, atol=ATOL, rtol=0)
    more = sparsepo_token_loss(*(t.detach() for t in tok), chosen_reward_mask=ones,
                               rejected_reward_mask=ones, chosen_kl=kl + 0.1, rejected_kl=kl,
                               beta=0.3)
    assert bool((more.losses > dpo.losses).all())


def test_sparsepo_sequence_form_is_dpo_with_scaled_beta(b) -> None:
    seq = sparsepo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.5, reward_mask=0.2)
    torch.testing.assert_close(seq.losses, dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"],
                                                    beta=0.1).losses, atol=ATOL, rtol=0)


def test_rationale_dpo_adds_the_per_token_rationale_nll(b) -> None:
    rat, lens = -torch.rand(8, dtype=torch.float64) * 20, b["lc"]
    dpo = dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2)
    zero = rationale_dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], rationale_logps=rat,
                              beta=0.2, gamma=0.0)
    torch.testing.assert_close(zero.losses, dpo.losses, atol=ATOL, rtol=0)
    out = rationale_dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], rationale_logps=rat,
                             rationale_lengths=lens, beta=0.2, gamma=0.7)
    torch.testing.assert_close(out.losses - dpo.losses, -0.7 * rat / lens, atol=ATOL, rtol=0)


def test_modpo_with_one_objective_is_dpo_and_the_margin_enters_as_in_the_paper(b) -> None:
    dpo = dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.3)
    one = modpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.3, w0=1.0)
    torch.testing.assert_close(one.losses, dpo.losses, atol=ATOL, rtol=0)
    g = torch.Generator().manual_seed(5)
    mc, mr = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(
        8, 2, generator=g, dtype=torch.float64)
    w0, w = 0.4, torch.tensor([0.35, 0.25], dtype=torch.float64)
    out = modpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.3, w0=w0, other_weights=w,
                     margin_chosen=mc, margin_rejected=mr)
    h = (b["pc"] - b["rc"]) - (b["pr"] - b["rr"])
    expected = -F.logsigmoid((0.3 * h - (mc - mr) @ w) / w0)
    torch.testing.assert_close(out.losses, expected, atol=ATOL, rtol=0)
    # the optimum of the collective reward: β·h = w0·Δr0 + w·Δr, and two objectives default to
    # w1 = 1 − w0
    two = modpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.3, w0=0.25,
                     margin_chosen=mc[:, 0], margin_rejected=mr[:, 0])
    expected = -F.logsigmoid((0.3 * h - 0.75 * (mc[:, 0] - mr[:, 0])) / 0.25)
    torch.testing.assert_close(two.losses, expected, atol=ATOL, rtol=0)


def test_smpo_scales_the_logit_by_two_p_minus_one(b) -> None:
    dpo = dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2)
    torch.testing.assert_close(smpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2).losses,
                               dpo.losses, atol=ATOL, rtol=0)
    pc = b["pc"].clone().requires_grad_(True)
    tie = smpo_loss(pc, b["pr"], b["rc"], b["rr"], beta=0.2, p=0.5)
    tie.losses.sum().backward()
    assert torch.allclose(tie.losses, torch.full_like(tie.losses, np.log(2)))
    assert bool((pc.grad == 0).all())  # the vanishing signal of near-equal pairs
    # p = 0: the reward model says the other response is better — DPO with the pair swapped
    flipped = smpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2, p=0.0)
    swapped = dpo_loss(b["pr"], b["pc"], b["rr"], b["rc"], beta=0.2)
    torch.testing.assert_close(flipped.losses, swapped.losses, atol=ATOL, rtol=0)
    p = preference_strength([2.0, 0.0, -1.0], [0.0, 0.0, 1.0], temperature=2.0)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-np.array([1.0, 0.0, -1.0]))))
    with pytest.raises(ValueError, match="temperature"):
        preference_strength(1.0, 0.0, temperature=0.0)


def test_ranklist_reduces_to_dpo_plackett_luce_and_adjacent_ranknet() -> None:
    g = torch.Generator().manual_seed(2)
    pol = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 10
    ref = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 10
    two = ranklist_loss(pol[:, :2], ref[:, :2], beta=0.5)
    dpo = dpo_loss(pol[:, 0], pol[:, 1], ref[:, 0], ref[:, 1], beta=0.5)
    torch.testing.assert_close(two.losses, dpo.losses, atol=ATOL, rtol=0)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    torch.testing.assert_close(ranklist_loss(pol, ref, beta=0.5, mask=mask).losses,
                               plackett_luce_loss(pol, ref, beta=0.5, mask=mask).losses,
                               atol=1e-9, rtol=0)
    s = 0.5 * (pol - ref)
    adjacent = sum(-F.logsigmoid(s[:, i] - s[:, i + 1]) for i in range(3))
    torch.testing.assert_close(ranklist_loss(pol, ref, beta=0.5, skip=1).losses, adjacent,
                               atol=ATOL, rtol=0)


def test_pro_constant_temperature_is_plackett_luce_and_dynamic_follows_the_formula() -> None:
    g = torch.Generator().manual_seed(4)
    pol = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 10
    lengths = torch.randint(1, 9, (3, 4), generator=g).to(torch.float64)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    labels = torch.tensor([[3.0, 2.0, 2.0, 0.0], [2.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
                          dtype=torch.float64)
    flat = pro_loss(pol, labels, mask=mask, dynamic_temperature=0)
    pl = plackett_luce_loss(pol, None, beta=1.0, mask=mask)
    torch.testing.assert_close(flat.losses, pl.losses, atol=1e-9, rtol=0)
    out = pro_loss(pol, labels, mask=mask, lengths=lengths, nll_weight=0.3)
    s = pol / lengths
    for b_ in range(3):
        n = int(mask[b_].sum())
        total = 0.0
        for k in range(n - 1):
            inv = [float(labels[b_, k] - labels[b_, i]) for i in range(k + 1, n)]
            z = [max(inv) * float(s[b_, k])] + [t * float(s[b_, i])
                                                for t, i in zip(inv, range(k + 1, n), strict=True)]
            total -= z[0] - float(torch.logsumexp(torch.tensor(z, dtype=torch.float64), 0))
        total -= 0.3 * float(s[b_, 0])
        assert out.losses[b_].item() == pytest.approx(total, abs=1e-9)


def test_selm_adds_the_signed_sample_log_ratio(b) -> None:
    dpo = dpo_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2)
    sample, ref_sample = b["pc"] - 1.0, b["rc"] + 0.5
    for alpha in (0.0, 0.3, -0.3):
        out = selm_loss(b["pc"], b["pr"], b["rc"], b["rr"], sample_logps=sample,
                        ref_sample_logps=ref_sample, beta=0.2, alpha=alpha)
        torch.testing.assert_close(out.losses - dpo.losses,
                                   alpha * 0.2 * (sample - ref_sample), atol=ATOL, rtol=0)
    torch.testing.assert_close(selm_loss(b["pc"], b["pr"], b["rc"], b["rr"], beta=0.2).losses,
                               dpo.losses, atol=ATOL, rtol=0)


# ------------------------------------------------------------------------------ training
def _with_columns(n: int, seed: int, **columns: Any) -> PreferenceDataset:
    """Synthetic pairs plus extra columns; a callable gets (record, good_is_a)."""
    records = synthetic_records(n, seed=seed)
    for r in records:
        good_is_a = r["winner"] == "a"
        for name, value in columns.items():
            r[name] = value(r, good_is_a) if callable(value) else value
    return PreferenceDataset.from_records(records, kind="pairwise")


def _rewards(r: dict[str, Any], good_is_a: bool) -> float:
    return 1.0 if good_is_a else -1.0


@pytest.mark.parametrize(("loss", "beta", "params"), [
    ("ln_dpo", 2.0, {}), ("tpo", 0.1, {}), ("copg", 0.1, {}), ("sparsepo", 0.5, {}),
    ("smpo", 0.1, {}),
])
def test_new_pairwise_losses_train(tiny, loss: str, beta: float, params: dict) -> None:
    model, tok = tiny
    trainer = AlignTrainer(model, tok, _cfg(loss=loss, beta=beta, loss_params=params,
                                            max_steps=4))
    hist = trainer.train(_with_columns(12, 7))
    assert all(np.isfinite(h["loss"]) for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["reward_margin"] > hist[0]["reward_margin"]


def test_copg_and_modpo_read_the_reward_columns(tiny) -> None:
    model, tok = tiny
    # a_reward/b_reward: a second objective that agrees with the label
    data = _with_columns(12, 7, a_reward=lambda r, a: 1.0 if a else 0.0,
                         b_reward=lambda r, a: 0.0 if a else 1.0)
    ref = copy.deepcopy(model)
    for loss, params in (("copg", {}), ("modpo", {"w0": 0.5})):
        trainer = AlignTrainer(copy.deepcopy(ref), tok, _cfg(loss=loss, beta=0.1,
                                                             loss_params=params, max_steps=4),
                               reference_model=ref)
        pairs = trainer.prepare(data)
        assert pairs.rewards is not None
        np.testing.assert_array_equal(pairs.rewards, np.tile([1.0, 0.0], (12, 1)))
        hist = trainer.train(data)
        assert hist[-1]["loss"] < hist[0]["loss"]
    ev = trainer.evaluate(data)
    assert np.isfinite(ev["loss"]) and ev["n"] == 12
    with pytest.raises(DataError, match="a_reward"):
        AlignTrainer(model, tok, _cfg(loss="modpo")).prepare(_with_columns(4, 1))


def test_rationale_dpo_learns_the_rationale_and_the_preference(tiny) -> None:
    model, tok = tiny
    why = "the first is kind and helpful and the second is rude ."
    data = _with_columns(12, 3, rationale=why)
    trainer = AlignTrainer(model, tok, _cfg(loss="rationale", beta=0.1, max_steps=5,
                                            learning_rate=3e-3),
                           reference_model=copy.deepcopy(model))
    pairs = trainer.prepare(data)
    assert len(pairs.rationale_ids) == 12 and all(pairs.rationale_ids)
    spec = get_loss("rationale")
    from prefkit.align.objectives.extras import ExtrasObjective, no_grad_forward

    objective = ExtrasObjective(spec, trainer.config)
    idx = np.arange(12)

    def rationale_nll() -> float:
        got = objective.extra_inputs(pairs, idx, no_grad_forward(trainer.model),
                                     torch.device("cpu"), pad_id=tok.pad_token_id, batch_size=6)
        return float((-got["rationale_logps"] / got["rationale_lengths"]).mean())

    before = rationale_nll()
    hist = trainer.train(data)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert rationale_nll() < before - 0.1
    assert hist[-1]["reward_margin"] > 0
    ev = trainer.evaluate(data)
    assert ev["implicit_reward_accuracy"] > 0.5 and np.isfinite(ev["loss"])


def test_selm_sign_lowers_or_raises_the_reference_sample(tiny) -> None:
    """Optimism (α > 0) moves the policy away from the reference's sample, pessimism toward."""
    model, tok = tiny
    data = _with_columns(12, 5, sample_text=lambda r, a: f"sure ! {r['prompt']} ! is calm .")
    ratio = {}
    for alpha in (2.0, -2.0):
        ref = copy.deepcopy(model)
        trainer = AlignTrainer(copy.deepcopy(model), tok,
                               _cfg(loss="vpo", loss_params={"alpha": alpha}, max_steps=4),
                               reference_model=ref)
        hist = trainer.train(data)
        assert all(np.isfinite(h["loss"]) for h in hist)
        pairs = trainer.prepare(data)
        samples = TokenPairs(pairs.prompt_ids, pairs.sample_ids, pairs.sample_ids, pairs.p,
                             pairs.weights)
        pol = pair_logps(trainer.model, samples, pad_id=tok.pad_token_id)["chosen"]
        base = pair_logps(ref, samples, pad_id=tok.pad_token_id)["chosen"]
        ratio[alpha] = float((pol - base).mean())
    assert ratio[2.0] < 0 < ratio[-2.0]
    with pytest.raises(DataError, match="sample_text"):
        AlignTrainer(model, tok, _cfg(loss="selm")).prepare(_with_columns(4, 1))


def test_rationale_dpo_without_rationales_is_a_one_line_data_error(tiny) -> None:
    model, tok = tiny
    trainer = AlignTrainer(model, tok, _cfg(loss="rationale_dpo"))
    with pytest.raises(DataError, match="rationale") as err:
        trainer.prepare(_with_columns(4, 1))
    assert "\n" not in str(err.value)
    records = synthetic_records(3, seed=2)
    records[0]["rationale"], records[1]["rationale"] = "kind .", "calm ."
    with pytest.raises(DataError, match="record 2") as err:
        trainer.prepare(PreferenceDataset.from_records(records, kind="pairwise"))


@pytest.mark.parametrize("loss", ["ranklist", "pro"])
def test_listwise_seed_losses_train_on_ranked_lists(tiny, loss: str) -> None:
    model, tok = tiny
    params = {"pro": {"nll_weight": 0.1}}.get(loss, {})
    trainer = AlignTrainer(model, tok, _cfg(loss=loss, max_steps=6, packing=True,
                                            loss_params=params))
    hist = trainer.train(synthetic_rankings(16, seed=1))
    assert hist[-1]["loss"] < 0.9 * hist[0]["loss"]
    assert hist[-1]["reward_accuracy"] >= hist[0]["reward_accuracy"]
    if loss == "pro":  # reference-free: evaluated without a reference model
        ev = trainer.evaluate(synthetic_rankings(6, seed=3))
        assert np.isfinite(ev["loss"]) and ev["lists"] == 6


# ------------------------------------------------------------------------------ command line
def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def test_unknown_loss_is_one_line_listing_every_registered_name(tmp_path: Path) -> None:
    from prefkit.cli.align import align_app

    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({"prompt": "x", "a_text": "a", "b_text": "b", "winner": "a"}))
    res = CliRunner().invoke(align_app, ["train", str(data), "--base", "tiny", "--out",
                                         str(tmp_path / "o"), "--loss", "no-such-loss"])
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "\n" not in line and line.startswith("error:") and "no-such-loss" in line
    listed = line.split("known:", 1)[1]
    names = {_norm(n) for n in listed.strip(" )").split(", ")}
    assert set(map(_norm, loss_names())) <= names
    for wanted in ("lndpo", "tpo", "copg", "sparsepo", "rationale", "modpo", "ranklist", "pro",
                   "smpo", "selm"):
        assert any(wanted in n for n in names), wanted
    assert not (tmp_path / "o").exists()


def test_cli_trains_rationale_and_modpo(tiny_dir: Path, tmp_path: Path) -> None:
    from prefkit.cli.align import align_app

    records = synthetic_records(6, seed=4)
    for r in records:
        good_is_a = r["winner"] == "a"
        r["rationale"] = "the first is kind ."
        r["a_reward"], r["b_reward"] = (1.0, 0.0) if good_is_a else (0.0, 1.0)
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    for loss, extra in (("rationale", []), ("MODPO", ["--loss-param", "w0=0.5"])):
        out = tmp_path / loss
        res = CliRunner().invoke(align_app, [
            "train", str(data), "--base", str(tiny_dir), "--out", str(out), "--loss", loss,
            "--max-steps", "1", "--batch-size", "2", "--json", *extra])
        assert res.exit_code == 0, res.output
        assert (out / "policy").is_dir()
