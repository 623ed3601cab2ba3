"""Where judge answers come from.  Every backend answers :class:`JudgeRequest` s with
:class:`JudgeReply` s (raw text; parsing is the protocol's business, :mod:`prefkit.judge.parsing`).

:class:`~prefkit.judge.backends.recorded.RecordedBackend` answers from a recorded file;
:class:`~prefkit.judge.backends.openai_http.OpenAIChatBackend` (imported on use: it needs httpx
and tenacity) asks an OpenAI-compatible endpoint.  Later: a local causal-LM backend.
"""

from prefkit.judge.backends.base import Backend, JudgeReply, JudgeRequest
from prefkit.judge.backends.recorded import RecordedBackend

__all__ = ["Backend", "JudgeReply", "JudgeRequest", "RecordedBackend"]
