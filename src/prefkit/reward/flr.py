"""FLR: follow-up likelihood as reward — a preference-free reward from any causal LM.

Zhang et al. 2024, "Aligning Language Models Using Follow-up Likelihood as Reward Signal" (FLR).
A user who got a good answer tends to say "thanks, that helps"; one who got a bad answer says
"that's not what I asked".  So a language model's likelihood of such *follow-up* utterances after
a response scores the response, with no preference labels:

    r_FLR(x, y) = mean_{f ∈ F+} log p_LM(f | x, y)  −  mean_{f ∈ F−} log p_LM(f | x, y),

F+ the positive and F− the negative follow-ups (with F− empty, the second term is 0).  The
context is the conversation "user: x, assistant: y" and f is the next user turn; ``per_token``
divides each log-likelihood by the follow-up's length.  The paper mines DPO pairs with this
reward and further fine-tunes the follow-up LM on natural-language feedback; here it is the
scorer (usable for best-of-N, rejection sampling, evaluation, or labelling pairs).

**Format.** With a chat template the context is the template of [user x, assistant y] and f is
what the template of [user x, assistant y, user f] adds after it; without one, the context is
"x\\ny\\n" and f follows it.  Any causal LM of ``transformers`` works (``model``, ``tokenizer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.reward.lm_likelihood import _pad_id, continuation_logps
from prefkit.reward.scorer import TextScorer

#: default positive follow-ups F+
POSITIVE = ("Thank you, that's helpful.", "Thanks, that is exactly what I needed.")
#: default negative follow-ups F−
NEGATIVE = ("That's not what I asked.", "That is wrong and unhelpful.")


def follow_up_split(tokenizer: Any, prompt: str, response: str,
                    follow_up: str) -> tuple[list[int], list[int]]:
    """(context ids, follow-up ids) of one (prompt, response, follow-up) (module docstring)."""
    if getattr(tokenizer, "chat_template", None):
        turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        context = tokenizer.apply_chat_template(turns, tokenize=False)
        full = tokenizer.apply_chat_template([*turns, {"role": "user", "content": follow_up}],
                                             tokenize=False)
        # a template that rewrites earlier turns: score the plain follow-up
        rest = full[len(context):] if full.startswith(context) else " " + follow_up
    else:
        context, rest = f"{prompt}\n{response}\n", follow_up
    ctx = list(tokenizer(context, add_special_tokens=False)["input_ids"])
    bos = getattr(tokenizer, "bos_token_id", None)
    if not ctx and bos is not None:
        ctx = [bos]
    return ctx, list(tokenizer(rest, add_special_tokens=False)["input_ids"])


class FollowUpLikelihoodReward(TextScorer):
    """r(x, y) = mean log p(f⁺ | x, y) − mean log p(f⁻ | x, y) under a causal LM (module docstring).

    Args:
        model, tokenizer: any ``transformers`` causal LM and its tokenizer (kept in memory).
        positive, negative: the follow-up utterances F+ and F− (F− may be empty).
        per_token: average each follow-up's log-likelihood over its tokens.
        temperature: P(a ≻ b) = σ((r_a − r_b)/temperature).
    """

    def __init__(self, model: Any, tokenizer: Any, *, positive: Sequence[str] = POSITIVE,
                 negative: Sequence[str] = NEGATIVE, per_token: bool = False,
                 temperature: float = 1.0, batch_size: int = 16) -> None:
        if not positive:
            raise ValueError("FLR needs at least one positive follow-up")
        self.model, self.tokenizer = model, tokenizer
        self.positive, self.negative = tuple(positive), tuple(negative)
        self.per_token, self.temperature, self.batch_size = per_token, temperature, batch_size

    def follow_up_logps(self, prompts: Sequence[str | None], responses: Sequence[str],
                        follow_ups: Sequence[str]) -> np.ndarray:
        """(n, len(follow_ups)): log p(f | x, y) (per token if ``per_token``)."""
        ctx, cont = [], []
        for p, r in zip(prompts, responses, strict=True):
            for f in follow_ups:
                c, t = follow_up_split(self.tokenizer, "" if p is None else str(p), str(r), f)
                ctx.append(c)
                cont.append(t)
        sums, lengths = continuation_logps(self.model, ctx, cont, pad_id=_pad_id(self.tokenizer),
                                           batch_size=self.batch_size)
        values = sums / np.maximum(lengths, 1.0) if self.per_token else sums
        return values.reshape(len(responses), len(follow_ups))

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        prompts, responses = list(prompts), list(responses)
        r = self.follow_up_logps(prompts, responses, self.positive).mean(axis=1)
        if self.negative:
            r = r - self.follow_up_logps(prompts, responses, self.negative).mean(axis=1)
        return r
