r"""Simulated multi-annotator pairwise data with known item strengths and annotator reliabilities.

Items follow Bradley–Terry: the true winner of comparison c = (i, j) is drawn once,
z_c ~ Bernoulli(σ(θ_i − θ_j)); annotator k reports z_c with probability η_k and the other side
otherwise (Chen, Bennett, Collins-Thompson & Horvitz 2013, "Pairwise ranking aggregation in a
crowdsourced setting", WSDM — the Crowd-BT generative model).  η = 0.2 is an adversary, η = 0.5 a
spammer (a coin).  ``tie_rate`` turns that share of reports into ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefkit.core.mathfn import sigmoid
from prefkit.data.schema import PreferenceDataset


@dataclass
class AnnotatedSimulation:
    """A simulated dataset and its ground truth."""

    dataset: PreferenceDataset
    theta: np.ndarray  # true item strengths (items "i0", "i1", …)
    eta: dict[str, float]  # true reliability of each annotator
    truth: np.ndarray  # (n_comparisons,) 1 if a is truly better in comparison c
    comparison: np.ndarray  # (n_records,) comparison index of each record


def simulate_annotators(
    n_items: int = 20,
    n_comparisons: int = 400,
    eta: dict[str, float] | list[float] = (0.9, 0.8, 0.7, 0.2, 0.5),
    per_comparison: int = 3,
    tie_rate: float = 0.0,
    spread: float = 1.5,
    seed: int = 0,
) -> AnnotatedSimulation:
    """``n_comparisons`` random item pairs, each judged by ``per_comparison`` random annotators."""
    rng = np.random.default_rng(seed)
    if not isinstance(eta, dict):
        eta = {f"ann{k}": float(e) for k, e in enumerate(eta)}
    names = list(eta)
    etas = np.array([eta[n] for n in names])
    theta = rng.normal(0.0, spread, n_items)
    theta -= theta.mean()
    i = rng.integers(0, n_items, n_comparisons)
    j = (i + rng.integers(1, n_items, n_comparisons)) % n_items
    truth = (rng.random(n_comparisons) < sigmoid(theta[i] - theta[j])).astype(int)
    rows, comp = [], []
    per = min(per_comparison, len(names))
    for c in range(n_comparisons):
        for k in rng.choice(len(names), size=per, replace=False):
            honest = rng.random() < etas[k]
            a_wins = bool(truth[c]) == honest
            winner = "tie" if rng.random() < tie_rate else ("a" if a_wins else "b")
            rows.append({"pair_id": f"c{c}", "a": f"i{i[c]}", "b": f"i{j[c]}",
                         "winner": winner, "annotator_id": names[k]})
            comp.append(c)
    ds = PreferenceDataset.from_records(rows, name="simulated-annotators")
    return AnnotatedSimulation(ds, theta, dict(eta), truth, np.array(comp))


@dataclass
class FlipSimulation:
    """A simulated pairwise dataset with a known set of flipped labels."""

    dataset: PreferenceDataset
    theta: np.ndarray
    flipped: np.ndarray  # (n_records,) True where the label was flipped


def simulate_flips(n_items: int = 30, n_comparisons: int = 3000, flip_rate: float = 0.2,
                   spread: float = 3.0, seed: int = 0) -> FlipSimulation:
    """Bradley–Terry outcomes (true strengths N(0, spread²)) with a share ``flip_rate`` of the
    labels swapped at random — the noise model of robust DPO (Chowdhury et al. 2024)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, spread, n_items)
    i = rng.integers(0, n_items, n_comparisons)
    j = (i + rng.integers(1, n_items, n_comparisons)) % n_items
    a_wins = rng.random(n_comparisons) < sigmoid(theta[i] - theta[j])
    flipped = rng.random(n_comparisons) < flip_rate
    a_wins ^= flipped
    rows = [{"a": f"i{i[r]}", "b": f"i{j[r]}", "winner": "a" if a_wins[r] else "b"}
            for r in range(n_comparisons)]
    ds = PreferenceDataset.from_records(rows, name="simulated-flips")
    return FlipSimulation(ds, theta, flipped)
