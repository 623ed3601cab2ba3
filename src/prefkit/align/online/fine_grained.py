r"""Fine-grained RLHF: dense, segment-level rewards from several reward functions (Wu, Hu, Shi,
Dziri, Suhr, Ammanabrolu, Smith, Ostendorf, Hajishirzi 2023, "Fine-Grained Human Feedback Gives
Better Rewards for Language Model Training"), with the process-reward shapings Clip and Delta
(Gao et al. 2024, :mod:`.transforms`) and critic-free token advantages (Shao et al. 2024,
"DeepSeekMath", §4.1.3, GRPO with process supervision).

**Segments.**  A completion is cut into segments (sentences by default) at the tokens whose text
ends with one of ``delimiters``; the last token always closes the last segment (trailing tokens
with no text, such as EOS, join it).

**Segment rewards.**  Each reward function k scores every segment j; the segment reward is the
weighted sum over the K reward types, placed on the segment's last token:

    r_{i,j} = Σ_k w_k · r_k(x, y_i, segment j)

A reward function is a Python function ``fn(prompt, segments) -> one float per segment``
(``--algo-param segment_reward=module:function``, several comma-separated, weights
``segment_weights``); without one, the run's labeller scores each segment's text
(``segment_input=segment``) or the completion up to the segment's end (``prefix``, a process
reward model's view).  ``shaping=clip|delta|clip-delta`` (η = ``clip_eta``) bounds the accumulated
step reward; ``outcome_weight`` w_o adds the labeller's reward of the whole completion (the
success reward of Gao et al.; holistic feedback of Wu et al.) to the last segment:

    v_{i,j} = shape(r_{i,·})_j + [j = last] · w_o · r(x, y_i)

**Advantages.**  The segment values of the whole group (all samples of a prompt) are normalised
together, ṽ = (v − mean_group v) / (std_group v + 1e-4) (``scale_rewards``: ``group``, ``batch``
std, or ``none`` = centre only), and a token's advantage is the sum of the normalised values of
the segments that end at or after it:

    A_{i,t} = Σ_{j : end_j ≥ t} ṽ_{i,j}

With the KL in the reward, the return-to-go of the per-token penalty is subtracted,
A_{i,t} −= β Σ_{t' ≥ t} k(y_i,t') (PPO's per-token KL reward); in the loss it is GRPO's term.
The loss is the clipped surrogate per token with these token advantages,

    L = mean_i (1/|y_i|) Σ_t −min(c_{i,t} A_{i,t}, clip(c_{i,t}, 1 ± ε) A_{i,t}).

The paper's PPO with a learned value function is replaced by this group normalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.grpo import SCALES
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.labellers import checked
from prefkit.align.online.params import param
from prefkit.align.online.policy_terms import kl_loss_term, load_function, policy_token_logps
from prefkit.align.online.transforms import shape_steps

SEGMENT_INPUTS = PARAMS["fine-grained"]["segment_input"].choices
DEFAULT_DELIMITERS = PARAMS["fine-grained"]["delimiters"].default

#: a segment reward: (prompt, segment texts) → one reward per segment
SegmentReward = Callable[[str, list[str]], Sequence[float]]


def segment_ends(token_texts: Sequence[str], delimiters: str = DEFAULT_DELIMITERS) -> list[int]:
    """Index of the last token of every segment of one completion (its decoded tokens)."""
    n = len(token_texts)
    if n == 0:
        return []
    ends = [t for t, text in enumerate(token_texts)
            if text.strip() and text.rstrip(" ")[-1:] in delimiters]
    if not ends:
        return [n - 1]
    if ends[-1] != n - 1:
        if "".join(token_texts[ends[-1] + 1:]).strip():
            ends.append(n - 1)
        else:
            ends[-1] = n - 1  # trailing EOS / spaces join the last segment
    return ends


def dense_rewards(values: Sequence[Sequence[float]], ends: Sequence[Sequence[int]],
                  width: int) -> torch.Tensor:
    """(B, width) with each segment's value on its last token, zero elsewhere."""
    out = torch.zeros(len(values), width)
    for i, (v, e) in enumerate(zip(values, ends, strict=True)):
        if len(v) != len(e):
            raise ValueError(f"sample {i}: {len(v)} segment rewards for {len(e)} segments")
        for value, t in zip(v, e, strict=True):
            out[i, t] += float(value)
    return out


