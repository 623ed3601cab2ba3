"""Recorded judgments as a judge: re-parsing recorded files, and :class:`RecordedJudge`.

:func:`reparse` reads every recorded judgment's raw text again with prefkit's parser for its
protocol (:mod:`prefkit.judge.parsing`) and compares the result with the file's own verdict, so a
file's parsing can be checked before its verdicts are trusted.  :class:`RecordedJudge` answers
the model contract (``predict_proba``, ``judge``) from recorded verdicts of both orders with a
declared aggregation (:func:`prefkit.judge.judgments.aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.judgments import AGGREGATIONS, aggregate, pair_table
from prefkit.judge.parsing import (
    Verdict,
    parse_rating,
    parser_for,
)

#: text shown of a disagreeing judgment
_SHOWN = 160


@dataclass
class ReparseReport:
    """How prefkit's parse of each raw text compares with the file's own verdict."""

    total: int = 0
    agree: int = 0
    recorded_unparsed: int = 0
    reparsed_unparsed: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "agree": self.agree,
            "disagree": self.total - self.agree,
            "recorded_unparsed": self.recorded_unparsed,
            "reparsed_unparsed": self.reparsed_unparsed,
            "disagreements": self.disagreements,
        }


def _frame(verdict: Verdict, order: str) -> str | None:
    """A positional verdict ("A", "B", "tie", "A>>B" …) in the pair's original frame."""
    value = verdict.value
    if value is None:
        return None
    if value == "tie" or (isinstance(value, str) and "=" in value):
        return "tie"
    first = str(value)[0].upper() == "A"
    return ("a" if first else "b") if order == "ab" else ("b" if first else "a")


def _text_for(protocol: str | None, rationale: Any, verdict: Any) -> Any:
    return verdict if (protocol or "").lower() == "pandalm" else rationale


def _tail(text: Any) -> str | None:
    return text[-_SHOWN:] if isinstance(text, str) else None


def reparse(
    judgments: PreferenceDataset, protocol: str | None = None
) -> tuple[PreferenceDataset, ReparseReport]:
    """Re-parse every judgment's raw text; returns ``(re-parsed judgments, report)``.

    Pairwise judgments: the parser of ``protocol`` (default: each record's ``protocol`` column;
    ``pair-*`` → ``[[A]]/[[B]]/[[C]]``, ``arena-hard``, ``pandalm``), its verdict put in the
    original frame through ``order``.  Ratings: :func:`~prefkit.judge.parsing.parse_rating` on
    ``rationale`` against ``scores["overall"]``.  The returned dataset holds prefkit's verdicts
    (``winner``/``scores``), with its unparsed judgments in ``metadata["unparsed"]``.
    """
    if judgments.kind == "rating":
        return _reparse_ratings(judgments)
    if judgments.kind != "pairwise":
        raise DataError(f"cannot re-parse {judgments.kind} data", source=judgments.name)
    report = ReparseReport()
    n = len(judgments)
    col = {
        name: (judgments.column(name) if judgments.has(name) else [None] * n)
        for name in ("pair_id", "order", "winner", "verdict", "rationale", "protocol")
    }
    new_winner: list[str | None] = []
    reasons: list[str | None] = []
    entries = [
        (i, col["pair_id"][i], col["order"][i] or "ab", col["winner"][i], col["verdict"][i],
         col["rationale"][i], col["protocol"][i])
        for i in range(n)
    ] + [
        (None, u.get("pair_id"), u.get("order") or "ab", None, u.get("label"), u.get("rationale"),
         None)
        for u in judgments.metadata.get("unparsed") or []
    ]
    default_protocol = next((p for p in col["protocol"] if p), None)
    still_unparsed: list[dict[str, Any]] = []
    for i, pair_id, order, recorded, raw_verdict, text, proto in entries:
        name = protocol or proto or default_protocol
        try:
            parse = parser_for(name)
        except KeyError:
            raise DataError(
                f"no parser for protocol {name!r}; pass one of pairwise-abc, arena-hard, pandalm",
                source=judgments.name, field="protocol",
            ) from None
        verdict = parse(_text_for(name, text, raw_verdict))
        mine = _frame(verdict, order)
        report.total += 1
        report.recorded_unparsed += recorded is None
        report.reparsed_unparsed += mine is None
        if mine == recorded:
            report.agree += 1
        else:
            report.disagreements.append(
                {"pair_id": pair_id, "order": order, "recorded": recorded, "reparsed": mine,
                 "reason": verdict.reason, "token": verdict.token, "text_end": _tail(text)}
            )
        if i is not None:
            new_winner.append(mine)
            reasons.append(verdict.reason)
        elif mine is None:
            still_unparsed.append({"pair_id": pair_id, "order": order, "label": verdict.reason,
                                   "rationale": text})
    table = judgments.table.set_column(
        judgments.table.column_names.index("winner"), "winner",
        pa.array(new_winner, pa.string()),
    )
    keep = np.array([w is not None for w in new_winner], dtype=bool)
    a_names = judgments.column("a") if judgments.has("a") else [None] * n
    b_names = judgments.column("b") if judgments.has("b") else [None] * n
    unparsed = [
        {"pair_id": col["pair_id"][i], "order": col["order"][i] or "ab", "a": a_names[i],
         "b": b_names[i], "label": reasons[i], "rationale": col["rationale"][i]}
        for i in np.flatnonzero(~keep)
    ] + still_unparsed
    out = PreferenceDataset(
        table.filter(pa.array(keep)), "pairwise", name=judgments.name,
        metadata={**judgments.metadata, "unparsed": unparsed, "reparsed": True},
    )
    return out, report


