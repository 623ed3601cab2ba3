"""One saved model as the server sees it: a name, what it can answer, and three batch calls.

Every model comes from :func:`prefkit.load`; this module only asks what the contract offers:

- ``reward_texts(prompts, responses)`` → rewards of texts (reward models, DPO policies);
- ``item_scores(items)`` → scalar scores of named items (choice models, leaderboards);
- ``predict_proba(ds)`` → P(a ≻ b) per pair, every model; ``predict_outcome_proba(ds)`` →
  (n, 3) = P(a ≻ b), P(b ≻ a), P(tie) where the model has it.

A model whose fitted state names items (``items_``) compares items by name; a judge with
recorded verdicts (``pair_ids_``, :class:`prefkit.judge.recorded.RecordedJudge`) compares pairs
by ``pair_id``; any other model compares texts (``a_text``/``b_text`` with an optional prompt,
and the request's ``pair_id`` when given — a live judge).  A model that knows users (``users_``)
takes a ``user_id`` per pair; a user the model never saw (or no user) gets the population answer
— what the model itself predicts for an unknown user (the prior-weighted mixture for the
mixtures, the mean user weights for PAL, z = 0 for VPL …) — and the response says so per pair
(``user_known``).  A judge may abstain (no verdict: NaN), which the server answers as ``null``.

The batch calls are synchronous and run in a worker thread (:mod:`prefkit.serve.batcher`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.errors import PrefkitError


class RequestError(PrefkitError):
    """A request the model cannot answer as asked (→ HTTP 422 naming the field)."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        self.message = " ".join(str(message).split())
        self.field = field
        self.status = status
        super().__init__(self.message)


@dataclass
class Pair:
    """One comparison: two candidates (item names or texts), an optional prompt and user."""

    a: str
    b: str
    prompt: str | None = None
    user_id: str | None = None
    pair_id: str | None = None


