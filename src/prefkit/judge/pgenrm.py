r"""P-GenRM: a personalised generative reward model — a judge scores responses under each user's
inferred persona and rubric, with test-time scaling over evaluation samples and similar users.

"P-GenRM: personalized generative reward model with test-time user-based scaling" (seed
catalogue 004 §1.5; the procedure below is the catalogue's reconstruction [K-recon]).  With any
judge backend (:mod:`prefkit.judge.backends`):

1. **Persona and rubric** — from user u's history H_u (chosen / rejected responses) the LLM
   writes a persona p_u and a scoring rubric R_u (template ``pgenrm_persona``; a line
   ``Persona: …`` then numbered rubric lines).
2. **User prototypes** — users are embedded (``encoder`` over persona + rubric text; default
   MiniLM) and clustered by k-means into M prototypes.
3. **Individual score** — S evaluation chains score a response y under (p_u, R_u), 1–10
   (template ``pgenrm_score``; ``Score: [[n]]``; each chain is a separate request)::

       s_u(y) = (1/S) Σ_s score_s(y | p_u, R_u)

4. **Prototype score** — the n users nearest to u inside u's prototype score y under *their*
   persona and rubric: s_proto(y) = mean_v s_v(y).
5. **Final** — s(y) = α s_u(y) + (1 − α) s_proto(y);  P(a ≻ b) = σ(s(a) − s(b)).

S and n are the two test-time scaling axes (individual and prototype granularity).  Not done:
training the generative judge itself (the paper fine-tunes it on the structured evaluation
chains) and weighting chains by self-consistency; unparsed scores are dropped from the means
(a response with no parsed score gets s = NaN, and a pair with one gets P = NaN).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from prefkit.errors import DataError
from prefkit.judge.asking import AskStats, ask_parsed, identity_of, session
from prefkit.judge.cache import JudgeCache
from prefkit.judge.parsing import Verdict, parse_rating, unparsed
from prefkit.judge.templates import Template

PERSONA = Template("pgenrm_persona", (
    "<<system>>\nYou infer what a user values from the answers they chose.\n<<user>>\n"
    "[User History]\n{% for h in history %}Prompt: {{ h.prompt }}\nChosen: {{ h.chosen }}\n"
    "Rejected: {{ h.rejected }}\n{% endfor %}[End of User History]\n\n"
    "Describe this user in one line starting with \"Persona:\", then write a scoring rubric "
    "for answers to them as numbered lines."), protocol="pgenrm-persona")
SCORE = Template("pgenrm_score", (
    "<<system>>\nYou score an answer for a specific user.\n<<user>>\n"
    "[Persona]\n{{ persona }}\n[End of Persona]\n\n[Rubric]\n{% for r in rubric %}"
    "{{ loop.index }}. {{ r }}\n{% endfor %}[End of Rubric]\n\n[User Question]\n{{ question }}"
    "\n\n[The Start of the Response]\n{{ response }}\n[The End of the Response]\n\n"
    "Evaluation {{ sample }}: reason step by step about the rubric, then give a score from 1 to "
    "10 as Score: [[n]]."), protocol="rating")

_PERSONA_LINE = re.compile(r"^\s*persona\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_RUBRIC_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.{3,300}?)\s*$", re.MULTILINE)


def parse_persona(text: Any) -> Verdict:
    """{'persona': …, 'rubric': (…)} from a ``Persona:`` line and numbered / bulleted rubric
    lines; unparsed without a persona line or any rubric line."""
    if not isinstance(text, str):
        return unparsed("no text")
    persona = _PERSONA_LINE.search(text)
    rubric = tuple(m.group(1) for m in _RUBRIC_LINE.finditer(text))
    if persona is None or not rubric:
        return unparsed("no persona line" if persona is None else "no rubric")
    return Verdict({"persona": persona.group(1), "rubric": rubric}, "persona")


@dataclass
class UserProfile:
    """One user's inferred persona, rubric, embedding and prototype."""

    persona: str
    rubric: tuple[str, ...]
    vector: np.ndarray
    prototype: int = 0


