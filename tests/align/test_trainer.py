"""The trainer on the tiny local model: masks, reference cache, accumulation, resume, LoRA."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from prefkit.align.pairs import collate, sequence_logps, text_pairs, tokenize_pairs
from prefkit.align.tiny import synthetic_preferences
from prefkit.align.trainer import (
    REFERENCE_FILE,
    AlignConfig,
    AlignTrainer,
    latest_checkpoint,
    load_policy,
)
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dpo", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 4, "batch_size": 4}
    return AlignConfig(**{**base, **kw})


def test_text_pairs_swaps_winner_b_and_keeps_soft_labels() -> None:
    ds = PreferenceDataset.from_records([
        {"prompt": "p", "a_text": "A", "b_text": "B", "winner": "b"},
        {"prompt": "p", "a_text": "A", "b_text": "B", "winner": "tie"},
        {"prompt": "q", "a_text": "C", "b_text": "D", "p_a": 0.2},
    ])
    pairs = text_pairs(ds)
    assert pairs.chosen == ["B", "D"] and pairs.rejected == ["A", "C"]
    np.testing.assert_allclose(pairs.p, [1.0, 0.8])
    assert len(text_pairs(ds, keep_ties=True)) == 3
    only_tie = PreferenceDataset.from_records([{"a_text": "x", "b_text": "y", "winner": "tie"}])
    with pytest.raises(DataError, match="no usable"):
        text_pairs(only_tie)


def test_loss_mask_covers_only_response_tokens(tiny) -> None:
    model, tok = tiny
    pairs = tokenize_pairs(tok, text_pairs(synthetic_preferences(3, seed=4)))
    batch = collate(pairs, [0, 1, 2], tok.pad_token_id)
    for row in range(6):
        i, side = row % 3, (pairs.chosen_ids if row < 3 else pairs.rejected_ids)
        n_prompt = len(pairs.prompt_ids[i])
        mask = batch["loss_mask"][row]
        assert not mask[:n_prompt].any()
        assert mask.sum() == len(side[i])
        assert batch["input_ids"][row][mask].tolist() == side[i]
        assert side[i][-1] == tok.eos_token_id
    # the chat template wraps the prompt
    assert tok.convert_ids_to_tokens(pairs.prompt_ids[0])[0] == "<|user|>"
    # log-probs equal a plain full-logits computation, so padding never leaks in
    logps, lengths = sequence_logps(model, batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(
        -1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    expected = (lp * batch["loss_mask"][:, 1:]).sum(-1)
    torch.testing.assert_close(logps, expected, atol=1e-4, rtol=1e-5)
    assert lengths.tolist() == batch["loss_mask"].sum(-1).tolist()


def test_dpo_training_learns_and_saves(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    ref = copy.deepcopy(model)
    data, test = synthetic_preferences(32, seed=1), synthetic_preferences(16, seed=2)
    trainer = AlignTrainer(model, tok, _cfg(max_steps=12), reference_model=ref)
    before = trainer.evaluate(test)
    assert before["loss"] == pytest.approx(np.log(2), abs=1e-5)
    history = trainer.train(data, out_dir=tmp_path)
    after = trainer.evaluate(test)
    assert after["implicit_reward_accuracy"] > 0.9 > before["implicit_reward_accuracy"]
    assert after["loss"] < 0.5 * before["loss"]
    assert history[0]["loss"] == pytest.approx(np.log(2), abs=1e-5)  # policy == reference
    assert (tmp_path / REFERENCE_FILE).exists()
    loaded, _, info = load_policy(tmp_path)
    assert info["config"]["loss"] == "dpo" and info["step"] == 12
    x = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(loaded(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_reference_logps_are_cached_and_reloaded(tiny, tmp_path: Path) -> None:
    model, tok = tiny
    trainer = AlignTrainer(model, tok, _cfg())
    pairs = trainer.prepare(synthetic_preferences(8, seed=3))
    cache = tmp_path / "ref.safetensors"
    c1, r1 = trainer.reference_logps(pairs, cache)
    with torch.no_grad():  # change the model: a cache hit must not recompute
        for p in model.parameters():
            p.add_(0.05)
    c2, r2 = trainer.reference_logps(pairs, cache)
    assert torch.equal(c1, c2) and torch.equal(r1, r2)
    other = trainer.prepare(synthetic_preferences(8, seed=4))  # other data: recomputed
    c3, _ = trainer.reference_logps(other, cache)
    assert not torch.equal(c3, c1)


def test_gradient_accumulation_matches_large_batch(tiny_dir: Path) -> None:
    """One step of 2 micro-batches × 2 pairs accumulates the gradient of one batch of 4."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = synthetic_preferences(16, seed=5)
    grads = []
    for bs, acc in ((4, 1), (2, 2)):
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        tr = AlignTrainer(model, tok, _cfg(batch_size=bs, grad_accum=acc, max_steps=1,
                                           max_grad_norm=None))
        # same 4 pairs per step; with accumulation, micro-batch m is half m of them
        tr.batch_indices = lambda s, m, n, b=bs: _big(s, n)[b * m : b * m + b]  # type: ignore
        tr.train(data)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert grads[0].abs().max() > 1e-3
    torch.testing.assert_close(grads[0], grads[1], atol=1e-7, rtol=1e-4)


