"""A jury: several judges, one verdict — by majority or by mean probability, each judge kept.

Verga et al. 2024 ("Replacing judges with juries: evaluating LLM generations with a panel of
diverse models", PoLL) pool several smaller judges instead of one large one.  With
:math:`p_j` the P(a ≻ b) of judge *j* (its own two-order aggregation) over the judges that gave a
verdict:

* ``mean``: :math:`p = \\frac{1}{|J|} \\sum_{j \\in J} p_j`;
* ``majority``: each judge votes a (:math:`p_j > ½`), b (:math:`< ½`) or tie (:math:`= ½`); the
  most common vote wins (1, 0 or ½); a draw between the most common votes is a tie (½).

A pair no judge has a verdict for is NaN.  :meth:`Jury.predict_proba_by_judge` reports every
judge's probabilities, :meth:`Jury.judge` every judge's judgments (one dataset, ``annotator_id``
= judge) — the multi-annotator layout the annotator-quality models (Dawid–Skene, CrowdBT) and
``prefkit judge analyze`` read.  Saved by ``prefkit.save`` as the members' configurations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError, ModelFileError

RULES = ("mean", "majority")


def combine(probabilities: np.ndarray, rule: str = "mean") -> np.ndarray:
    """(n,) jury P(a ≻ b) from (n_judges, n) judge probabilities (NaN: no verdict)."""
    if rule not in RULES:
        raise DataError(f"unknown jury rule {rule!r} (expected mean or majority)", field="rule")
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2:
        raise ValueError("probabilities must be (n_judges, n)")
    has = ~np.isnan(p)
    any_verdict = has.any(axis=0)
    out = np.full(p.shape[1], np.nan)
    if rule == "mean":
        with np.errstate(invalid="ignore"):
            out[any_verdict] = np.nanmean(p[:, any_verdict], axis=0)
        return out
    counts = np.stack([(p > 0.5).sum(axis=0), (p < 0.5).sum(axis=0), (p == 0.5).sum(axis=0)])
    best = counts.max(axis=0)
    unique = (counts == best).sum(axis=0) == 1
    winner = counts.argmax(axis=0)
    value = np.where(unique, np.array([1.0, 0.0, 0.5])[winner], 0.5)
    out[any_verdict] = value[any_verdict]
    return out


@register("judge.Jury")
class Jury(PreferenceEstimator):
    """Several judges as one (see the module notes).

    Args:
        judges: the member judges (:class:`~prefkit.judge.live.LLMJudge` or any model with
            ``predict_proba``; saving needs LLM judges).
        rule: ``mean`` (mean probability) or ``majority`` (majority vote, a draw is a tie).
    """

    def __init__(self, judges: list[Any] | None = None, rule: str = "mean") -> None:
        self.judges = judges
        self.rule = rule

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def _members(self) -> list[Any]:
        if not self.judges:
            raise DataError("a jury needs at least one judge", field="judges")
        if self.rule not in RULES:
            raise DataError(f"unknown jury rule {self.rule!r} (expected mean or majority)",
                            field="rule")
        return list(self.judges)

    @staticmethod
    def _name(judge: Any, k: int) -> str:
        try:
            return str(judge.judge_name)
        except AttributeError:
            return str(getattr(judge, "name", None) or f"judge{k}")

    def fit(self, dataset: Any = None, **fit_params: Any) -> Jury:
        for judge in self._members():
            judge.fit(dataset, **fit_params)
        return self

    def predict_proba_by_judge(self, dataset: PreferenceDataset) -> dict[str, np.ndarray]:
        """Every judge's P(a ≻ b) per record, by judge name."""
        out: dict[str, np.ndarray] = {}
        for k, judge in enumerate(self._members()):
            name = self._name(judge, k)
            if name in out:
                raise DataError(f"two jury members are named {name!r}", field="judges")
            out[name] = np.asarray(judge.predict_proba(dataset), dtype=float)
        return out

    def predict_proba(self, dataset: PreferenceDataset) -> np.ndarray:
        by_judge = self.predict_proba_by_judge(dataset)
        return combine(np.stack(list(by_judge.values())), self.rule)

    def report(self, dataset: PreferenceDataset) -> dict[str, Any]:
        """The jury's and each judge's probabilities, and how often each judge's vote equals
        the jury's (pairs where both have a verdict)."""
        by_judge = self.predict_proba_by_judge(dataset)
        jury = combine(np.stack(list(by_judge.values())), self.rule)
        agreement = {}
        for name, p in by_judge.items():
            both = ~np.isnan(p) & ~np.isnan(jury)
            same = np.sign(p[both] - 0.5) == np.sign(jury[both] - 0.5)
            agreement[name] = float(same.mean()) if both.any() else None
        return {"rule": self.rule, "jury": jury, "judges": by_judge,
                "agreement_with_jury": agreement}

    def has_verdict(self, dataset: PreferenceDataset) -> np.ndarray:
        return ~np.isnan(self.predict_proba(dataset))

    def judge(self, dataset: PreferenceDataset) -> PreferenceDataset:
        """Every judge's judgments in one dataset (``annotator_id`` = judge)."""
        parts = [judge.judge(dataset) for judge in self._members()]
        import pyarrow as pa

        tables = [p.table for p in parts]
        names = set(tables[0].column_names)
        for t in tables[1:]:
            names &= set(t.column_names)
        columns = [c for c in tables[0].column_names if c in names]
        table = pa.concat_tables([t.select(columns) for t in tables], promote_options="permissive")
        unparsed = [u for p in parts for u in p.metadata.get("unparsed") or []]
        return PreferenceDataset(table, "pairwise", name=dataset.name,
                                 metadata={"unparsed": unparsed, "jury_rule": self.rule})

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from prefkit.judge.live import LLMJudge

        members = []
        for judge in self._members():
            if not isinstance(judge, LLMJudge):
                raise ModelFileError(f"a jury is saved as its members' settings: a "
                                     f"{type(judge).__name__} member cannot be")
            members.append(judge._get_state()[0])
        return {"rule": self.rule, "judges": members}, {}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Any, **kw: Any) -> Jury:
        from prefkit.judge.live import LLMJudge

        members = config.get("judges")
        if not isinstance(members, list) or not members:
            raise ModelFileError(f"{directory}: a saved jury lists no judges")
        judges = [LLMJudge._from_state(m, {}, directory) for m in members]
        return cls(judges=judges, rule=str(config.get("rule", "mean")))
