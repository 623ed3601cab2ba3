"""What to label next for a reward model: records where an ensemble disagrees most."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import prefkit
from prefkit import PreferenceDataset
from prefkit.cli.app import app
from prefkit.errors import DataError
from prefkit.quality import CrowdBT, simulate_annotators
from prefkit.quality.active_rm import propose_records

torch = pytest.importorskip("torch")
from prefkit.reward import RewardModel  # noqa: E402

SEP = "\n\n"
runner = CliRunner()


class TableEncoder:
    """Deterministic stand-in encoder: each candidate name maps to a fixed vector."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors, self.id = vectors, "table"

    @property
    def dim(self) -> int:
        return len(next(iter(self.vectors.values())))

    def encode(self, texts):
        return np.stack([self.vectors[t.split(SEP)[-1]] for t in texts]).astype(np.float32)


def _world(seed: int = 0):
    """40 training items vary in dims 0–3 (dims 4–7 nearly constant); 10 new items are far out
    in dims 4–7, where the training data cannot pin the members down."""
    rng = np.random.default_rng(seed)
    x_in = np.c_[rng.normal(size=(40, 4)), 0.1 * rng.normal(size=(40, 4))]
    x_out = np.c_[rng.normal(size=(10, 4)), 3 * rng.normal(size=(10, 4))]
    x = np.r_[x_in, x_out]
    w = rng.normal(size=8)
    names = [f"r{i}" for i in range(50)]
    a = rng.integers(0, 40, 2000)
    b = (a + rng.integers(1, 40, 2000)) % 40
    win = rng.random(2000) < 1 / (1 + np.exp(-(x[a] - x[b]) @ w))
    train = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "a" if v else "b"}
         for i, j, v in zip(a, b, win, strict=True)])
    # pool: 30 records with an out-of-distribution item first, then 30 in-distribution ones
    pairs = ([(i, j) for i in range(40, 50) for j in range(3)]
             + [(i, j) for i in range(10, 20) for j in range(3)])
    pool = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "tie"} for i, j in pairs])
    return TableEncoder(dict(zip(names, x, strict=True))), train, pool


def test_ensemble_disagreement_finds_out_of_distribution_records():
    enc, train, pool = _world()
    model = RewardModel(enc, "ensemble", members=5, epochs=100, seed=0).fit(train)
    top = propose_records(model, pool, 10, criterion="spread")
    assert len(top) == 10
    spread = [r["disagreement"] for r in top]
    assert spread == sorted(spread, reverse=True)
    assert all(r["row"] < 30 for r in top)  # all ten from the out-of-distribution half
    assert all(0.0 <= r["p_a"] <= 1.0 and r["a"].startswith("r") for r in top)
    # against the members' own spread, computed directly
    assert top[0]["disagreement"] == pytest.approx(float(model.uncertainty(pool).max()))
    # a single-head model has no disagreement: one clear error
    single = RewardModel(enc, "linear", epochs=20, seed=0).fit(train)
    with pytest.raises(DataError, match="ensemble"):
        propose_records(single, pool, 3)
    with pytest.raises(DataError, match="at least 1"):
        propose_records(model, pool, 0)
    # sign criterion: Φ(−|μ|/u) from the ensemble's mean gap μ and spread u, in [0, ½]
    sign = propose_records(model, pool, 60, criterion="sign")
    rewards = model.reward(pool)
    for rec in sign[:5]:
        mu = abs(rewards[rec["row"], 0] - rewards[rec["row"], 1])
        expected = 0.5 * math.erfc(mu / rec["disagreement"] / math.sqrt(2))
        assert rec["score"] == pytest.approx(expected, rel=1e-6)
    scores = [r["score"] for r in sign]
    assert scores == sorted(scores, reverse=True) and 0.0 <= scores[-1] < scores[0] <= 0.5
    with pytest.raises(DataError, match="criterion"):
        propose_records(model, pool, 3, criterion="entropy")
    # one pair copied once per annotator (same pair_id, same scores) is proposed once
    copies = PreferenceDataset.from_records(
        [{"pair_id": str(k), "a": f"r{40 + k}", "b": "r0", "annotator_id": f"ann{c}",
          "winner": "tie"} for k in range(5) for c in range(3)])
    rows = [r["row"] for r in propose_records(model, copies, 4, criterion="spread")]
    assert len(rows) == 4 and len({r // 3 for r in rows}) == 4


def test_cli_reward_model_without_ensemble_is_one_error_line(tmp_path):
    sim = simulate_annotators(n_items=6, n_comparisons=60, eta=(0.9, 0.8), seed=0)
    data = tmp_path / "pool.jsonl"
    sim.dataset.write(str(data))
    prefkit.save(CrowdBT().fit(sim.dataset), tmp_path / "crowd")
    result = runner.invoke(app, ["quality", "next", str(data), "--reward-model",
                                 str(tmp_path / "crowd"), "--n", "3"])
    assert result.exit_code == 2, result.output
    assert "ensemble" in result.output and "Traceback" not in result.output
