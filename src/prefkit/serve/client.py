"""A model behind ``prefkit serve``, used like a local one (``prefkit.serve.Client``).

    from prefkit.serve import Client
    model = Client("http://127.0.0.1:8000", "rm", token_env="PREFKIT_TOKEN")
    # instead of: model = prefkit.load("rm/")
    evaluate(model, test_pairs)            # predict_proba / predict_outcome_proba over HTTP
    model.reward_texts(prompts, responses) # rewards (text models)
    model.item_scores(["gpt-4", "claude"]) # scores (choice models)

The client speaks ``/v1/compare`` and ``/v1/score`` in chunks of ``chunk`` inputs (below the
server's ``--max-items``), retries a 503 after the server's ``Retry-After``, and raises
:class:`RemoteError` (one line, the server's message) for any other refusal.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.errors import PrefkitError


class RemoteError(PrefkitError):
    """The server refused a request or could not be reached."""


class Client:
    """One served model with the local contract (see the module docstring).

    Args:
        url: the server, e.g. ``http://127.0.0.1:8000``.
        model: the model's name (optional when the server serves one model).
        token: a bearer token; or ``token_env``, an environment variable holding one.
        timeout: seconds per HTTP request.
        chunk: most inputs per request.
        retries: how many times a 503 (overloaded) is retried.
    """

    def __init__(self, url: str, model: str | None = None, *, token: str | None = None,
                 token_env: str | None = None, timeout: float = 120.0, chunk: int = 256,
                 retries: int = 5) -> None:
        import httpx

        if token is None and token_env is not None:
            token = os.environ.get(token_env) or None
            if token is None:
                raise RemoteError(f"environment variable {token_env} is unset or empty")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.chunk = max(1, int(chunk))
        self.retries = retries
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        cards = self._request("GET", "/v1/models")["data"]
        if model is None:
            if len(cards) != 1:
                raise RemoteError(f"{self.url} serves {len(cards)} models "
                                  f"({', '.join(c['id'] for c in cards)}): name one")
            model = cards[0]["id"]
        card = next((c for c in cards if c["id"] == model), None)
        if card is None:
            raise RemoteError(f"{self.url} does not serve a model named {model!r}")
        self.model = model
        self.card = card
        self.has_ties = bool(card.get("ties"))

    # ------------------------------------------------------------------ contract
    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) per pairwise record (strict win probability for ties models)."""
        return self.predict_outcome_proba(dataset)[:, 0]

    def predict_outcome_proba(self, dataset: Any) -> np.ndarray:
        """(n, 3): P(a ≻ b), P(b ≻ a), P(tie) per record (P(tie) = 0 without ties)."""
        pairs = self._pairs(dataset)
        p_a: list[float] = []
        p_tie: list[float] = []
        for start in range(0, len(pairs), self.chunk):
            out = self._request("POST", "/v1/compare", {
                "model": self.model, "pairs": pairs[start:start + self.chunk]})
            p_a += out["p_a"]
            p_tie += out["p_tie"] if out.get("p_tie") is not None else [0.0] * len(out["p_a"])
        a, t = np.asarray(p_a, dtype=float), np.asarray(p_tie, dtype=float)
        return np.column_stack([a, np.clip(1.0 - a - t, 0.0, 1.0), t]).reshape(-1, 3)

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]
                     ) -> np.ndarray:
        """Reward of each response to its prompt, shape (n,)."""
        prompts, responses = list(prompts), [str(r) for r in responses]
        if len(prompts) != len(responses):
            raise RemoteError(f"{len(prompts)} prompts for {len(responses)} responses")
        out: list[float] = []
        for start in range(0, len(responses), self.chunk):
            stop = start + self.chunk
            out += self._request("POST", "/v1/score", {
                "model": self.model, "prompts": prompts[start:stop],
                "responses": responses[start:stop]})["rewards"]
        return np.asarray(out, dtype=float)

    def reward(self, dataset: Any) -> np.ndarray:
        """Rewards (r_a, r_b) of each pairwise record of texts, shape (n, 2)."""
        from prefkit.reward.model import candidate_columns

        prompts, a, b = candidate_columns(dataset)
        r = self.reward_texts(prompts + prompts, a + b)
        return np.column_stack([r[: len(a)], r[len(a):]])

    def item_scores(self, items: Sequence[str]) -> np.ndarray:
        """Scalar scores of named items (choice models), shape (n,)."""
        items = [str(i) for i in items]
        out: list[float] = []
        for start in range(0, len(items), self.chunk):
            out += self._request("POST", "/v1/score", {
                "model": self.model, "items": items[start:start + self.chunk]})["rewards"]
        return np.asarray(out, dtype=float)

    # ------------------------------------------------------------------ plumbing
    def _pairs(self, dataset: Any) -> list[dict[str, Any]]:
        if dataset.kind != "pairwise":
            dataset = dataset.to_pairs()
        n = len(dataset)
        cols = set(dataset.columns)

        def column(name: str) -> list[Any]:
            return list(dataset.column(name)) if name in cols else [None] * n

        prompts, users, ids = column("prompt"), column("user_id"), column("pair_id")
        if self.card.get("inputs") == "texts":
            from prefkit.reward.model import candidate_columns

            _, a, b = candidate_columns(dataset)
        else:
            a, b = [str(x) for x in column("a")], [str(x) for x in column("b")]
        out = []
        for k in range(n):
            pair: dict[str, Any] = {"a": a[k], "b": b[k]}
            if prompts[k] is not None:
                pair["prompt"] = str(prompts[k])
            if users[k] is not None and self.card.get("users"):
                pair["user_id"] = str(users[k])
            if ids[k] is not None:  # judges find recorded pairs by id
                pair["pair_id"] = str(ids[k])
            out.append(pair)
        return out

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                reply = self._http.request(method, path, json=body)
            except httpx.HTTPError as err:
                raise RemoteError(f"{self.url}{path}: {type(err).__name__}: {err}") from None
            if reply.status_code == 503 and attempt < self.retries:
                time.sleep(float(reply.headers.get("retry-after", "1") or 1))
                continue
            if reply.status_code >= 400:
                try:
                    message = reply.json().get("error", reply.text)
                except ValueError:
                    message = reply.text
                raise RemoteError(f"{self.url}{path}: {reply.status_code}: {message}")
            return reply.json()
        raise RemoteError(f"{self.url}{path}: still overloaded after {self.retries} retries")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r}, {self.model!r})"
