"""WIMHF (row 32 of docs/seeds.md): the sparse autoencoder recovers a planted dictionary, and the
SAE + regression finds the one embedding direction that drives simulated preferences."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.quality.wimhf import auc, pair_features, train_sae, wimhf

WORDS = ["polite", "verbose", "code", "joke", "refusal", "list", "emoji", "citation"]
P_WORD = 0.15  # each word in a response with this probability: sparse differences


def _atoms(d: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(len(WORDS), d))
    return atoms / np.linalg.norm(atoms, axis=1, keepdims=True)


class WordEncoder:
    """Stand-in for MiniLM: a text's vector is the sum of its words' atoms (plus a little noise
    keyed by the text), so a response's embedding is a sparse code over ``WORDS``."""

    id, dim = "wimhf-words", 24

    def __init__(self) -> None:
        self.atoms = _atoms(self.dim)

    def encode(self, texts):
        out = []
        for t in texts:
            rng = np.random.default_rng(zlib.crc32(t.encode()))
            words = t.split()
            v = sum(self.atoms[WORDS.index(w)] * (1 + 0.1 * words.count(w)) for w in set(words)
                    if w in WORDS)
            out.append(np.asarray(v, dtype=float) + 0.02 * rng.normal(size=self.dim))
        return np.array(out, dtype=np.float32)


def _records(n: int = 600, seed: int = 0) -> list[dict]:
    """Pairs of random word sets; the side with 'polite' wins 85 % of the time when only one
    side has it, otherwise a coin flip."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sides = [[w for w in WORDS if rng.random() < P_WORD] or ["list"] for _ in range(2)]
        sides = [" ".join([*s, f"#{i}{k}"]) for k, s in enumerate(sides)]
        pa, pb = ("polite" in sides[0].split()), ("polite" in sides[1].split())
        p_a = 0.5 if pa == pb else (0.85 if pa else 0.15)
        rows.append({"prompt": f"q{i}", "a_text": sides[0], "b_text": sides[1],
                     "winner": "a" if rng.random() < p_a else "b"})
    return rows


def test_sae_recovers_a_planted_sparse_dictionary():
    """Signed sparse codes over six atoms (like embedding differences): a TopK SAE with k = 3
    learns each atom and its negative as a decoder row."""
    rng = np.random.default_rng(1)
    atoms = _atoms(24, seed=3)[:6]
    codes = ((rng.random((1500, 6)) < 0.3) * rng.uniform(0.5, 1.5, (1500, 6))
             * rng.choice([-1, 1], (1500, 6)))
    X = codes @ atoms
    sae = train_sae(X, n_features=16, k=3, epochs=100, seed=0)
    cos = np.vstack([atoms, -atoms]) @ sae.W_dec.T  # (signed atoms, features)
    assert (cos.max(1) > 0.99).all(), cos.max(1)
    assert np.allclose(np.linalg.norm(sae.W_dec, axis=1), 1)
    assert sae.history[-1] < 0.05 * sae.history[0]
    assert ((sae.encode(X) > 0).sum(1) <= 3).all()  # TopK: at most k active
    # the L1 form trains too and is sparse without a hard k
    l1 = train_sae(X, n_features=16, sparsity="l1", l1=0.05, epochs=40)
    assert l1.history[-1] < 0.5 * l1.history[0] and (l1.encode(X) > 0).mean() < 0.5


def test_wimhf_finds_the_direction_that_drives_preferences():
    ds = PreferenceDataset.from_records(_records(), kind="pairwise")
    enc = WordEncoder()
    report = wimhf(ds, encoder=enc, n_features=24, k=3, epochs=100, seed=0)
    top = report["features"][0]
    W = report["_arrays"]["W_dec"]
    polite = enc.atoms[WORDS.index("polite")]
    cos = float(W[top["feature"]] @ polite)
    assert abs(cos) > 0.95, cos
    # the side with more of the feature wins when its direction is +polite, loses when −polite
    lo, hi = top["win_rate_interval"]
    assert (lo > 0.6) if cos > 0 else (hi < 0.4)
    assert np.sign(top["coef"]) == np.sign(cos) and top["interval"][0] * top["interval"][1] > 0
    # no other feature is nearly as predictive
    assert abs(top["z"]) > 3 * abs(report["features"][1]["z"])
    # top examples: the 'more' side holds the word (or, for a −polite direction, the other side)
    for ex in top["examples"]:
        holder = ex["more_text"] if cos > 0 else ex["less_text"]
        assert "polite" in holder.split() and ex["prompt"].startswith("q")
    # a few features carry (nearly) all of the black-box signal
    sig = report["signal"]
    assert sig["auc_black_box"] > 0.6 and sig["share_of_black_box"] > 0.8
    F = report["_arrays"]["pair_features"]
    assert F.shape == (600, 24)


def test_pair_features_are_antisymmetric_and_auc_is_mann_whitney():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    sae = train_sae(np.vstack([X, -X]), n_features=10, k=3, epochs=20)
    assert np.allclose(pair_features(sae, -X), -pair_features(sae, X))
    y, s = np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    assert auc(y, s) == pytest.approx(5 / 6)  # 5 of the 6 (pos, neg) pairs ordered


def test_wimhf_errors_are_one_line():
    ds = PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}] * 30,
                                        kind="pairwise")
    with pytest.raises(DataError, match="response texts"):
        wimhf(ds)
    with pytest.raises(DataError, match="at least 20 pairs"):
        wimhf(embeddings=(np.zeros((5, 3)), np.ones((5, 3))), labels=np.ones(5))


def test_cli_writes_report_and_weights(tmp_path, monkeypatch):
    import prefkit.encode

    monkeypatch.setattr(prefkit.encode, "default_encoder", lambda *a, **k: WordEncoder())
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records(300, seed=2)))
    out = tmp_path / "wimhf"
    runner = CliRunner()
    args = ["quality", "wimhf", str(data), "--out", str(out), "--features", "16", "--k", "3",
            "--epochs", "60"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "wimhf.json").read_text())
    assert doc["n_pairs"] == 300 and doc["features"] and "_arrays" not in doc
    weights = np.load(out / "sae.npz")
    assert weights["W_dec"].shape == (16, 24) and weights["pair_features"].shape == (300, 16)
    assert json.loads(result.stdout)["out"] == str(out)
    again = runner.invoke(app, args)  # a prefkit directory is not replaced without --force
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
