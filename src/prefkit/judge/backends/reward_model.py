"""Any prefkit model of texts as a judge: P(A ≻ B) from its rewards or its ``predict_proba``.

For the pair shown as (A, B) to the prompt x:

* a model with scalar rewards of texts (``reward_texts``: reward models with a scalar head, DPO
  policies' implicit rewards, transformer reward models) gives the Bradley–Terry probability
  :math:`P(A \\succ B) = \\sigma(r(x, A) - r(x, B))` (Bradley & Terry 1952; the reward-model
  objective of Ouyang et al. 2022), no tie;
* any other model (a general preference model, a model with ties) answers its own
  ``predict_outcome_proba`` — (P(A ≻ B), P(B ≻ A), P(tie)) — or ``predict_proba`` on the
  pair with A as ``a`` and B as ``b``.

The reply's ``probs`` are those probabilities (verdict values ``A``, ``B``, ``tie``) and its
``text`` records the numbers (the rewards, or the probabilities).  All requests of one
``complete`` call are scored in one call of the model.  The model is a fitted object, or a
directory saved by ``prefkit.save`` (opened with ``prefkit.load`` on first use or in
:meth:`preflight`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.errors import DataError, ModelFileError
from prefkit.judge.backends.base import JudgeReply, JudgeRequest

USES = ("auto", "reward", "proba")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


class RewardModelBackend:
    """A prefkit model of texts answering pairwise judge requests.

    Args:
        model: a fitted prefkit model, or the directory it was saved to.
        use: ``"reward"`` (σ of the reward difference), ``"proba"`` (the model's own
            probabilities) or ``"auto"`` (rewards when the model has scalar rewards of texts).
        name: the judge's name (``annotator_id``); default: the directory's name.
        load_kwargs: passed to ``prefkit.load`` (e.g. ``encoder=``).
    """

    def __init__(self, model: str | os.PathLike[str] | Any, *, use: str = "auto",
                 name: str | None = None, load_kwargs: dict[str, Any] | None = None) -> None:
        if use not in USES:
            raise DataError(f"unknown use {use!r} (expected one of {', '.join(USES)})",
                            field="use")
        self.use = use
        self.load_kwargs = dict(load_kwargs or {})
        if isinstance(model, (str, os.PathLike)):
            self.path: Path | None = Path(model)
            self.model: Any = None
            self.name = name or self.path.name
        else:
            self.path, self.model = None, model
            self.name = name or type(model).__name__
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"RewardModelBackend({str(self.path or self.name)!r})"

    @property
    def cache_identity(self) -> dict[str, Any]:
        files: list[Any] = []
        if self.path is not None and self.path.is_dir():
            for f in sorted(self.path.iterdir()):
                if f.is_file():
                    st = f.stat()
                    files.append([f.name, st.st_size, st.st_mtime_ns])
        return {"backend": "prefkit-model", "model": self.name, "files": files, "use": self.use}

    def preflight(self) -> None:
        """Open the model (a saved directory) before any work: one-line errors."""
        self._load()

    def _load(self) -> Any:
        if self.model is None:
            assert self.path is not None
            from prefkit.core.persist import load

            if not self.path.is_dir():
                raise ModelFileError(f"{self.path}: no saved prefkit model there")
            self.model = load(self.path, **self.load_kwargs)
        if not hasattr(self.model, "predict_proba"):
            raise ModelFileError(f"{self.name}: a {type(self.model).__name__} cannot compare "
                                 "pairs (no predict_proba)")
        return self.model

    def _mode(self) -> str:
        if self.use != "auto":
            return self.use
        head = getattr(self.model, "head", None)
        scalar = getattr(head, "scalar", True)
        return "reward" if hasattr(self.model, "reward_texts") and scalar else "proba"

    def probabilities(self, prompts: list[str], first: list[str], second: list[str]
                      ) -> tuple[np.ndarray, list[str]]:
        """(n, 3) probabilities of (A ≻ B, B ≻ A, tie) and a text per pair."""
        model = self._load()
        n = len(prompts)
        if self._mode() == "reward":
            r = np.asarray(model.reward_texts(prompts + prompts, first + second), dtype=float)
            ra, rb = r[:n], r[n:]
            p = _sigmoid(ra - rb)
            out = np.column_stack([p, 1.0 - p, np.zeros(n)])
            texts = [f"r(A)={x:.6g} r(B)={y:.6g} P(A)={q:.6f}" for x, y, q in zip(ra, rb, p,
                                                                                    strict=True)]
            return out, texts
        from prefkit.data.schema import PreferenceDataset

        ds = PreferenceDataset.from_records(
            [{"prompt": q, "a_text": a, "b_text": b, "winner": "a"}
             for q, a, b in zip(prompts, first, second, strict=True)],
            kind="pairwise", name="judge-requests")
        if hasattr(model, "predict_outcome_proba"):
            out = np.asarray(model.predict_outcome_proba(ds), dtype=float).reshape(n, 3)
        else:
            p = np.asarray(model.predict_proba(ds), dtype=float).reshape(n)
            out = np.column_stack([p, 1.0 - p, np.zeros(n)])
        texts = [f"P(A)={a:.6f} P(B)={b:.6f} P(tie)={t:.6f}" for a, b, t in out]
        return out, texts

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        missing = [r for r in requests
                   if not all(isinstance(r.inputs.get(k), str)
                              for k in ("question", "answer_a", "answer_b"))]
        if missing:
            return [JudgeReply(None, "a model judge needs the request's question, answer_a "
                               "and answer_b") for _ in requests]
        if not requests:
            return []
        prompts = [r.inputs["question"] for r in requests]
        out, texts = self.probabilities(prompts, [r.inputs["answer_a"] for r in requests],
                                        [r.inputs["answer_b"] for r in requests])
        self.requests_sent += len(requests)
        replies = []
        for row, text in zip(out, texts, strict=True):
            if not np.isfinite(row).all():
                replies.append(JudgeReply(None, "the model's output is not finite"))
                continue
            probs = {"A": float(row[0]), "B": float(row[1]), "tie": float(row[2])}
            replies.append(JudgeReply(text, None, {}, probs))
        return replies