def _reparse_ratings(ds: PreferenceDataset) -> tuple[PreferenceDataset, ReparseReport]:
    report = ReparseReport()
    texts = ds.column("rationale") if ds.has("rationale") else [None] * len(ds)
    scores = ds.column("scores")
    ids = ds.column("question_id") if ds.has("question_id") else [None] * len(ds)
    entries = [
        (dict(s or {}).get("overall"), t, q)
        for s, t, q in zip(scores, texts, ids, strict=True)
    ]
    entries += [
        (None, u.get("rationale"), u.get("id")) for u in ds.metadata.get("unparsed") or []
    ]
    for recorded, text, qid in entries:
        verdict = parse_rating(text)
        report.total += 1
        report.recorded_unparsed += recorded is None
        report.reparsed_unparsed += not verdict.parsed
        if verdict.value == recorded or (verdict.value is not None and recorded is not None
                                         and float(verdict.value) == float(recorded)):
            report.agree += 1
        else:
            report.disagreements.append(
                {"id": qid, "recorded": recorded, "reparsed": verdict.value,
                 "reason": verdict.reason, "token": verdict.token, "text_end": _tail(text)}
            )
    return ds, report


def _json_safe(value: Any) -> Any:
    """A record value as strict JSON (NaN → None; maps → lists of pairs as Arrow gives them)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


@register("judge.RecordedJudge")
class RecordedJudge(PreferenceEstimator):
    """A judge whose verdicts were recorded: P(a ≻ b) from the verdicts of both orders.

    Args:
        aggregation: how two orders make one verdict — ``"consistent-only"``,
            ``"inconsistent-as-tie"`` (FastChat) or ``"average"`` (see
            :func:`prefkit.judge.judgments.aggregate`).
        verdicts: ``"recorded"`` (the file's own parsed verdicts) or ``"reparse"`` (prefkit's
            parse of the raw texts, :func:`reparse`).

    ``fit(judgments)`` stores the judgments; ``predict_proba(ds)`` answers for the records of
    ``ds`` by ``pair_id`` (a record whose ``a``/``b`` are the recorded pair's ``b``/``a`` gets
    1 − p); NaN where the judge has no verdict (an unparsed order; an inconsistent pair under
    ``consistent-only``).  A record whose pair was never judged is a DataError.
    ``judge(ds)`` returns the judgments of the pairs of ``ds``: raw text (``rationale``), verdict,
    order, ``template_hash`` (None: recorded) and the judge as ``annotator_id``.

    Saved by ``prefkit.save`` as JSON (the judgments, texts included, in ``config.json``) plus the
    per-pair outcome codes in ``arrays.safetensors``; nothing in the file can run code.
    """

    _fitted_attr = "pair_ids_"

    def __init__(self, aggregation: str = "inconsistent-as-tie", verdicts: str = "recorded"):
        self.aggregation = aggregation
        self.verdicts = verdicts

    def fit(self, dataset: PreferenceDataset, **fit_params: Any) -> RecordedJudge:
        if self.aggregation not in AGGREGATIONS:
            raise DataError(
                f"unknown aggregation {self.aggregation!r} "
                f"(expected one of {', '.join(AGGREGATIONS)})", field="aggregation",
            )
        if self.verdicts not in ("recorded", "reparse"):
            raise DataError(
                f"unknown verdicts {self.verdicts!r} (expected 'recorded' or 'reparse')",
                field="verdicts",
            )
        judgments = reparse(dataset)[0] if self.verdicts == "reparse" else dataset
        table = pair_table(judgments)
        judges = set(table.judge)
        if len(judges) > 1:
            raise DataError(
                f"judgments of {len(judges)} judges ({', '.join(sorted(judges))}); "
                "fit one RecordedJudge per judge", source=dataset.name, field="annotator_id",
            )
        self.judgments_ = judgments
        self.pair_ids_ = table.pair_id
        self.a_ = table.a
        self.b_ = table.b
        self.outcome_ = table.outcome
        self.p_a_ = aggregate(table.outcome, self.aggregation)
        self.name_ = next(iter(judges), "") or "recorded"
        self._index = {str(p): k for k, p in enumerate(self.pair_ids_)}
        return self

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        table = self.judgments_.table
        config = {
            "aggregation": self.aggregation,
            "verdicts": self.verdicts,
            "name": self.name_,
            "pair_ids": [str(p) for p in self.pair_ids_],
            "a": [None if v is None else str(v) for v in self.a_],
            "b": [None if v is None else str(v) for v in self.b_],
            "judgments": {
                name: _json_safe(table.column(name).to_pylist()) for name in table.column_names
            },
            "unparsed": _json_safe(self.judgments_.metadata.get("unparsed") or []),
            "dataset_name": self.judgments_.name,
        }
        arrays = {"outcome": self.outcome_.astype(np.int64), "p_a": self.p_a_.astype(np.float64)}
        return config, arrays

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Any, **kw: Any
    ) -> RecordedJudge:
        judge = cls(aggregation=config["aggregation"], verdicts=config["verdicts"])
        columns = config["judgments"]
        judge.judgments_ = PreferenceDataset(
            pa.table(columns), "pairwise", name=config.get("dataset_name"),
            metadata={"unparsed": config.get("unparsed") or []},
        )
        judge.pair_ids_ = np.array(config["pair_ids"], dtype=object)
        judge.a_ = np.array(config["a"], dtype=object)
        judge.b_ = np.array(config["b"], dtype=object)
        judge.outcome_ = np.asarray(arrays["outcome"], dtype=np.int64).reshape(-1, 2)
        judge.p_a_ = np.asarray(arrays["p_a"], dtype=np.float64)
        judge.name_ = config.get("name") or "recorded"
        if not len(judge.pair_ids_) == len(judge.outcome_) == len(judge.p_a_):
            from prefkit.errors import ModelFileError

            raise ModelFileError(f"{directory}: pair_ids, outcome and p_a differ in length")
        return judge

    def _rows(self, dataset: PreferenceDataset) -> tuple[np.ndarray, np.ndarray]:
        self.check_fitted()
        if not hasattr(self, "_index"):
            self._index = {str(p): k for k, p in enumerate(self.pair_ids_)}
        if not dataset.has("pair_id"):
            raise DataError(
                "a recorded judge finds pairs by 'pair_id'; the data has none",
                source=dataset.name, field="pair_id",
            )
        ids = dataset.column("pair_id")
        a = dataset.column("a") if dataset.has("a") else [None] * len(dataset)
        b = dataset.column("b") if dataset.has("b") else [None] * len(dataset)
        rows = np.empty(len(dataset), dtype=np.int64)
        swapped = np.zeros(len(dataset), dtype=bool)
        for i, pid in enumerate(ids):
            k = self._index.get(str(pid))
            if k is None:
                raise DataError(
                    f"no recorded judgment of pair {pid!r}", source=dataset.name, row=i,
                    field="pair_id",
                )
            rows[i] = k
            swapped[i] = (
                a[i] is not None and a[i] == self.b_[k] and b[i] == self.a_[k]
                and self.a_[k] != self.b_[k]
            )
        return rows, swapped

    def predict_proba(self, dataset: PreferenceDataset) -> np.ndarray:
        rows, swapped = self._rows(dataset)
        p = self.p_a_[rows].copy()
        p[swapped] = 1.0 - p[swapped]
        return p

    def has_verdict(self, dataset: PreferenceDataset) -> np.ndarray:
        """Mask of the records of ``dataset`` the judge has a verdict for (``predict_proba`` is
        not NaN): ``evaluate(judge, ds.filter(judge.has_verdict(ds)))`` scores what it judged."""
        return ~np.isnan(self.predict_proba(dataset))

    def judge(self, dataset: PreferenceDataset) -> PreferenceDataset:
        rows, _ = self._rows(dataset)
        wanted = {str(self.pair_ids_[k]) for k in rows}
        judged = self.judgments_
        mask = np.array([str(p) in wanted for p in judged.column("pair_id")], dtype=bool)
        out = judged.filter(mask)
        out.metadata = {
            **judged.metadata,
            "unparsed": [
                u for u in judged.metadata.get("unparsed") or [] if str(u.get("pair_id")) in wanted
            ],
            "aggregation": self.aggregation,
        }
        return out