@dataclass
class ServedModel:
    """A loaded model with the facts the endpoints need (see the module docstring)."""

    name: str
    directory: Path
    model: Any
    tag: str
    inputs: str  # "items", "texts", "pair_ids" (a recorded judge) or "chat"
    can_reward_texts: bool
    can_score_items: bool
    has_ties: bool
    has_users: bool
    items: frozenset[str] = field(default_factory=frozenset)
    users: frozenset[str] = field(default_factory=frozenset)
    #: recorded judges: pair_id → the recorded (a, b)
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the model may have no answer for a pair (a judge's missing verdict → null)
    abstains: bool = False
    #: a :class:`prefkit.serve.chat.ChatModel` for ``/v1/chat/completions`` (causal LMs)
    chat: Any = None

    # -------------------------------------------------------------------- description
    def describe(self) -> dict[str, Any]:
        """The model's entry in ``GET /v1/models`` (OpenAI list shape plus prefkit facts)."""
        return {
            "id": self.name,
            "object": "model",
            "created": _created(self.directory),
            "owned_by": "prefkit",
            "class": self.tag,
            "inputs": self.inputs,
            "endpoints": self.endpoints(),
            "ties": self.has_ties,
            "users": self.has_users,
            "n_items": len(self.items) if self.inputs == "items" else None,
            "n_pairs": len(self.pairs) if self.inputs == "pair_ids" else None,
        }

    def endpoints(self) -> list[str]:
        out = []
        if self.can_reward_texts or self.can_score_items:
            out.append("/v1/score")
        if self.can_compare:
            out.append("/v1/compare")
        if self.can_reward_texts:
            out.append("/get_reward")
        if self.chat is not None:
            out.append("/v1/chat/completions")
        return out

    @property
    def can_compare(self) -> bool:
        """Every prefkit model compares pairs; a plain causal LM folder does not."""
        return self.inputs != "chat"

    # -------------------------------------------------------------------- checks (per request)
    def check_items(self, names: list[str], where: str) -> None:
        """Refuse item names the model never saw (a server should not guess)."""
        unknown = [n for n in names if n not in self.items]
        if unknown:
            raise RequestError(
                f"model {self.name!r} does not know item {unknown[0]!r} "
                f"({len(unknown)} unknown; it knows {len(self.items)} items, see GET /v1/models)",
                field=where,
            )

    def check_pair_ids(self, pairs: list[Pair]) -> list[Pair]:
        """Recorded judges: every pair names a recorded ``pair_id``; ``a``/``b`` (optional, the
        recorded names in either order) fill in from the record."""
        out = []
        for k, pair in enumerate(pairs):
            if pair.pair_id is None:
                raise RequestError(f"model {self.name!r} ({self.tag}) answers recorded pairs: "
                                   "give each pair its 'pair_id'", field=f"pairs[{k}].pair_id")
            if pair.pair_id not in self.pairs:
                raise RequestError(f"model {self.name!r} has no recorded judgment of pair "
                                   f"{pair.pair_id!r} ({len(self.pairs)} pairs recorded)",
                                   field=f"pairs[{k}].pair_id")
            a, b = self.pairs[pair.pair_id]
            given = (pair.a or None, pair.b or None)
            if given == (None, None):
                given = (a, b)
            if given not in ((a, b), (b, a)):
                raise RequestError(f"pair {pair.pair_id!r} was judged between {a!r} and {b!r}, "
                                   f"not {given[0]!r} and {given[1]!r}", field=f"pairs[{k}]")
            out.append(Pair(given[0], given[1], pair.prompt, pair.user_id, pair.pair_id))
        return out

    def warm_up(self) -> None:
        """Load whatever the model loads lazily (an encoder) by scoring one text."""
        if self.can_reward_texts:
            self.reward_texts([None], ["warm-up"])

    # -------------------------------------------------------------------- batch calls
    def reward_texts(self, prompts: list[str | None], responses: list[str]) -> np.ndarray:
        """Rewards of ``responses`` to their ``prompts``, shape (n,)."""
        if not self.can_reward_texts:
            raise RequestError(f"model {self.name!r} ({self.tag}) has no rewards of texts",
                               field="responses")
        try:
            out = self.model.reward_texts(list(prompts), list(responses))
        except NotImplementedError as err:
            raise RequestError(f"model {self.name!r}: {err}", field="responses") from None
        return _finite(np.asarray(out, dtype=float).reshape(-1), self.name)

    def item_scores(self, items: list[str]) -> np.ndarray:
        """Scalar scores of named items, shape (n,)."""
        if not self.can_score_items:
            raise RequestError(
                f"model {self.name!r} ({self.tag}) has no scalar item scores; use /v1/compare",
                field="items",
            )
        return _finite(np.asarray(self.model.item_scores(list(items)), dtype=float), self.name)

    def compare(self, pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray | None]:
        """P(a ≻ b) per pair, and P(tie) per pair when the model has ties (else None)."""
        ds = self.pair_dataset(pairs)
        if self.abstains:  # NaN = no verdict; the app answers null
            return np.asarray(self.model.predict_proba(ds), dtype=float).reshape(-1), None
        if self.has_ties:
            out = np.asarray(self.model.predict_outcome_proba(ds), dtype=float)
            return _finite(out[:, 0], self.name), _finite(out[:, 2], self.name)
        return _finite(np.asarray(self.model.predict_proba(ds), dtype=float), self.name), None

    def pair_dataset(self, pairs: list[Pair]) -> Any:
        """A pairwise :class:`~prefkit.data.PreferenceDataset` of ``pairs``.

        The outcome column is a placeholder (``p_a = 0.5``): predictions never read it.
        """
        from prefkit.data import PreferenceDataset

        rows: list[dict[str, Any]] = []
        for pair in pairs:
            if self.inputs in ("items", "pair_ids"):
                row: dict[str, Any] = {"a": pair.a, "b": pair.b}
            else:
                row = {"a": "a", "b": "b", "a_text": pair.a, "b_text": pair.b}
            row["prompt"] = pair.prompt
            row["user_id"] = pair.user_id
            row["p_a"] = 0.5
            if pair.pair_id is not None:
                row["pair_id"] = pair.pair_id
            rows.append(row)
        return PreferenceDataset.from_records(rows, kind="pairwise", name="request")


def _created(directory: Path) -> int:
    """OpenAI's ``created`` (Unix seconds): when the model directory was last written."""
    try:
        return int(directory.stat().st_mtime)
    except OSError:
        return 0


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise FloatingPointError(f"model {name!r} returned a non-finite value")
    return values


def _has_ties(model: Any) -> bool:
    """Whether the model puts probability on ties (Davidson, Rao–Kupper, a ties reward head)."""
    if not hasattr(model, "predict_outcome_proba"):
        return False
    family = getattr(model, "_fam", None)
    if family is not None:
        return bool(getattr(family, "has_tau", False))
    head = getattr(model, "head", None)
    if head is not None:
        ties = getattr(head, "ties", None)
        if ties is None and hasattr(head, "config"):
            ties = head.config().get("ties")
        return bool(ties) and ties not in ("none", "drop")
    return False


def drop_embedding_cache(model: Any) -> None:
    """Encode texts directly instead of through the on-disk embedding cache.

    A reward server mostly sees texts it never saw (fresh samples of a policy): the cache would
    only grow on disk, one shard per call, and slow every call; the embeddings are the same.
    """
    encoder = getattr(model, "encoder", None)
    if encoder is None:
        return
    from prefkit.encode import CachedEncoder

    if isinstance(encoder, CachedEncoder):
        model.encoder = encoder.encoder


def wrap(name: str, directory: str | os.PathLike[str], model: Any) -> ServedModel:
    """Describe a loaded model for serving (see the module docstring)."""
    from prefkit.core.persist import tag_of
    from prefkit.serve.chat import ChatModel

    if isinstance(model, ChatModel):
        return ServedModel(name=name, directory=Path(directory), model=model,
                           tag="transformers.CausalLM", inputs="chat", can_reward_texts=False,
                           can_score_items=False, has_ties=False, has_users=False, chat=model)
    items = getattr(model, "items_", None)
    users = getattr(model, "users_", None)
    recorded = getattr(model, "pair_ids_", None)
    tag = _tag(model, tag_of)
    pairs = {} if recorded is None else {
        str(p): (str(a), str(b)) for p, a, b in zip(recorded, model.a_, model.b_, strict=True)}
    return ServedModel(
        name=name,
        directory=Path(directory),
        model=model,
        tag=tag,
        inputs="items" if items is not None else "pair_ids" if recorded is not None
        else "texts",
        can_reward_texts=hasattr(model, "reward_texts") and bool(
            getattr(getattr(model, "head", None), "scalar", True)),
        can_score_items=hasattr(model, "item_scores"),
        has_ties=_has_ties(model),
        has_users=users is not None,
        items=frozenset(str(i) for i in items) if items is not None else frozenset(),
        users=frozenset(str(u) for u in users) if users is not None else frozenset(),
        pairs=pairs,
        abstains=tag.startswith("judge.") or hasattr(model, "has_verdict"),
        chat=_policy_chat(model),
    )


def _policy_chat(model: Any) -> Any:
    """A DPO policy (an align run) also chats: its policy LM and tokenizer."""
    policy, tokenizer = getattr(model, "policy_", None), getattr(model, "tokenizer_", None)
    if policy is None or tokenizer is None or not hasattr(policy, "generate"):
        return None
    from prefkit.serve.chat import ChatModel

    return ChatModel(policy, tokenizer)


def load_models(named: list[tuple[str, str | os.PathLike[str]]], *, warm_up: bool = True,
                embedding_cache: bool = False) -> dict[str, ServedModel]:
    """Open every ``(name, directory)`` with :func:`prefkit.load`; names must be unique.

    ``warm_up`` scores one text with each text model, so that lazily loaded encoders are in
    memory before ``/health`` answers (the first client does not pay for them).  Without
    ``embedding_cache`` text models encode directly (:func:`drop_embedding_cache`).
    """
    import prefkit
    from prefkit.serve.settings import ServeConfigError

    out: dict[str, ServedModel] = {}
    for name, directory in named:
        if not name or any(c in name for c in "/?#= \t"):
            raise ServeConfigError(f"--name: model name {name!r} must be non-empty, without "
                                   "'/?#=' or spaces")
        if name in out:
            raise ServeConfigError(
                f"two models are named {name!r} ({out[name].directory} and {directory}); "
                "give one --name NAME=DIR")
        from prefkit.serve.chat import is_hf_causal_lm, load_chat_model

        model = load_chat_model(directory) if is_hf_causal_lm(directory) else \
            prefkit.load(directory)
        if not embedding_cache:
            drop_embedding_cache(model)
        out[name] = wrap(name, directory, model)
        if warm_up:
            out[name].warm_up()
    return out


def _tag(model: Any, tag_of: Any) -> str:
    try:
        return str(tag_of(model))
    except Exception:  # a class outside the registry (a test double): its Python name
        return type(model).__name__
