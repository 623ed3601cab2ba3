"""KTO in the trainer: z0 from mismatched (x_j, y_{j−1}) pairs of the micro-batch (paper, TRL)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from prefkit.align.losses import kto_pair_loss
from prefkit.align.tiny import perturbed_copy, synthetic_preferences
from prefkit.align.trainer import AlignConfig, AlignTrainer


def _logp(model: Any, prompt: list[int], response: list[int]) -> float:
    """log π(response | prompt) from full logits of the single sequence (no batching)."""
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = model.eval()(input_ids=ids).logits[0, :-1].float()
    lp = torch.log_softmax(logits, -1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    return float(lp[len(prompt) - 1:].sum())


@pytest.mark.parametrize("packing", [False, True])
def test_kto_z0_from_mismatched_pairs(tiny, packing: bool) -> None:
    model, tok = tiny
    policy = perturbed_copy(model, 0.01, seed=1)
    reference = perturbed_copy(model, 0.2, seed=2)  # much worse: log-ratios are positive
    cfg = AlignConfig(loss="kto", beta=0.1, batch_size=4, packing=packing)
    trainer = AlignTrainer(policy, tok, cfg, reference_model=reference)
    pairs = trainer.prepare(synthetic_preferences(6, seed=3))
    index = np.array([4, 0, 2, 5])
    # by hand: examples [c4, c0, c2, c5, r4, r0, r2, r5]; x_j meets the response of j − 1
    prompts = [pairs.prompt_ids[i] for i in index] * 2
    responses = ([pairs.chosen_ids[i] for i in index]
                 + [pairs.rejected_ids[i] for i in index])
    ratios = [_logp(policy, prompts[j], responses[j - 1]) - _logp(reference, prompts[j],
                                                                  responses[j - 1])
              for j in range(8)]
    mean, z0 = trainer.kto_reference_point(pairs, index)
    assert float(mean) == pytest.approx(np.mean(ratios), abs=1e-4)
    assert float(mean) > 0.5 and float(z0) == float(mean)
    # the batch loss uses exactly that z0 (no gradient through it)
    policy.train()
    ref_c, ref_r = trainer.reference_logps(pairs)
    _, stats = trainer.batch_loss(pairs, index, ref_c, ref_r)
    pol = [_logp(policy, pairs.prompt_ids[i], s[i]) for s in (pairs.chosen_ids,
                                                              pairs.rejected_ids) for i in index]
    expected = kto_pair_loss(torch.tensor(pol[:4]), torch.tensor(pol[4:]), ref_c[index],
                             ref_r[index], beta=0.1, z0=float(np.mean(ratios)))
    torch.testing.assert_close(stats["loss"], expected.losses, atol=1e-5, rtol=0)
    # clamped at 0 when the policy is the worse one
    swapped = AlignTrainer(reference, tok, cfg, reference_model=policy)
    mean, z0 = swapped.kto_reference_point(pairs, index)
    assert float(mean) < 0 and float(z0) == 0.0


def test_kto_trains_with_initial_policy_as_kl_reference(tiny, tmp_path) -> None:
    """Without a reference model the KL pairs' reference side is the policy before training,
    computed up front for every micro-batch (no model copy): the run equals one given a frozen
    copy of the initial policy as its reference, step for step; the file is reused on resume."""
    import copy

    model, tok = tiny
    cfg = AlignConfig(loss="kto", beta=0.1, learning_rate=2e-3, batch_size=4, max_steps=4,
                      grad_accum=2)
    frozen = copy.deepcopy(model)
    data = synthetic_preferences(12, seed=7)
    given = AlignTrainer(copy.deepcopy(model), tok, cfg, reference_model=frozen)
    expected = given.train(data)
    trainer = AlignTrainer(model, tok, cfg)
    hist = trainer.train(data, out_dir=tmp_path / "run")
    assert hist[-1]["loss"] < hist[0]["loss"]
    own = {id(q) for q in trainer.model.parameters()}
    held = {id(q) for v in vars(trainer).values() if isinstance(v, torch.nn.Module)
            for q in v.parameters()}
    assert held == own  # no second set of weights (the engine wraps the policy itself)
    assert trainer._kl_reference is not None and trainer._kl_reference.shape == (4, 2, 8)
    for a, b in zip(hist, expected, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)
        assert a["reward_margin"] == pytest.approx(b["reward_margin"], abs=1e-6)
    assert (tmp_path / "run" / "kto_kl_reference.safetensors").exists()
    # a second train() call on the trained policy cannot rebuild the initial policy's values
    with pytest.raises(ValueError, match="before training"):
        trainer.train(data, max_steps=6)
    with pytest.raises(ValueError, match="batch_size ≥ 2"):
        AlignTrainer(model, tok, AlignConfig(loss="kto", batch_size=1))


def test_kto_resume_reuses_the_initial_kl_file(tiny_dir, tmp_path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = AlignConfig(loss="kto", beta=0.1, learning_rate=2e-3, batch_size=4, max_steps=4,
                      save_every=2)
    data = synthetic_preferences(12, seed=8)

    def fresh() -> AlignTrainer:
        return AlignTrainer(AutoModelForCausalLM.from_pretrained(tiny_dir),
                            AutoTokenizer.from_pretrained(tiny_dir), cfg)

    straight = fresh().train(data, out_dir=tmp_path / "a")
    fresh().train(data, out_dir=tmp_path / "b", max_steps=2)
    resumed = fresh().train(data, out_dir=tmp_path / "b", resume=True)
    for a, b in zip(resumed, straight, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)


def test_evaluation_uses_the_same_mismatched_z0_as_training(tiny) -> None:
    from prefkit.align.diagnostics import evaluate_policy

    model, tok = tiny
    policy = perturbed_copy(model, 0.01, seed=1)
    reference = perturbed_copy(model, 0.2, seed=2)
    data = synthetic_preferences(4, seed=5)
    trainer = AlignTrainer(policy, tok, AlignConfig(loss="kto", beta=0.1, batch_size=4),
                           reference_model=reference)
    pairs = trainer.prepare(data)
    index = np.arange(len(pairs))
    ref_c, ref_r = trainer.reference_logps(pairs)
    with torch.no_grad():
        loss, _ = trainer.batch_loss(pairs, index, ref_c, ref_r)
    z0 = float(trainer.kto_reference_point(pairs, index)[1])
    assert z0 > 0.5  # the z0 matters: a zero reference point would give another loss
    result = evaluate_policy(policy, tok, data, reference_model=reference, loss="kto", beta=0.1)
    assert result["loss"] == pytest.approx(float(loss), abs=1e-5)
    plain = evaluate_policy(policy, tok, data, reference_model=reference, loss="kto", beta=0.1,
                            loss_params={"z0": 0.0})
    assert abs(plain["loss"] - result["loss"]) > 1e-3
