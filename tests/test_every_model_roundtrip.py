"""Every registered model class: fit one instance, ``prefkit.save`` it, ``prefkit.load`` it back,
and get identical predictions — through the one registry (issue #11's evidence)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pytest

import prefkit
from prefkit import PreferenceDataset
from prefkit.core.registry import KNOWN_CLASSES
from prefkit.data.simulate import simulate_items, simulate_rankings, simulate_texts, simulate_users


@cache
def items() -> PreferenceDataset:
    return simulate_items(n_items=6, n_comparisons=600, tie_param=0.3, seed=1).dataset


@cache
def users() -> PreferenceDataset:
    return simulate_users(n_items=6, n_users=30, comparisons_per_user=20, seed=2).dataset


@cache
def texts() -> PreferenceDataset:
    return simulate_texts(n_prompts=10, n_pairs=300, n_groups=2, n_users=12, seed=3).dataset


def covariate_survey() -> PreferenceDataset:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        x = float(rng.normal())
        for _ in range(10):
            i, j = rng.choice(5, size=2, replace=False)
            rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "a" if rng.random() < 0.6 else "b",
                         "user_id": f"u{u}", "x": x})
    return PreferenceDataset.from_records(rows)


class VectorEncoder:
    """A deterministic stand-in text encoder (a hash of words into 16 dimensions)."""

    id = "test-vector-encoder"
    dim = 16

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                out[row, sum(map(ord, word)) % self.dim] += 1.0
        return out


def _choice(name: str) -> Callable[[], tuple[Any, PreferenceDataset, dict]]:
    def build():
        import prefkit.choice as choice

        cls = getattr(choice, name)
        data = simulate_rankings(n_items=6, n_rankings=200, seed=4).dataset if name == \
            "PlackettLuce" else items()
        return cls().fit(data), data.to_pairs() if data.kind != "pairwise" else data, {}

    return build


def _plural(name: str, **params: Any) -> Callable[[], tuple[Any, PreferenceDataset, dict]]:
    def build():
        import prefkit.plural as plural

        cls = getattr(plural, name)
        if name == "CovariateBradleyTerry":
            data = covariate_survey()
            return cls(["x"], l2=1.0).fit(data), data, {}
        data = texts() if name in ("PALA", "PALB", "VPL", "MiCRo", "MaxMinRLHF") else users()
        return cls(**params).fit(data), data, {}

    return build


def _reward_model():
    from prefkit.reward import RewardModel

    encoder = VectorEncoder()
    data = texts()
    return RewardModel(encoder, "linear", epochs=20).fit(data), data, {"encoder": encoder}


def _linear_text_reward(name: str) -> Callable[[], tuple[Any, PreferenceDataset, dict]]:
    def build():
        import prefkit.reward as reward

        encoder, data = VectorEncoder(), texts()
        if name == "RegressionRewardModel":
            ratings = PreferenceDataset.from_records(
                [{"prompt": p, "text": t, "scores": {"overall": float(len(t.split()) % 5)}}
                 for p, t in zip(data.column("prompt"), data.column("a_text"), strict=True)])
            return reward.RegressionRewardModel(encoder).fit(ratings), data, {"encoder": encoder}
        grouped = PreferenceDataset.from_records(
            [{**r, "source": f"s{k % 2}"} for k, r in enumerate(data.to_records())])
        if name == "CRMRewardModel":
            return reward.CRMRewardModel(encoder, epochs=20).fit(data), data, {"encoder": encoder}
        model = reward.MORERewardModel(encoder, epochs=20).fit(grouped)
        return model, data, {"encoder": encoder}

    return build


def _policy():
    pytest.importorskip("transformers")
    from prefkit.align.policy import DPOPolicy
    from prefkit.align.tiny import build_tiny

    model, tokenizer = build_tiny(seed=0, steps=5)
    reference, _ = build_tiny(seed=1, steps=5)
    policy = DPOPolicy.from_models(model, tokenizer, reference, beta=0.1)
    return policy, texts().filter(np.arange(len(texts())) < 8), {}


@cache
def judge_lm() -> str:
    """A tiny untrained causal LM folder whose vocabulary has the verdict letters A, B, C."""
    import tempfile

    from prefkit.align import tiny

    tokenizer = tiny.build_tokenizer([*tiny.corpus(60), "A B C"])
    lm = tiny.build_model(tokenizer, hidden_size=32, seed=0)
    lm.config.max_position_embeddings = 1024  # the judge prompt is long
    path = tempfile.mkdtemp(prefix="prefkit-judge-lm-")
    lm.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _judge(jury: bool) -> Callable[[], tuple[Any, PreferenceDataset, dict]]:
    def build():
        pytest.importorskip("transformers")
        from prefkit.judge.jury import Jury
        from prefkit.judge.live import LLMJudge

        path = judge_lm()
        data = texts().filter(np.arange(len(texts())) < 6)
        judge = LLMJudge(f"hf:{path}", batch_size=4, name="lm")
        if not jury:
            return judge.fit(), data, {}
        other = LLMJudge(f"hf:{path}", aggregation="inconsistent-as-tie", name="lm2")
        return Jury([judge, other], rule="majority"), data, {}

    return build


def _quality(name: str) -> Callable[[], tuple[Any, PreferenceDataset, dict]]:
    def build():
        import prefkit.quality as quality

        data = quality.simulate_annotators(n_items=6, n_comparisons=60, seed=5).dataset
        return getattr(quality, name)().fit(data), data, {}

    return build


BUILDERS: dict[str, Callable[[], tuple[Any, PreferenceDataset, dict]]] = {
    "choice.BradleyTerry": _choice("BradleyTerry"),
    "choice.Thurstone": _choice("Thurstone"),
    "choice.ThurstoneVariances": _choice("ThurstoneVariances"),
    "choice.Davidson": _choice("Davidson"),
    "choice.RaoKupper": _choice("RaoKupper"),
    "choice.PlackettLuce": _choice("PlackettLuce"),
    "choice.Elo": _choice("Elo"),
    "reward.RewardModel": _reward_model,
    "reward.RegressionRewardModel": _linear_text_reward("RegressionRewardModel"),
    "reward.MORERewardModel": _linear_text_reward("MORERewardModel"),
    "reward.CRMRewardModel": _linear_text_reward("CRMRewardModel"),
    "plural.PlackettLuceMixture": _plural("PlackettLuceMixture", n_components=2),
    "plural.BradleyTerryMixture": _plural("BradleyTerryMixture", n_components=2),
    "plural.CovariateBradleyTerry": _plural("CovariateBradleyTerry"),
    "plural.PALA": _plural("PALA", n_prototypes=2),
    "plural.PALB": _plural("PALB", n_prototypes=2),
    "plural.VPL": _plural("VPL", epochs=20),
    "plural.MiCRo": _plural("MiCRo", n_heads=2),
    "plural.MaxMinRLHF": _plural("MaxMinRLHF", n_components=2),
    "align.DPOPolicy": _policy,
    "judge.LLMJudge": _judge(jury=False),
    "judge.Jury": _judge(jury=True),
    "quality.CrowdBT": _quality("CrowdBT"),
    "quality.DawidSkene": _quality("DawidSkene"),
}
#: fine-tuned transformers are covered by tests/reward/test_transformer_rm.py (slow); the recorded
#: LLM judge (fitted on judgments, not simulated data) by tests/judge/test_judge_layers.py
COVERED_ELSEWHERE = {"reward.TransformerRewardModel", "judge.RecordedJudge"}


def test_every_registered_class_has_a_builder():
    assert set(KNOWN_CLASSES) == set(BUILDERS) | COVERED_ELSEWHERE


@pytest.mark.parametrize("tag", sorted(BUILDERS))
def test_save_load_identical_predictions(tag, tmp_path):
    model, data, load_kwargs = BUILDERS[tag]()
    before = np.asarray(model.predict_proba(data), dtype=float)
    prefkit.save(model, tmp_path / "model")
    back = prefkit.load(tmp_path / "model", **load_kwargs)
    assert type(back) is type(model)
    after = np.asarray(back.predict_proba(data), dtype=float)
    assert before.shape == after.shape == (len(data),) or before.shape == (len(data), 3)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-7)
    assert back.get_params().keys() == model.get_params().keys()
