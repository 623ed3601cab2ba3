"""The joint-preference objective of DOVE/JPO: a prompt per side of every pair.

:mod:`prefkit.align.losses.dove` compares (x_w, y_w) with (x_l, y_l) where the two instructions
may differ.  This objective is :class:`~.pairwise.PairwiseObjective` with one change: the chosen
response is scored after its own prompt and the rejected response after *its* own prompt
(:class:`JointPairs` carries ``rejected_prompt_ids``; :func:`prefkit.align.pairs.collate` reads
it), for the policy and the reference alike.

Per-side prompts come from the columns ``a_prompt`` / ``b_prompt`` of a pairwise dataset; a side
without one (no column, or a null value) uses ``prompt``.  Rows follow
:func:`~prefkit.align.pairs.text_pairs` (ties dropped unless kept, a/b swapped so that the chosen
response comes first).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefkit.align.objectives.extras import _source_rows
from prefkit.align.objectives.pairwise import PairwiseObjective
from prefkit.align.pairs import TokenPairs, encode_prompt, encode_response
from prefkit.errors import DataError

SIDE_PROMPTS = ("a_prompt", "b_prompt")


@dataclass
class JointPairs(TokenPairs):
    """Token pairs whose rejected response has its own prompt (``rejected_prompt_ids``)."""

    rejected_prompt_ids: list[list[int]] = field(default_factory=list)

    def fingerprint(self) -> str:
        h = hashlib.sha256(TokenPairs.fingerprint(self).encode())
        for ids in self.rejected_prompt_ids:
            h.update(np.asarray(ids, dtype=np.int64).tobytes())
            h.update(b"|")
        return h.hexdigest()


def side_prompts(dataset: Any) -> tuple[list[str], list[str]]:
    """(prompt of a, prompt of b) per record: ``a_prompt``/``b_prompt``, else ``prompt``."""
    n = len(dataset)
    shared = dataset.column("prompt") if dataset.has("prompt") else [None] * n
    out = []
    for col in SIDE_PROMPTS:
        own = dataset.column(col) if dataset.has(col) else [None] * n
        out.append(["" if (own[i] if own[i] is not None else shared[i]) is None
                    else str(own[i] if own[i] is not None else shared[i]) for i in range(n)])
    return out[0], out[1]


class JointObjective(PairwiseObjective):
    """:class:`PairwiseObjective` with a prompt per side (DOVE/JPO; module docstring)."""

    def attach_extras(self, tokenizer: Any, dataset: Any, pairs: TokenPairs, *,
                      keep_ties: bool) -> JointPairs:
        source, rows, swapped = _source_rows(dataset, keep_ties)
        if len(rows) != len(pairs):  # text_pairs and this walk disagree: never expected
            raise DataError(f"loss {self.spec.name!r}: {len(rows)} rows for {len(pairs)} pairs",
                            source=dataset.name)
        cfg = self.config
        prompt_a, prompt_b = side_prompts(source)
        texts_a, texts_b = source.column("a_text"), source.column("b_text")
        out = JointPairs([], [], [], pairs.p, pairs.weights)
        cache: dict[str, list[int]] = {}

        def prompt_ids(text: str) -> list[int]:
            if text not in cache:
                cache[text] = encode_prompt(tokenizer, text)[-cfg.max_prompt_length:]
            return cache[text]

        for i, sw in zip(rows, swapped, strict=True):
            sides = [(prompt_a[i], texts_a[i]), (prompt_b[i], texts_b[i])]
            (x_w, y_w), (x_l, y_l) = sides[::-1] if sw else sides
            for prompt, response, prompts, responses in (
                    (x_w, y_w, out.prompt_ids, out.chosen_ids),
                    (x_l, y_l, out.rejected_prompt_ids, out.rejected_ids)):
                ids = prompt_ids(prompt)
                prompts.append(ids)
                responses.append(encode_response(tokenizer, str(response))[
                    :max(cfg.max_length - len(ids), 1)])
        return out
