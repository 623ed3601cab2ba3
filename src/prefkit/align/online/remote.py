"""A remote reward model speaking OpenRLHF's ``/get_reward`` protocol (``prefkit serve`` or any
other server).

Request (OpenRLHF ``openrlhf/utils/remote_rm_utils.py``): ``POST URL`` with
``{"query": [prompt_i + separator + completion_i …], "prompts": [prompt_i …]}``; the reply's
``rewards`` (or ``scores``) list holds one float per query.  ``prefkit serve`` splits each query
at its prompt and scores the rest as the response.  URL may name the endpoint or the server root
(``/get_reward`` is then appended).

A server that is down, answers an HTTP error, times out, or returns the wrong number of rewards
or non-finite ones is a one-line :class:`~prefkit.align.online.labellers.LabellerError`.
"""

from __future__ import annotations

import os
from typing import Any

from prefkit.align.online.labellers import Labeller, LabellerError


class RemoteRewardLabeller(Labeller):
    """Rewards from ``URL`` (OpenRLHF's ``/get_reward``).

    Args:
        url: the endpoint, or a server root (then ``/get_reward`` is appended).
        separator: put between prompt and completion in each query.
        timeout: seconds per request; batch_size: queries per request.
        token_env: environment variable holding a bearer token (``prefkit serve --token``).
    """

    def __init__(self, url: str, *, separator: str = " ", timeout: float = 30.0,
                 batch_size: int = 256, token_env: str | None = "PREFKIT_SERVE_TOKEN") -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/get_reward") else f"{url}/get_reward"
        self.separator, self.timeout, self.batch_size = separator, timeout, batch_size
        self.token_env = token_env
        self.name = f"remote reward {self.url}"

    def _headers(self) -> dict[str, str]:
        token = os.environ.get(self.token_env) if self.token_env else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _rewards(self, prompts: list[str], completions: list[str]) -> Any:
        import httpx

        out: list[float] = []
        with httpx.Client(timeout=self.timeout, headers=self._headers()) as client:
            for s in range(0, len(completions), self.batch_size):
                ps = prompts[s: s + self.batch_size]
                cs = completions[s: s + self.batch_size]
                body = {"query": [p + self.separator + c for p, c in zip(ps, cs, strict=True)],
                        "prompts": [p + self.separator for p in ps]}
                try:
                    reply = client.post(self.url, json=body)
                except httpx.HTTPError as err:
                    raise LabellerError(f"{self.name}: unreachable ({type(err).__name__}: "
                                        f"{err})") from None
                if reply.status_code != 200:
                    text = reply.text.strip().splitlines()[0][:200] if reply.text.strip() else ""
                    raise LabellerError(f"{self.name}: HTTP {reply.status_code} {text}".rstrip())
                try:
                    data = reply.json()
                except ValueError:
                    raise LabellerError(f"{self.name}: the reply is not JSON") from None
                values = data.get("rewards", data.get("scores")) if isinstance(data, dict) else None
                if not isinstance(values, list) or len(values) != len(cs):
                    raise LabellerError(f"{self.name}: expected 'rewards' with {len(cs)} values")
                try:
                    out += [float(v) for v in values]
                except (TypeError, ValueError):
                    raise LabellerError(f"{self.name}: rewards are not numbers") from None
        return out