def _big(step: int, n: int) -> np.ndarray:
    g = torch.Generator().manual_seed(int(step))
    return torch.randperm(n, generator=g).numpy()[:4]


def test_exact_resume_after_kill(tiny_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = synthetic_preferences(12, seed=6)

    def fresh(max_steps: int) -> AlignTrainer:
        model = AutoModelForCausalLM.from_pretrained(tiny_dir)
        tok = AutoTokenizer.from_pretrained(tiny_dir)
        return AlignTrainer(model, tok, _cfg(max_steps=max_steps, save_every=1, batch_size=5))

    straight = fresh(4)
    straight.train(data, out_dir=tmp_path / "a")
    first = fresh(4)
    first.train(data, out_dir=tmp_path / "b", max_steps=2)  # "killed" after step 2
    assert latest_checkpoint(tmp_path / "b").name == "step-00000002"
    resumed = fresh(4)
    resumed.train(data, out_dir=tmp_path / "b", resume=True)
    assert resumed.step == 4
    for (name, p), q in zip(straight.model.named_parameters(), resumed.model.parameters(),
                            strict=True):
        assert torch.equal(p, q), name
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]


@pytest.mark.parametrize("loss", ["ipo", "simpo", "orpo", "kto", "robust", "rpo", "soft_dpo"])
def test_every_pairwise_loss_trains(tiny, loss: str) -> None:
    model, tok = tiny
    beta = {"ipo": 0.5, "simpo": 2.0}.get(loss, 0.1)
    params = {"robust": {"epsilon": 0.1}}.get(loss, {})
    trainer = AlignTrainer(model, tok, _cfg(loss=loss, beta=beta, loss_params=params,
                                            max_steps=3))
    hist = trainer.train(synthetic_preferences(12, seed=7))
    assert all(np.isfinite(h["loss"]) for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_lora_trains_only_adapters_and_reference_is_base(tiny, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    model, tok = tiny
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = AlignTrainer(model, tok, _cfg(lora=True, lora_r=4, max_steps=3,
                                            learning_rate=1e-2))
    names = list(trainer.trainable_parameters())
    assert names and all("lora_" in n for n in names)
    hist = trainer.train(synthetic_preferences(12, seed=8), out_dir=tmp_path)
    assert hist[0]["loss"] == pytest.approx(np.log(2), abs=1e-5)  # B = 0 at start
    assert hist[-1]["reward_margin"] > 0
    merged, _, _ = load_policy(tmp_path)
    changed = any(not torch.equal(merged.state_dict()[k], v) for k, v in base_state.items()
                  if k in merged.state_dict())
    assert changed and (tmp_path / "policy" / "adapter").is_dir()


def test_bad_configs(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefkit.align.losses import LOSSES, LossSpec, kto_loss

    model, tok = tiny
    assert AlignTrainer(model, tok, _cfg(loss="lipo")).listwise  # listwise losses train too
    monkeypatch.setitem(LOSSES, "unpaired_kto", LossSpec("unpaired_kto", kto_loss, kind="unpaired"))
    with pytest.raises(ValueError, match="pairwise or listwise"):
        AlignTrainer(model, tok, _cfg(loss="unpaired_kto"))
    with pytest.raises(KeyError):
        AlignTrainer(model, tok, _cfg(loss="nope"))
    ranking_only = PreferenceDataset.from_records([{"item": "x", "scores": {"overall": 1.0}}])
    with pytest.raises(DataError):
        AlignTrainer(model, tok, _cfg()).train(ranking_only)
