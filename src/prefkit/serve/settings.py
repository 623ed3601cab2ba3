"""The knobs of one ``prefkit serve`` process (batching, limits, authentication)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefkit.errors import PrefkitError

#: ``--max-batch`` default: items (responses, items or pairs) per model call.
DEFAULT_MAX_BATCH = 64
#: ``--max-wait-ms`` default: how long the first request of a batch waits for company.
DEFAULT_MAX_WAIT_MS = 5.0


class ServeConfigError(PrefkitError):
    """A server that cannot start as configured (one line for ``error: …``)."""


@dataclass(frozen=True)
class ServeSettings:
    """Settings of one server.

    Attributes:
        max_batch: most items (responses, items or pairs) in one model call; a single request
            larger than this is still answered in one call of its own.
        max_wait_ms: how long a batch waits for more requests after its first one arrived.
        max_queue: most requests waiting per model; more answer 503 with ``Retry-After``.
        max_items: most responses / items / pairs / queries in one request (413 above).
        max_text_chars: longest prompt, response, item name or query accepted (413 above).
        max_body_bytes: largest request body accepted (413 above).
        chat_max_batch: most chat requests in one ``generate`` call (micro-batched like scores).
        chat_timeout_s: a chat request not answered this many seconds after it arrived
            (queue wait included) answers 504; the generation is stopped at the next token.
        tokens: accepted bearer tokens; empty = no authentication.
    """

    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    max_queue: int = 1024
    max_items: int = 1024
    max_text_chars: int = 100_000
    max_body_bytes: int = 16 * 1024 * 1024
    chat_max_batch: int = 8
    chat_timeout_s: float = 120.0
    tokens: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_items", "max_text_chars", "max_body_bytes",
                     "chat_max_batch"):
            if getattr(self, name) < 1:
                raise ServeConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.max_wait_ms >= 0:
            raise ServeConfigError(f"max_wait_ms must be ≥ 0, not {self.max_wait_ms}")
        if not self.chat_timeout_s > 0:
            raise ServeConfigError(f"chat_timeout_s must be > 0, not {self.chat_timeout_s}")
