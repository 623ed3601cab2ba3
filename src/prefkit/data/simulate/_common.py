"""Shared pieces of the simulators: the :class:`Simulation` result and vectorised helpers.

Every simulator returns a :class:`Simulation` holding

* ``dataset`` — a validated :class:`~prefkit.data.schema.PreferenceDataset`, exactly what a reader
  would return for real data (models never see the truth);
* ``truth`` — the model-level ground truth (true strengths, group utilities, P matrices …), small
  and JSON-serialisable through :meth:`Simulation.truth_json`;
* ``record_truth`` — per-record ground truth (the probability each outcome had, the group of the
  user who answered …), NumPy arrays aligned with the dataset's rows;
* ``config`` — the simulator name and every parameter (seed included), enough to regenerate the
  data bit for bit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.core.atomic import atomic_write_text
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

SeedLike = int | np.random.Generator | None

#: Outcome codes used inside the simulators (index into ``WINNER``).
A_WINS, B_WINS, TIE = 0, 1, 2
WINNER = ("a", "b", "tie")


@dataclass
class Simulation:
    """Synthetic preference data together with the truth that generated it.

    Unpacks as ``dataset, truth = simulate_items(...)``.
    """

    dataset: PreferenceDataset
    truth: dict[str, Any]
    config: dict[str, Any]
    record_truth: dict[str, np.ndarray] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        yield self.dataset
        yield self.truth

    def truth_json(self, *, records: bool = False) -> dict[str, Any]:
        """Truth (and config) as plain JSON types; ``records=True`` adds the per-record truth."""
        out: dict[str, Any] = {"config": to_jsonable(self.config), "truth": to_jsonable(self.truth)}
        if records:
            out["record_truth"] = to_jsonable(self.record_truth)
        return out

    def save_truth(self, path: str | os.PathLike[str], *, records: bool = False) -> None:
        """Write :meth:`truth_json` to ``path`` atomically (temporary file, then rename)."""
        text = json.dumps(self.truth_json(records=records), indent=1, ensure_ascii=False)
        atomic_write_text(path, text)


def to_jsonable(value: Any) -> Any:
    """Recursively turn NumPy arrays/scalars (and tuples) into JSON-friendly Python objects."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def make_config(simulator: str, seed: SeedLike, **params: Any) -> dict[str, Any]:
    """A simulation's ``config``: the simulator name, its ``params`` and the seed (``None`` when
    it is a Generator, whose state cannot be written down)."""
    return {
        "simulator": simulator,
        **params,
        "seed": seed if not isinstance(seed, np.random.Generator) else None,
    }


def make_rng(seed: SeedLike) -> np.random.Generator:
    """``numpy.random.default_rng`` (a Generator passes through unchanged)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def names(n: int, prefix: str) -> list[str]:
    """``["item_00", "item_01", …]``: zero-padded so that names sort like their numbers."""
    width = max(2, len(str(max(n - 1, 0))))
    return [f"{prefix}_{i:0{width}d}" for i in range(n)]


def check_int(name: str, value: int, low: int) -> int:
    if int(value) != value or value < low:
        raise DataError(f"must be an integer ≥ {low}, got {value!r}", field=name)
    return int(value)


def check_prob(name: str, value: float, *, high: float = 1.0) -> float:
    value = float(value)
    if not 0.0 <= value <= high:
        raise DataError(f"must be in [0, {high}], got {value!r}", field=name)
    return value


def centered(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Subtract the mean along ``axis`` (log-strengths are identified up to a constant)."""
    return x - x.mean(axis=axis, keepdims=True)


def true_log_strengths(
    rng: np.random.Generator, k: int, spread: float, log_strength: np.ndarray | None
) -> np.ndarray:
    """Centred log-strengths of ``k`` items: the given ones, else drawn from N(0, spread²)."""
    if log_strength is None:
        return centered(rng.normal(0.0, spread, size=k))
    theta = centered(np.asarray(log_strength, dtype=float))
    if theta.shape != (k,):
        raise DataError(f"needs {k} values, got shape {theta.shape}", field="log_strength")
    return theta


def assign_groups(rng: np.random.Generator, n_users: int, n_groups: int) -> np.ndarray:
    """Group of each user: round-robin (so every group is used), then shuffled."""
    return rng.permutation(np.arange(n_users) % n_groups)


def random_pairs(rng: np.random.Generator, n_items: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ordered pairs of distinct items, uniform over all ``K(K-1)`` ordered pairs."""
    a = rng.integers(0, n_items, size=n)
    b = (a + rng.integers(1, n_items, size=n)) % n_items
    return a, b


def sample_outcomes(rng: np.random.Generator, p_a: np.ndarray, p_tie: np.ndarray) -> np.ndarray:
    """One categorical draw per record: a w.p. ``p_a``, tie w.p. ``p_tie``, else b (codes)."""
    u = rng.random(p_a.shape)
    return np.where(u < p_a, A_WINS, np.where(u < p_a + p_tie, TIE, B_WINS)).astype(np.int8)


def sample_choices(
    rng: np.random.Generator, p_a: np.ndarray, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes without ties: ``a`` wins w.p. ``p_a``, then label noise (:func:`flip_labels`).

    Returns the outcome codes and the probability that ``a`` was observed to win.
    """
    codes = sample_outcomes(rng, p_a, np.zeros_like(p_a))
    codes, p_a, _ = flip_labels(rng, codes, p_a, 1.0 - p_a, noise)
    return codes, p_a


def flip_labels(
    rng: np.random.Generator,
    codes: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    noise: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label noise: swap the winner of a decisive record with probability ``noise``.

    P_obs(a ≻ b) = (1 − ε) P(a ≻ b) + ε P(b ≻ a); ties are left as they are.
    Returns the noisy codes and the observed-outcome probabilities.
    """
    if noise <= 0.0:
        return codes, p_a, p_b
    flip = (rng.random(codes.shape) < noise) & (codes != TIE)
    out = codes.copy()
    out[flip] = np.where(codes[flip] == A_WINS, B_WINS, A_WINS)
    return out, (1 - noise) * p_a + noise * p_b, (1 - noise) * p_b + noise * p_a


def decode(codes: np.ndarray, labels: Sequence[str], type: pa.DataType = pa.string()) -> pa.Array:
    """Strings ``labels[codes]`` as an Arrow array, built without a Python loop over records."""
    dictionary = pa.array(list(labels), type=type)
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), dictionary
    ).dictionary_decode()


def pair_columns(
    ia: np.ndarray, ib: np.ndarray, codes: np.ndarray, items: Sequence[str]
) -> dict[str, pa.Array]:
    """The ``a``, ``b`` and ``winner`` columns of pairwise records from item indices and codes."""
    return {"a": decode(ia, items), "b": decode(ib, items), "winner": decode(codes, WINNER)}


def ragged_list(values: pa.Array, lengths: np.ndarray) -> pa.Array:
    """An Arrow list array whose row ``r`` holds the next ``lengths[r]`` entries of ``values``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def build_dataset(
    columns: Mapping[str, Any], kind: str, *, name: str, config: Mapping[str, Any]
) -> PreferenceDataset:
    """A validated dataset from Arrow/NumPy columns, with the simulator config in its metadata."""
    table = pa.table(dict(columns))
    return PreferenceDataset(
        table, kind, name=name, metadata={"simulation": to_jsonable(dict(config))}
    )
