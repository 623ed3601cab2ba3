r"""Labellers: what scores freshly sampled completions, behind one interface.

A :class:`Labeller` answers two questions about (prompt, completion) pairs:

* ``rewards(prompts, completions) -> (n,)`` — a scalar reward per completion (reward models,
  ensembles, remote reward servers, Python functions);
* ``preferences(prompts, a, b) -> (n,)`` — P(a ≻ b | x) per pair.

Scalar labellers answer preferences by Bradley–Terry, P(a ≻ b) = σ(r(a) − r(b)).  Pairwise
labellers (a general preference model such as GPM, a judge, anything with ``predict_proba``)
have no scalar reward; for the group methods (RLOO, GRPO, SPPO) they score each completion by its
**win rate within its group**, r_i = (1/(K−1)) Σ_{j≠i} P(y_i ≻ y_j | x) (:meth:`group_rewards`),
the estimate of P(y ≻ π | x) that SPPO and GPO optimise.

Ensembles (:class:`EnsembleLabeller`, or a prefkit ``RewardModel`` with the ensemble head) are
aggregated conservatively (Coste et al. 2024, "Reward Model Ensembles Help Mitigate
Overoptimization"): ``mean``; ``wco`` (worst case) R = min_k r_k; ``uwo`` (uncertainty-weighted)
R = mean_k r_k − λ·var_k r_k.

Every answer is checked: a labeller that fails, or returns NaN/inf or the wrong number of
values, raises :class:`LabellerError` (one line), which stops the training step before any
update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from prefkit.errors import PrefkitError

AGGREGATIONS = ("mean", "wco", "uwo")


class LabellerError(PrefkitError, RuntimeError):
    """A labeller failed or gave unusable labels (NaN, inf, wrong count)."""


def checked(values: Any, n: int, what: str) -> np.ndarray:
    """``values`` as a float array of length ``n`` with finite entries, else LabellerError."""
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as err:
        raise LabellerError(f"{what}: labels are not numbers ({err})") from None
    if arr.shape != (n,):
        raise LabellerError(f"{what}: expected {n} labels, got {arr.size}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LabellerError(f"{what}: {int(bad.sum())} of {n} labels are not finite "
                            f"(first: sample {i} = {arr[i]})")
    return arr


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Labeller:
    """Base class.  Subclasses implement :meth:`_rewards` (scalar) or :meth:`_preferences`
    (pairwise, then set ``scalar = False``)."""

    scalar: bool = True
    name: str = "labeller"

    def _rewards(self, prompts: list[str], completions: list[str]) -> Any:
        raise NotImplementedError(f"{self.name} gives pairwise preferences, not rewards")

    def _preferences(self, prompts: list[str], a: list[str], b: list[str]) -> Any:
        r = self.rewards(prompts + prompts, a + b)
        n = len(prompts)
        return _sigmoid(r[:n] - r[n:])

    def rewards(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """One finite reward per completion (LabellerError otherwise)."""
        prompts, completions = list(prompts), list(completions)
        if not completions:
            return np.zeros(0)
        return checked(self._call(self._rewards, prompts, completions), len(completions),
                       self.name)

    def preferences(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]
                    ) -> np.ndarray:
        """P(a_i ≻ b_i | x_i) per pair, in [0, 1] (LabellerError otherwise)."""
        prompts, a, b = list(prompts), list(a), list(b)
        if not a:
            return np.zeros(0)
        p = checked(self._call(self._preferences, prompts, a, b), len(a), self.name)
        if (p < 0).any() or (p > 1).any():
            raise LabellerError(f"{self.name}: preference probabilities outside [0, 1]")
        return p

    def group_rewards(self, prompts: Sequence[str], completions: Sequence[str],
                      group_size: int) -> np.ndarray:
        """Scalar rewards; a pairwise labeller gives each completion its mean win rate against
        the other completions of its group (all ordered pairs within each group)."""
        if self.scalar:
            return self.rewards(prompts, completions)
        return self.win_rates(prompts, completions, group_size)

    def win_rates(self, prompts: Sequence[str], completions: Sequence[str],
                  group_size: int) -> np.ndarray:
        """P̂(y_i ≻ group | x) = mean_{j ≠ i} P(y_i ≻ y_j | x) within each group of
        ``group_size`` consecutive completions (one call for all pairs i < j; P(j ≻ i) =
        1 − P(i ≻ j))."""
        completions = list(completions)
        k = group_size
        if k < 2 or len(completions) % k:
            raise ValueError("win rates need groups of ≥ 2 completions")
        pa, pb, pp = [], [], []
        index = []
        for g in range(len(completions) // k):
            for i in range(k):
                for j in range(i + 1, k):
                    pa.append(completions[g * k + i])
                    pb.append(completions[g * k + j])
                    pp.append(prompts[g * k + i])
                    index.append((g * k + i, g * k + j))
        p = self.preferences(pp, pa, pb)
        wins = np.zeros(len(completions))
        for (i, j), pij in zip(index, p, strict=True):
            wins[i] += pij
            wins[j] += 1.0 - pij
        return wins / (k - 1)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except LabellerError:
            raise
        except PrefkitError as err:
            raise LabellerError(f"{self.name}: {err}") from None
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as err:
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise LabellerError(f"{self.name} failed: {type(err).__name__}: {first}") from None


class FunctionLabeller(Labeller):
    """A Python function: ``fn(prompts, completions) -> rewards`` or, with ``pairwise=True``,
    ``fn(prompts, a, b) -> P(a ≻ b)``."""

    def __init__(self, fn: Callable[..., Any], *, pairwise: bool = False,
                 name: str | None = None) -> None:
        self.fn = fn
        self.scalar = not pairwise
        self.name = name or getattr(fn, "__name__", "function")

    def _rewards(self, prompts: list[str], completions: list[str]) -> Any:
        if not self.scalar:
            return super()._rewards(prompts, completions)
        return self.fn(prompts, completions)

    def _preferences(self, prompts: list[str], a: list[str], b: list[str]) -> Any:
        if self.scalar:
            return super()._preferences(prompts, a, b)
        return self.fn(prompts, a, b)


def aggregate(members: np.ndarray, how: str, lam: float = 1.0) -> np.ndarray:
    """Ensemble rewards (n, K) → (n,): ``mean``, ``wco`` (min) or ``uwo`` (mean − λ·var)."""
    if how == "mean":
        return members.mean(1)
    if how == "wco":
        return members.min(1)
    if how == "uwo":
        return members.mean(1) - lam * members.var(1)
    raise ValueError(f"unknown aggregation {how!r} (expected {', '.join(AGGREGATIONS)})")


class EnsembleLabeller(Labeller):
    """K scalar labellers (or reward models) combined per completion by ``aggregation``."""

    def __init__(self, members: Sequence[Any], *, aggregation: str = "mean",
                 lam: float = 1.0) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggregation!r} "
                             f"(expected {', '.join(AGGREGATIONS)})")
        self.members = [as_labeller(m) for m in members]
        self.aggregation, self.lam = aggregation, lam
        self.name = f"ensemble[{len(self.members)}, {aggregation}]"

    def member_rewards(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        return np.column_stack([m.rewards(prompts, completions) for m in self.members])

    def _rewards(self, prompts: list[str], completions: list[str]) -> Any:
        return aggregate(self.member_rewards(prompts, completions), self.aggregation, self.lam)


class RewardModelLabeller(Labeller):
    """Any prefkit model with ``reward_texts(prompts, responses)`` (reward models, DPO policies,
    choice models …).  A ``RewardModel`` with the ensemble head is aggregated here by
    ``aggregation`` (``mean``/``wco``/``uwo``) from its members' rewards; None keeps the
    model's own aggregation."""

    def __init__(self, model: Any, *, aggregation: str | None = None, lam: float = 1.0,
                 name: str | None = None) -> None:
        if aggregation is not None and aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggregation!r} "
                             f"(expected {', '.join(AGGREGATIONS)})")
        self.model, self.aggregation, self.lam = model, aggregation, lam
        self.name = name or type(model).__name__

    def _member_rewards(self, prompts: list[str], completions: list[str]) -> np.ndarray | None:
        head = getattr(self.model, "head", None)
        if self.aggregation is None or not hasattr(head, "member_rewards"):
            return None
        x = self.model.encode_texts(list(prompts), list(completions))
        return np.asarray(head.member_rewards(x).double().numpy())

    def _rewards(self, prompts: list[str], completions: list[str]) -> Any:
        members = self._member_rewards(prompts, completions)
        if members is not None:
            return aggregate(members, str(self.aggregation), self.lam)
        return self.model.reward_texts(prompts, completions)


