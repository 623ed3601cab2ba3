"""Where judge answers come from.  Every backend answers :class:`JudgeRequest` s with
:class:`JudgeReply` s (raw text; parsing is the protocol's business, :mod:`prefkit.judge.parsing`).

Now: :class:`~prefkit.judge.backends.recorded.RecordedBackend` (answers from a recorded file).
Later, behind the same protocol: an OpenAI-compatible HTTP backend and a local causal-LM backend.
"""

from prefkit.judge.backends.base import Backend, JudgeReply, JudgeRequest
from prefkit.judge.backends.recorded import RecordedBackend

__all__ = ["Backend", "JudgeReply", "JudgeRequest", "RecordedBackend"]
