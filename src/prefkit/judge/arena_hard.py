"""Arena-Hard: verdicts → battles (published v0.1 and v2 rules) → leaderboard, with style control.

Rules of arena-hard-auto v0.1 (``show_result.py``; Li et al. 2024, "From crowdsourced data to
high-quality benchmarks: Arena-Hard and BenchBuilder pipeline").  Each question is judged in two
games between the baseline and a model: game 1 shows the baseline as assistant A, game 2 shows
the model as A.  Each game's verdict becomes battles between ``a`` (the baseline) and ``b``:

    A>B  → 1 battle won by the answer shown as A        A>>B → ``weight`` (3) such battles
    A=B  → 1 tie                                        B>A, B>>A → the same for B
    unparsed → no battle (counted, never a tie or a loss)

Verdicts of other protocols (``[[A]]/[[B]]/[[C]]``) give one battle each.  The leaderboard is a
Bradley–Terry fit with each tie counted as half a win for each side (:mod:`prefkit.choice`,
``ties="half"``), which is what v0.1's logistic regression on duplicated tie rows computes.

**v2** (arena-hard-auto ``show_result.py``, ``label_to_score``): the same battles — a verdict for
the answer shown as A scores ``[1]`` (``A>B``), ``[1]*weight`` (``A>>B``), ``[0.5]`` (``A=B``) …,
game 1 (baseline shown as A) counted as ``1 − s`` for the model — but a question whose *either*
game is null or unparsed is dropped whole (v0.1 drops only the unparsed game).

**Scores** (:func:`arena_hard_scores`): every battle is the model against the baseline, so the
Bradley–Terry MLE decouples per model: the model's win rate against the baseline is its mean
battle score (wins + ½ ties) / battles — v0.1's ``compute_mle_elo`` + ``predict_win_rate`` and
v2's per-model mean give that same number.  With style control the fit is joint over models
(:mod:`prefkit.judge.style_control`), and the score is σ(s·(θ_m − θ_base)).  Intervals:
percentile bootstrap over battles (v0.1: 2.5–97.5 %, v2: 5–95 %); arena-hard-auto reports the
bootstrap mean (v2) or median (v2 with style control) as the score, prefkit the full-data fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.choice import leaderboard
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.parsing import canonical_arena_text
from prefkit.judge.style_control import AnswerStyle, answer_style

STRONG = ("A>>B", "B>>A")
DEFAULT_WEIGHT = 3
RULES = ("v0.1", "v2")


def battle_weights(verdicts: Any, *, weight: int = DEFAULT_WEIGHT) -> np.ndarray:
    """Battles per judgment: ``weight`` for a strong verdict (``A>>B``, ``B>>A``), else 1."""
    return np.array(
        [weight if canonical_arena_text(v) in STRONG else 1 for v in verdicts], dtype=np.int64
    )


def label_to_score(verdict: str | None, *, weight: int = DEFAULT_WEIGHT) -> list[float]:
    """v2's ``label_to_score``: the battle scores of the answer shown as A for one verdict
    (``A>>B`` → ``[1.0] * weight``, ``A=B`` → ``[0.5]``, ``B>A`` → ``[0.0]`` …; unparsed → ``[]``).
    """
    value = canonical_arena_text(verdict)
    if value is None:
        return []
    score = 1.0 if value.startswith("A>") else 0.5 if value == "A=B" else 0.0
    return [score] * (weight if value in STRONG else 1)


def _incomplete_pairs(judgments: PreferenceDataset) -> set[str]:
    """Pairs without a parsed verdict in both orders (v2 drops them whole)."""
    orders: dict[str, set[str]] = {}
    ids = judgments.column("pair_id") if judgments.has("pair_id") else range(len(judgments))
    order = judgments.column("order") if judgments.has("order") else ["ab"] * len(judgments)
    for pid, o in zip(ids, order, strict=True):
        orders.setdefault(str(pid), set()).add(o or "ab")
    bad = {str(u.get("pair_id")) for u in judgments.metadata.get("unparsed") or []}
    return bad | {pid for pid, seen in orders.items() if seen != {"ab", "ba"}}


def battles(
    judgments: PreferenceDataset,
    *,
    weight: int = DEFAULT_WEIGHT,
    first_game_only: bool = False,
    rules: str = "v0.1",
) -> PreferenceDataset:
    """The battles of recorded judgments (one pairwise record per battle, see the module notes).

    ``judgments``: the judgments layout (:mod:`prefkit.judge.judgments`), e.g. read with
    ``--format arena-hard``; its ``winner`` is already in the original frame, so the rules only
    decide how many battles a verdict is worth.  ``first_game_only``: keep order ``ab`` only.
    Metadata ``battles``: counts of games, battles, strong verdicts and unparsed judgments.
    """
    if judgments.kind != "pairwise":
        raise DataError(f"expected pairwise judgments, got {judgments.kind}", source=judgments.name)
    if not isinstance(weight, int) or weight < 1:
        raise DataError(f"weight must be a positive integer, got {weight!r}", field="weight")
    n = len(judgments)
    orders = judgments.column("order") if judgments.has("order") else np.full(n, "ab", object)
    keep = np.ones(n, dtype=bool)
    if first_game_only:
        keep = np.array([o in (None, "ab") for o in orders], dtype=bool)
    dropped = 0
    shown = int(keep.sum())
    if rules == "v2" and not first_game_only:
        incomplete = _incomplete_pairs(judgments)
        ids = judgments.column("pair_id") if judgments.has("pair_id") else [None] * n
        whole = np.array([str(p) not in incomplete for p in ids], dtype=bool)
        dropped = int((keep & ~whole).sum())
        keep &= whole
    verdicts = judgments.column("verdict") if judgments.has("verdict") else [None] * n
    repeat = battle_weights(verdicts, weight=weight) * keep
    rows = np.repeat(np.arange(n), repeat)
    columns = [c for c in ("pair_id", "a", "b", "winner", "order", "verdict", "question_id",
                           "uid", "a_text", "b_text", "annotator_id") if judgments.has(c)]
    table = judgments.table.select(columns).take(pa.array(rows, pa.int64()))
    unparsed = [
        u for u in judgments.metadata.get("unparsed") or []
        if not first_game_only or (u.get("order") or "ab") == "ab"
    ]
    counts = {
        "games": shown + len(unparsed),
        "battles": int(repeat.sum()),
        "strong": int(((repeat > 1) & keep).sum()),
        "unparsed": len(unparsed),
        "weight": weight,
        "rules": rules,
        "dropped": dropped,
    }
    return PreferenceDataset(
        table, "pairwise", name=judgments.name, metadata={"battles": counts}
    )


def arena_leaderboard(battle_data: PreferenceDataset, *, bootstrap: int = 0, seed: int = 0) -> Any:
    """Bradley–Terry leaderboard of battles, ties counted half (``prefkit.choice.leaderboard``)."""
    return leaderboard(battle_data, "bt", ties="half", bootstrap=bootstrap, seed=seed)


# ------------------------------------------------------------------ scores against the baseline
@dataclass
class ArenaHardScores:
    """Win rates (%) against the baseline, best first; ``style`` coefficients when controlled."""

    rows: list[dict[str, Any]]
    baseline: str
    rules: str
    level: float
    bootstrap: int
    counts: dict[str, Any]
    style: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "rules": self.rules, "level": self.level,
                "bootstrap": self.bootstrap, "battles": self.counts,
                "style_coefficients": self.style or None, "items": [dict(r) for r in self.rows]}

    def to_markdown(self) -> str:
        lines = [f"| rank | model | score (%) | {self.level:.0%} interval | battles |",
                 "|---:|---|---:|---|---:|"]
        for r in self.rows:
            ci = "—" if r["ci_low"] is None else f"[{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
            lines.append(f"| {r['rank']} | {r['model']} | {r['score']:.1f} | {ci} | "
                         f"{r['battles']} |")
        if self.style:
            coefs = ", ".join(f"{k} {v:+.3f}" for k, v in self.style.items())
            lines.append(f"\nstyle coefficients: {coefs}")
        return "\n".join(lines) + "\n"


def _baseline_of(a: np.ndarray, baseline: str | None, source: str | None) -> str:
    if baseline is not None:
        return baseline
    names = {str(x) for x in a}
    if len(names) != 1:
        raise DataError("battles have several first models: pass the baseline (--baseline)",
                        source=source, field="a")
    return names.pop()


def _question_ids(data: PreferenceDataset, models: np.ndarray) -> list[str]:
    for name in ("question_id", "uid"):
        if data.has(name):
            return [str(q) for q in data.column(name)]
    ids = data.column("pair_id") if data.has("pair_id") else [None] * len(data)
    out = []
    for pid, model in zip(ids, models, strict=True):
        text = str(pid)
        suffix = f"/{model}"
        out.append(text[: -len(suffix)] if text.endswith(suffix) else text)
    return out


def _battle_styles(
    data: PreferenceDataset, model_is_a: np.ndarray, models: np.ndarray, baseline: str,
    styles: Mapping[tuple[str, str], AnswerStyle] | None, length: Any,
) -> tuple[list[AnswerStyle], list[AnswerStyle]]:
    """(model answer style, baseline answer style) per battle: from the battle's texts, else
    from ``styles`` keyed by (model name, question id)."""
    n = len(data)
    ta = data.column("a_text") if data.has("a_text") else [None] * n
    tb = data.column("b_text") if data.has("b_text") else [None] * n
    questions = _question_ids(data, models) if styles is not None else [None] * n
    cache: dict[Any, AnswerStyle] = {}

    def style(text: Any, name: str, question: Any, field_name: str, i: int) -> AnswerStyle:
        if isinstance(text, str):
            if text not in cache:
                cache[text] = answer_style(text, length=length)
            return cache[text]
        if styles is not None and (name, question) in styles:
            return styles[(name, question)]
        raise DataError(
            f"style control needs the answer text or its style metadata of {name!r} on "
            f"question {question!r}", source=data.name, row=i, field=field_name)

    mine, base = [], []
    for i in range(n):
        m_text, b_text = (ta[i], tb[i]) if model_is_a[i] else (tb[i], ta[i])
        m_field, b_field = ("a_text", "b_text") if model_is_a[i] else ("b_text", "a_text")
        mine.append(style(m_text, str(models[i]), questions[i], m_field, i))
        base.append(style(b_text, baseline, questions[i], b_field, i))
    return mine, base


def arena_hard_scores(
    judgments: PreferenceDataset,
    *,
    rules: str = "v0.1",
    weight: int = DEFAULT_WEIGHT,
    baseline: str | None = None,
    style_control: Sequence[str] = (),
    styles: Mapping[tuple[str, str], AnswerStyle] | None = None,
    length: Any = "chars",
    bootstrap: int = 100,
    seed: int = 0,
    level: float | None = None,
    category: str | None = None,
    advance: Callable[[int], None] | None = None,
) -> ArenaHardScores:
    """Arena-Hard scores of every model against the baseline (see the module notes).

    ``judgments``: both games of each (question, model), e.g. ``--format arena-hard`` or
    ``prefkit judge pairwise`` output with the arena-hard template (one side of every pair is
    ``baseline``; default: the one first model).  ``style_control``: ``length`` and/or
    ``markdown`` covariates, measured on the answers' texts (``a_text``/``b_text``, with
    ``length`` a unit or a tokenizer function) or taken from ``styles``
    (:func:`prefkit.judge.style_control.style_from_metadata` of arena-hard-auto answer files).
    ``level``: interval level (default 0.95 for v0.1, 0.90 for v2, as published).
    ``category``: score the questions of one ``category`` only (v2 files have one per question).
    """
    from prefkit.judge.style_control import StyleDesign, style_features

    if bootstrap < 0:
        raise DataError("bootstrap must be ≥ 0", field="bootstrap")
    if category is not None:
        if not judgments.has("category"):
            raise DataError("no 'category' column to select from", source=judgments.name,
                            field="category")
        keep = np.array([str(c) == category for c in judgments.column("category")], bool)
        if not keep.any():
            raise DataError(f"no judgment of category {category!r}", source=judgments.name,
                            field="category")
        judgments = judgments.filter(keep)
    data = battles(judgments, weight=weight, rules=rules)
    counts = data.metadata["battles"]
    if len(data) == 0:
        raise DataError("no battles: every verdict is unparsed", source=judgments.name)
    level = level if level is not None else (0.95 if rules == "v0.1" else 0.90)
    a = np.asarray(data.column("a"), dtype=object)
    b = np.asarray(data.column("b"), dtype=object)
    base = _baseline_of(a, baseline, data.name)
    model_is_a = b == base
    stray = np.flatnonzero((a != base) & (b != base))
    if stray.size:
        raise DataError(f"a battle without the baseline {base!r}", source=data.name,
                        row=int(stray[0]), field="a")
    models = np.where(model_is_a, a, b)
    winner = np.asarray(data.column("winner"), dtype=object)
    p_model = np.where(winner == "tie", 0.5,
                       np.where(winner == np.where(model_is_a, "a", "b"), 1.0, 0.0))
    names = sorted({str(m) for m in models})
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    style: dict[str, float] = {}
    if not style_control:
        point = {m: float(p_model[models == m].mean()) for m in names}
        draws: dict[str, np.ndarray] = {}
        for m in names:
            scores = p_model[models == m]
            if bootstrap:
                counts_m = rng.multinomial(len(scores), np.full(len(scores), 1 / len(scores)),
                                           size=bootstrap)
                draws[m] = counts_m @ scores / len(scores)
        if advance:
            advance(bootstrap)
    else:
        mine, theirs = _battle_styles(data, model_is_a, models, base, styles, length)
        if rules == "v0.1":
            z, feature_names = style_features(theirs, mine, variant="v0.1",
                                              features=style_control)
            first, second, p_first = [base] * len(models), list(models), 1.0 - p_model
        else:
            z, feature_names = style_features(mine, theirs, variant="v2",
                                              features=style_control)
            first, second, p_first = list(models), [base] * len(models), p_model

        design = StyleDesign(first, second, p_first, z, feature_names, variant=rules,
                             reference=base)
        full = design.fit()
        point = {m: full.win_rate(m, base) for m in names}
        style = {k: float(g) for k, g in zip(feature_names, full.gamma, strict=True)}
        draws = {m: np.empty(bootstrap) for m in names}
        codes = np.searchsorted(names, models.astype(str))
        for r in range(bootstrap):
            w = rng.multinomial(len(models), np.full(len(models), 1 / len(models))).astype(float)
            boot = design.fit(w)
            present = np.bincount(codes, weights=w, minlength=len(names)) > 0
            for k, m in enumerate(names):  # a model with no battle in a round has no score
                draws[m][r] = boot.win_rate(m, base) if present[k] else np.nan
            if advance:
                advance(1)
    rows = []
    for m in names:
        d = draws.get(m)
        d = None if d is None else d[np.isfinite(d)]
        ci = (None, None) if d is None or not len(d) else (
            100 * float(np.quantile(d, lo_q)), 100 * float(np.quantile(d, hi_q)))
        rows.append({"model": m, "score": 100 * point[m], "ci_low": ci[0], "ci_high": ci[1],
                     "battles": int((models == m).sum())})
    rows.append({"model": base, "score": 50.0, "ci_low": 50.0 if bootstrap else None,
                 "ci_high": 50.0 if bootstrap else None, "battles": len(models)})
    rows.sort(key=lambda r: -r["score"])
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return ArenaHardScores(rows, base, rules, level, bootstrap, counts, style)


# ------------------------------------------------------------------ pairs to judge
def _question_text(rec: dict[str, Any]) -> tuple[str, str, Any]:
    """(question id, prompt, category) of an arena-hard-auto question line (v0.1: ``question_id``
    + ``turns[0].content``; v2: ``uid`` + ``prompt``)."""
    qid = rec.get("uid", rec.get("question_id"))
    prompt = rec.get("prompt")
    if prompt is None:
        prompt = rec["turns"][0]["content"]
    if qid is None or not isinstance(prompt, str):
        raise KeyError("question")
    return str(qid), prompt, rec.get("category")


def _answer_text(rec: dict[str, Any]) -> tuple[str, str, str]:
    """(model, question id, answer) of an arena-hard-auto answer line (v0.1: ``model_id`` +
    ``choices[0].turns[0].content``; v2: ``model`` + ``messages[-1].content.answer``)."""
    model = rec.get("model") or rec.get("model_id")
    qid = rec.get("uid", rec.get("question_id"))
    if "messages" in rec:
        content = rec["messages"][-1]["content"]
        text = content["answer"] if isinstance(content, dict) else content
    else:
        text = rec["choices"][0]["turns"][0]["content"]
    if model is None or qid is None or not isinstance(text, str):
        raise KeyError("answer")
    return str(model), str(qid), text


def pairs_against_baseline(
    questions: list[dict[str, Any]], answers: list[dict[str, Any]], baseline: str
) -> list[dict[str, Any]]:
    """One pair per (question, model ≠ baseline) — ``pair_id = "QID/MODEL"``, ``a`` = baseline,
    ``b`` = the model, their answers as ``a_text``/``b_text`` — ready for ``prefkit judge
    pairwise --template arena_hard`` (which asks both orders).  ``questions`` and ``answers``:
    the parsed lines of arena-hard-auto's ``question.jsonl`` and ``model_answer/*.jsonl``
    (v0.1 or v2 layouts).  A model without an answer to a question is a DataError naming both.
    """
    prompts: dict[str, tuple[str, Any]] = {}
    for k, rec in enumerate(questions):
        try:
            qid, prompt, category = _question_text(rec)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise DataError("not an arena-hard question (uid/question_id and prompt/turns)",
                            row=k, field="question") from None
        prompts[qid] = (prompt, category)
    texts: dict[str, dict[str, str]] = {}
    for k, rec in enumerate(answers):
        try:
            model, qid, text = _answer_text(rec)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise DataError("not an arena-hard answer (model, uid/question_id, answer text)",
                            row=k, field="answer") from None
        texts.setdefault(model, {})[qid] = text
    if baseline not in texts:
        raise DataError(f"no answers of the baseline {baseline!r} (models: "
                        f"{', '.join(sorted(texts))})", field="baseline")
    pairs = []
    for model in sorted(texts):
        if model == baseline:
            continue
        for qid, (prompt, category) in prompts.items():
            for who in (baseline, model):
                if qid not in texts[who]:
                    raise DataError(f"model {who!r} has no answer to question {qid!r}",
                                    field="answer")
            pairs.append({"pair_id": f"{qid}/{model}", "question_id": qid, "category": category,
                          "prompt": prompt, "a": baseline, "b": model,
                          "a_text": texts[baseline][qid], "b_text": texts[model][qid]})
    return pairs
