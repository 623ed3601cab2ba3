"""A backend that answers from recorded judgments (nothing is asked of anybody).

Built from a judgments dataset (:mod:`prefkit.judge.judgments`): the reply to ``(pair_id,
order)`` is the recorded raw text (``rationale``), including the text of judgments the file
itself could not parse (``metadata["unparsed"]``).  A request nobody recorded is answered with
``error="not recorded"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefkit.data.schema import PreferenceDataset
from prefkit.judge.backends.base import JudgeReply, JudgeRequest


class RecordedBackend:
    """Replies from a recorded judgments dataset, keyed by ``(pair_id, order)``."""

    def __init__(self, judgments: PreferenceDataset, name: str | None = None) -> None:
        self.texts: dict[tuple[str, str], str | None] = {}
        n = len(judgments)
        pair_ids = judgments.column("pair_id") if judgments.has("pair_id") else range(n)
        orders = judgments.column("order") if judgments.has("order") else ["ab"] * n
        texts = judgments.column("rationale") if judgments.has("rationale") else [None] * n
        for pid, order, text in zip(pair_ids, orders, texts, strict=True):
            self.texts[(str(pid), order or "ab")] = text
        for u in judgments.metadata.get("unparsed") or []:
            self.texts[(str(u.get("pair_id")), u.get("order") or "ab")] = u.get("rationale")
        judges = (
            {j for j in judgments.column("annotator_id") if j} if judgments.has("annotator_id")
            else set()
        )
        self.name = name or (judges.pop() if len(judges) == 1 else "recorded")

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        replies = []
        for req in requests:
            key = (str(req.pair_id), req.order)
            if key not in self.texts:
                replies.append(JudgeReply(None, "not recorded"))
            else:
                text = self.texts[key]
                replies.append(JudgeReply(text, None if text is not None else "no text"))
        return replies