@dataclass
class PGenRM:
    """Personalised generative reward (module notes); ``fit`` on a pairwise dataset with
    ``user_id``, then :meth:`predict_proba` on pairs of known users."""

    backend: Any
    samples: int = 3
    prototypes: int = 2
    neighbours: int = 2
    alpha: float = 0.5
    max_history: int = 8
    encoder: Any = None
    cache: JudgeCache | None = None
    reask: int = 1
    seed: int = 0
    profiles_: dict[str, UserProfile] = field(default_factory=dict)
    stats_: AskStats = field(default_factory=AskStats)

    # ---------------------------------------------------------------- fit
    def fit(self, history: Any) -> PGenRM:
        return asyncio.run(self.afit(history))

    async def afit(self, history: Any) -> PGenRM:
        if history.kind != "pairwise":
            history = history.to_pairs()
        for col in ("user_id", "a_text", "b_text"):
            if not history.has(col):
                raise DataError("P-GenRM needs user histories with texts", source=history.name,
                                field=col)
        users, a, b = (list(history.column(c)) for c in ("user_id", "a_text", "b_text"))
        prompts = (list(history.column("prompt")) if history.has("prompt")
                   else [""] * len(users))
        p_a = history.outcomes()
        per_user: dict[str, list[dict[str, str]]] = {}
        for u, x, ya, yb, p in zip(users, prompts, a, b, p_a, strict=True):
            if u is None or not np.isfinite(p) or p == 0.5:
                continue
            chosen, rejected = (ya, yb) if p > 0.5 else (yb, ya)
            per_user.setdefault(str(u), []).append(
                {"prompt": str(x or ""), "chosen": str(chosen), "rejected": str(rejected)})
        if not per_user:
            raise DataError("no user has a decisive labelled pair", source=history.name)
        identity = identity_of(self.backend)
        async with session(self.backend) as ask:
            answers = await asyncio.gather(*(
                ask_parsed(ask, item_id=f"pgenrm-persona:{u}",
                           messages=PERSONA.render(history=h[: self.max_history]),
                           template=PERSONA, parse=parse_persona, identity=identity,
                           cache=self.cache, reask=self.reask, stats=self.stats_)
                for u, h in per_user.items()))
        names = [u for u, ans in zip(per_user, answers, strict=True) if ans.verdict.parsed]
        if not names:
            raise DataError("the judge wrote no parsable persona for any user")
        values = [ans.verdict.value for ans in answers if ans.verdict.parsed]
        texts = [v["persona"] + "\n" + "\n".join(v["rubric"]) for v in values]
        encoder = self.encoder
        if encoder is None:
            from prefkit.encode import default_encoder

            encoder = default_encoder()
        vecs = np.asarray(encoder.encode(texts), dtype=float)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        labels = self._cluster(vecs)
        self.profiles_ = {u: UserProfile(v["persona"], tuple(v["rubric"]), vecs[k],
                                         int(labels[k]))
                          for k, (u, v) in enumerate(zip(names, values, strict=True))}
        return self

    def _cluster(self, vecs: np.ndarray) -> np.ndarray:
        return kmeans(vecs, max(1, min(self.prototypes, len(vecs))), seed=self.seed)

    def neighbours_of(self, user: str) -> list[str]:
        """The ``neighbours`` users nearest to ``user`` (cosine) inside its prototype."""
        me = self.profiles_[user]
        others = [(float(me.vector @ p.vector), v) for v, p in self.profiles_.items()
                  if v != user and p.prototype == me.prototype]
        return [v for _, v in sorted(others, key=lambda t: (-t[0], t[1]))[: self.neighbours]]

    # ---------------------------------------------------------------- scoring
    async def _scores(self, ask: Any, user: str, prompt: str, response: str) -> float:
        prof = self.profiles_[user]
        answers = await asyncio.gather(*(
            ask_parsed(ask, item_id=f"pgenrm-score:{user}:{s}",
                       messages=SCORE.render(persona=prof.persona, rubric=list(prof.rubric),
                                             question=prompt, response=response, sample=s + 1),
                       template=SCORE, parse=parse_rating, identity=identity_of(self.backend),
                       cache=self.cache, reask=self.reask, stats=self.stats_)
            for s in range(self.samples)))
        got = [float(a.verdict.value) for a in answers if a.verdict.parsed]
        return float(np.mean(got)) if got else float("nan")

    async def ascore(self, ask: Any, user: str, prompt: str, response: str) -> dict[str, float]:
        """s_u, s_proto and s for one response (module notes, steps 3–5)."""
        if user not in self.profiles_:
            raise DataError(f"P-GenRM has no profile for user {user!r}; fit on their history")
        near = self.neighbours_of(user) if self.alpha < 1 else []
        own, *theirs = await asyncio.gather(self._scores(ask, user, prompt, response),
                                            *(self._scores(ask, v, prompt, response)
                                              for v in near))
        proto = float(np.nanmean(theirs)) if theirs and np.isfinite(theirs).any() else own
        return {"individual": own, "prototype": proto,
                "score": self.alpha * own + (1 - self.alpha) * proto}

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) = σ(s(a) − s(b)) per record of a pairwise dataset with ``user_id``."""
        return asyncio.run(self.apredict_proba(dataset))

    async def apredict_proba(self, dataset: Any) -> np.ndarray:
        if dataset.kind != "pairwise":
            dataset = dataset.to_pairs()
        users, a, b = (list(dataset.column(c)) for c in ("user_id", "a_text", "b_text"))
        prompts = (list(dataset.column("prompt")) if dataset.has("prompt")
                   else [""] * len(users))
        async with session(self.backend) as ask:
            scored = await asyncio.gather(*(
                asyncio.gather(self.ascore(ask, str(u), str(x or ""), str(ya)),
                               self.ascore(ask, str(u), str(x or ""), str(yb)))
                for u, x, ya, yb in zip(users, prompts, a, b, strict=True)))
        diff = np.array([sa["score"] - sb["score"] for sa, sb in scored])
        return np.where(np.isfinite(diff), expit(np.nan_to_num(diff)), np.nan)


def kmeans(X: np.ndarray, k: int, *, n_init: int = 10, iters: int = 100,
           seed: int = 0) -> np.ndarray:
    """Cluster labels of the rows of ``X`` by Lloyd's k-means with k-means++ starts (Arthur &
    Vassilvitskii 2007), the best of ``n_init`` runs by within-cluster sum of squares."""
    X = np.asarray(X, dtype=float)
    if k <= 1:
        return np.zeros(len(X), dtype=int)
    rng = np.random.default_rng(seed)
    best, best_cost = np.zeros(len(X), dtype=int), np.inf
    for _ in range(n_init):
        centres = [X[rng.integers(len(X))]]
        for _ in range(1, k):
            d2 = np.min([((X - c) ** 2).sum(1) for c in centres], axis=0)
            total = d2.sum()
            centres.append(X[rng.choice(len(X), p=d2 / total)] if total > 0
                           else X[rng.integers(len(X))])
        C = np.array(centres)
        labels = np.zeros(len(X), dtype=int)
        for _ in range(iters):
            labels = ((X[:, None, :] - C[None]) ** 2).sum(-1).argmin(1)
            new = np.array([X[labels == j].mean(0) if (labels == j).any() else C[j]
                            for j in range(k)])
            if np.allclose(new, C):
                break
            C = new
        cost = float(((X - C[labels]) ** 2).sum())
        if cost < best_cost - 1e-12:
            best, best_cost = labels, cost
    return best


def user_prototypes(model: PGenRM) -> dict[str, int]:
    """user → prototype index of a fitted :class:`PGenRM`."""
    return {u: p.prototype for u, p in model.profiles_.items()}


__all__ = ["PERSONA", "SCORE", "PGenRM", "UserProfile", "kmeans", "parse_persona",
           "user_prototypes"]
