"""DOVE/JPO (seed row 52): the formula, the DPO limit (one prompt for both sides), each response
scored after its own prompt, training on cross-prompt comparisons, and ``--loss jpo``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
import torch.nn.functional as F  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from prefkit.align.losses import dove_loss, get_loss  # noqa: E402
from prefkit.align.objectives import JointObjective, PairwiseObjective, objective_class  # noqa: E402
from prefkit.align.pairs import TokenPairs, pair_logps  # noqa: E402
from prefkit.align.tiny import synthetic_records  # noqa: E402
from prefkit.align.trainer import AlignConfig, AlignTrainer  # noqa: E402
from prefkit.data import PreferenceDataset  # noqa: E402


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dove", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 3, "batch_size": 4,
            "seed": 0}
    return AlignConfig(**{**base, **kw})


def _cross_prompt(n: int, seed: int) -> PreferenceDataset:
    """The good answer to one prompt against the bad answer to *another* prompt."""
    recs = synthetic_records(2 * n, seed=seed)
    rows = []
    for k in range(n):
        r1, r2 = recs[2 * k], recs[2 * k + 1]
        good = r1["a_text"] if r1["winner"] == "a" else r1["b_text"]
        bad = r2["b_text"] if r2["winner"] == "a" else r2["a_text"]
        first = k % 2 == 0
        rows.append({"a_text": good if first else bad, "b_text": bad if first else good,
                     "a_prompt": r1["prompt"] if first else r2["prompt"],
                     "b_prompt": r2["prompt"] if first else r1["prompt"],
                     "winner": "a" if first else "b"})
    return PreferenceDataset.from_records(rows, kind="pairwise")


def test_dove_formula_and_registration() -> None:
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (-torch.rand(6, generator=g, dtype=torch.float64) * 20 for _ in range(4))
    out = dove_loss(pc, pr, rc, rr, beta=0.3)
    expected = -F.logsigmoid(0.3 * ((pc - rc) - (pr - rr)))
    torch.testing.assert_close(out.losses, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(out.chosen_rewards, 0.3 * (pc - rc), atol=1e-12, rtol=0)
    assert get_loss("JPO").name == get_loss("dove").name == "dove"
    assert objective_class(get_loss("dove")) is JointObjective
    assert objective_class(get_loss("dpo")) is PairwiseObjective


def test_each_response_is_scored_after_its_own_prompt(tiny) -> None:
    model, tok = tiny
    data = _cross_prompt(6, seed=1)
    pairs = AlignTrainer(model, tok, _cfg()).prepare(data)
    assert len(pairs.rejected_prompt_ids) == 6
    assert any(a != b for a, b in zip(pairs.prompt_ids, pairs.rejected_prompt_ids, strict=True))
    got = pair_logps(model, pairs, pad_id=tok.pad_token_id)
    # the rejected response alone after its own prompt x_l
    alone = TokenPairs(pairs.rejected_prompt_ids, pairs.rejected_ids, pairs.rejected_ids,
                       pairs.p, pairs.weights)
    torch.testing.assert_close(got["rejected"], pair_logps(model, alone,
                                                           pad_id=tok.pad_token_id)["chosen"])
    # … and not after the chosen pair's prompt x_w
    wrong = TokenPairs(pairs.prompt_ids, pairs.rejected_ids, pairs.rejected_ids, pairs.p,
                       pairs.weights)
    assert not torch.allclose(got["rejected"], pair_logps(model, wrong,
                                                          pad_id=tok.pad_token_id)["chosen"])
    assert pairs.fingerprint() != TokenPairs.fingerprint(pairs)


def test_with_one_prompt_dove_trains_exactly_as_dpo(tiny) -> None:
    model, tok = tiny
    data = PreferenceDataset.from_records(synthetic_records(8, seed=3), kind="pairwise")
    hist = {}
    for loss in ("dove", "dpo"):
        ref = copy.deepcopy(model)
        trainer = AlignTrainer(copy.deepcopy(model), tok, _cfg(loss=loss), reference_model=ref)
        if loss == "dove":
            pairs = trainer.prepare(data)
            assert pairs.rejected_prompt_ids == pairs.prompt_ids
        hist[loss] = [h["loss"] for h in trainer.train(data)]
    np.testing.assert_allclose(hist["dove"], hist["dpo"], rtol=1e-5, atol=1e-6)


def test_dove_learns_cross_prompt_preferences(tiny) -> None:
    model, tok = tiny
    data = _cross_prompt(12, seed=5)
    ref = copy.deepcopy(model)
    trainer = AlignTrainer(model, tok, _cfg(max_steps=5, learning_rate=3e-3),
                           reference_model=ref)
    hist = trainer.train(data)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["reward_margin"] > hist[0]["reward_margin"]
    ev = trainer.evaluate(_cross_prompt(8, seed=9))
    assert ev["implicit_reward_accuracy"] > 0.5 and np.isfinite(ev["loss"])


def test_cli_trains_with_loss_jpo(tiny_dir: Path, tmp_path: Path) -> None:
    from prefkit.cli.align import align_app

    data = tmp_path / "joint.jsonl"
    rows = _cross_prompt(4, seed=2).to_records()
    data.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n"
                            for r in rows))
    out = tmp_path / "run"
    res = CliRunner().invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--out",
                                         str(out), "--loss", "jpo", "--max-steps", "1",
                                         "--batch-size", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert (out / "policy").is_dir()
