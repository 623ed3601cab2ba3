"""Preference-free LM scorers (seed rows 13, 14, 16): FLR's follow-up likelihood, the CDR
density ratio and the control-tag reward of conditional training — each against a direct
computation, CDR against the alignment layer's implicit-reward scorer, and FLR ranking held-out
pairs far better than chance without any preference training."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prefkit.align.sampling import implicit_reward_scorer  # noqa: E402
from prefkit.align.tiny import perturbed_copy, pretrain, synthetic_preferences  # noqa: E402
from prefkit.reward import ControlTagReward, conditional_records  # noqa: E402
from prefkit.reward.density_ratio import DensityRatioReward  # noqa: E402
from prefkit.reward.flr import FollowUpLikelihoodReward  # noqa: E402
from seeds.dialogue_lm import COMPLAINTS, THANKS  # noqa: E402


def _direct_logp(model: Any, tok: Any, context: str, continuation: str) -> float:
    """log p(continuation | context) by one forward pass over the concatenated tokens."""
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits.double()[0, :-1], -1)
    return float(sum(logp[len(ctx) - 1 + k, t] for k, t in enumerate(cont)))


def test_flr_is_positive_minus_negative_follow_up_likelihood(tiny) -> None:
    model, tok = tiny
    prompt, response = "describe the cat ?", "sure ! the cat is kind ."
    scorer = FollowUpLikelihoodReward(model, tok, positive=THANKS, negative=COMPLAINTS)
    context = f"<|user|> {prompt} <|assistant|> {response} "
    pos = np.mean([_direct_logp(model, tok, context, f"<|user|> {f} ") for f in THANKS])
    neg = np.mean([_direct_logp(model, tok, context, f"<|user|> {f} ") for f in COMPLAINTS])
    assert scorer.reward_texts([prompt], [response])[0] == pytest.approx(pos - neg, abs=1e-6)
    only_pos = FollowUpLikelihoodReward(model, tok, positive=THANKS, negative=())
    assert only_pos(prompt, [response])[0] == pytest.approx(pos, abs=1e-6)


def test_flr_ranks_preferences_without_preference_training(tiny) -> None:
    """The LM saw dialogues (users thank good answers), never a preference label."""
    model, tok = tiny
    data = synthetic_preferences(20, seed=21)
    p = FollowUpLikelihoodReward(model, tok, positive=THANKS, negative=COMPLAINTS).predict_proba(
        data)
    accuracy = float(np.mean((p > 0.5) == (data.outcomes() > 0.5)))
    assert accuracy >= 0.85


def test_cdr_equals_the_dpo_implicit_reward_scorer(tiny) -> None:
    weak, tok = tiny
    strong = perturbed_copy(weak, scale=0.05, seed=3)
    prompt, texts = "tell me about the dog ?", ["sure ! the dog is calm .", "no . the dog is bad ."]
    cdr = DensityRatioReward(strong, weak, tok)
    np.testing.assert_allclose(cdr(prompt, texts),
                               implicit_reward_scorer(strong, weak, tok, beta=1.0)(prompt, texts),
                               rtol=1e-4, atol=1e-4)
    same = DensityRatioReward(weak, weak, tok, beta=2.0)
    np.testing.assert_allclose(same(prompt, texts), 0.0, atol=1e-9)
    # the customisation prompt reaches the strong model only
    custom = DensityRatioReward(weak, weak, tok, system="be kind")
    assert not np.allclose(custom(prompt, texts), 0.0)


def test_conditional_training_makes_the_tag_carry_the_preference(tiny) -> None:
    model, tok = tiny
    data = synthetic_preferences(48, seed=4)
    records = conditional_records(data)
    assert len(records) == 96 and {r["tag"] for r in records} == {"<|good|>", "<|bad|>"}
    texts = [f"<|user|> {r['prompt']} <|assistant|> {r['text']} </s>" for r in records]
    tok.add_tokens(["<|good|>", "<|bad|>"])
    model.resize_token_embeddings(max(tok.get_vocab().values()) + 1)
    scorer = ControlTagReward(model, tok)
    held_out = synthetic_preferences(20, seed=8)
    before = scorer.predict_proba(held_out)
    np.testing.assert_allclose(before, 0.5, atol=0.2)  # untrained tags carry little
    pretrain(model, tok, texts, steps=25, batch_size=16, seed=0)
    after = scorer.predict_proba(held_out)
    y = held_out.outcomes() > 0.5
    assert float(np.mean((after > 0.5) == y)) >= 0.8
    assert float(np.mean(np.abs(after - 0.5))) > float(np.mean(np.abs(before - 0.5)))
    assert copy.copy(scorer).good == "<|good|>"