def normalise_segments(values: Sequence[Sequence[float]], group_size: int,
                       scale: str = "group") -> list[np.ndarray]:
    """Segment values normalised over all segments of each group (``scale`` as GRPO's)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r} (expected {', '.join(SCALES)})")
    arrays = [np.asarray(v, float) for v in values]
    every = np.concatenate(arrays) if arrays else np.zeros(0)
    batch_std = every.std(ddof=1) if every.size > 1 else 0.0
    out = []
    for g in range(0, len(arrays), group_size):
        group = arrays[g: g + group_size]
        pooled = np.concatenate(group)
        mean = pooled.mean()
        if scale == "none":
            div = 1.0
        elif scale == "group":
            div = (pooled.std(ddof=1) if pooled.size > 1 else 0.0) + 1e-4
        else:
            div = batch_std + 1e-4
        out.extend((a - mean) / div for a in group)
    return out


def token_advantages(dense: torch.Tensor) -> torch.Tensor:
    """A_{i,t} = Σ_{t' ≥ t} dense_{i,t'} (reverse cumulative sum over tokens)."""
    return dense.flip(-1).cumsum(-1).flip(-1)


def token_clipped_loss(token_logps: torch.Tensor, old_token_logps: torch.Tensor,
                       advantages: torch.Tensor, mask: torch.Tensor, *,
                       epsilon: float = 0.2) -> torch.Tensor:
    """mean_i (1/|y_i|) Σ_t −min(c A, clip(c, 1 ± ε) A) with per-token advantages (B, T)."""
    coef = torch.exp(token_logps - old_token_logps)
    clipped = coef.clamp(1 - epsilon, 1 + epsilon)
    per_token = -torch.min(coef * advantages, clipped * advantages) * mask
    return (per_token.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


def rollout_segments(tokenizer: Any, rollout: Any, delimiters: str
                     ) -> tuple[list[list[int]], list[list[str]], list[list[str]]]:
    """Per sample: segment end tokens, segment texts and prefix texts."""
    ends_all, segs_all, prefixes_all = [], [], []
    for ids in rollout.completion_token_lists():
        texts = [tokenizer.decode([i], skip_special_tokens=True) for i in ids]
        ends = segment_ends(texts, delimiters)
        starts = [0] + [e + 1 for e in ends[:-1]]
        segs = [tokenizer.decode(ids[s: e + 1], skip_special_tokens=True).strip()
                for s, e in zip(starts, ends, strict=True)]
        prefixes = [tokenizer.decode(ids[: e + 1], skip_special_tokens=True).strip()
                    for e in ends]
        ends_all.append(ends)
        segs_all.append(segs)
        prefixes_all.append(prefixes)
    return ends_all, segs_all, prefixes_all


def segment_rewards(trainer: Any, prompts: list[str], segments: list[list[str]],
                    prefixes: list[list[str]]) -> list[np.ndarray]:
    """Weighted segment rewards per sample (the functions of ``segment_reward``, or the
    labeller on segment / prefix texts)."""
    specs = list(param(trainer, "segment_reward"))
    if not specs:
        source = prefixes if param(trainer, "segment_input") == "prefix" else segments
        flat_p = [p for p, s in zip(prompts, source, strict=True) for _ in s]
        flat = trainer.labeller.rewards(flat_p, [t for s in source for t in s])
        out, k = [], 0
        for s in source:
            out.append(flat[k: k + len(s)])
            k += len(s)
        return out
    raw_w = param(trainer, "segment_weights")
    weights = [1.0] * len(specs) if raw_w is None else list(raw_w)
    fns = [load_function(s, "segment_reward") for s in specs]
    out = []
    for i, (prompt, segs) in enumerate(zip(prompts, segments, strict=True)):
        total = np.zeros(len(segs))
        for spec, fn, w in zip(specs, fns, weights, strict=True):
            total += w * checked(fn(prompt, list(segs)), len(segs),
                                 f"segment_reward {spec} (sample {i})")
        out.append(total)
    return out


def politeness_segments(prompt: str, segments: list[str]) -> list[float]:
    """A segment reward for the tiny model's vocabulary: the politeness of each segment
    (:func:`~prefkit.align.online.gold.politeness`); for demos and tests
    (``--algo-param segment_reward=prefkit.align.online.fine_grained:politeness_segments``)."""
    from prefkit.align.online.gold import politeness

    return politeness([prompt] * len(segments), segments).tolist()


def step_loss(trainer: Any, rollout: Any, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """One fine-grained (dense-reward) step (registered as ``fine-grained``)."""
    cfg = trainer.config
    shaping = param(trainer, "shaping")
    eta = param(trainer, "clip_eta")
    outcome_weight = param(trainer, "outcome_weight")
    delimiters = param(trainer, "delimiters")
    prompts = rollout.sample_prompts
    ends, segs, prefixes = rollout_segments(trainer.tokenizer, rollout, delimiters)
    steps = segment_rewards(trainer, prompts, segs, prefixes)
    values = [shape_steps(shaping, s, eta) for s in steps]
    if outcome_weight:
        outcome = trainer._scalar_rewards(rollout)
        for v, o in zip(values, outcome, strict=True):
            v[-1] += outcome_weight * o
    record["segments"] = float(np.mean([len(e) for e in ends]))
    record["segment_reward"] = float(np.mean(np.concatenate(steps)))
    width = rollout.completion_ids.shape[1]
    normalised = normalise_segments(values, rollout.group_size, cfg.scale_rewards)
    adv = token_advantages(dense_rewards(normalised, ends, width))
    mask_cpu = rollout.completion_mask.to(torch.float32)
    if cfg.beta and cfg.kl_place == "reward":
        k = kl_per_token(rollout.token_logps, ref_token_logps, cfg.kl_est) * mask_cpu
        adv = adv - cfg.beta * token_advantages(k)
    tok, mask = policy_token_logps(trainer, rollout)
    loss = token_clipped_loss(tok, tok.detach(), adv.to(tok.device) * mask, mask,
                              epsilon=cfg.epsilon)
    return loss + kl_loss_term(trainer, tok, ref_token_logps, mask)