class PreferenceModelLabeller(Labeller):
    """A pairwise preference model: anything with ``predict_proba(dataset)`` over pairwise
    records (GPM, any prefkit model, an LLM judge); P(a ≻ b | x) directly, no scalar reward."""

    scalar = False

    def __init__(self, model: Any, *, name: str | None = None) -> None:
        if not hasattr(model, "predict_proba"):
            raise TypeError(f"{type(model).__name__} has no predict_proba")
        self.model = model
        self.name = name or type(model).__name__

    def _preferences(self, prompts: list[str], a: list[str], b: list[str]) -> Any:
        from prefkit.data import PreferenceDataset

        records = [{"prompt": x, "a_text": ya, "b_text": yb, "a": f"a{i}", "b": f"b{i}", "p_a": 0.5}
                   for i, (x, ya, yb) in enumerate(zip(prompts, a, b, strict=True))]
        ds = PreferenceDataset.from_records(records, kind="pairwise", name="online-pairs")
        return self.model.predict_proba(ds)


def as_labeller(obj: Any, **kw: Any) -> Labeller:
    """A :class:`Labeller` for ``obj``: a labeller, a model with ``reward_texts`` (scalar; also
    given ``predict_proba`` it stays scalar), a pairwise model with only ``predict_proba``, or a
    Python function of (prompts, completions)."""
    if isinstance(obj, Labeller):
        return obj
    if hasattr(obj, "reward_texts"):
        head = getattr(obj, "head", None)
        if head is not None and getattr(head, "scalar", True) is False:
            return PreferenceModelLabeller(obj)
        return RewardModelLabeller(obj, **kw)
    if hasattr(obj, "predict_proba"):
        return PreferenceModelLabeller(obj)
    if callable(obj):
        return FunctionLabeller(obj, **kw)
    raise TypeError(f"cannot label with a {type(obj).__name__}: need reward_texts, "
                    "predict_proba or a function")
