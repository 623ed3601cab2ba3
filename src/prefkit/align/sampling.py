"""Best-of-N, statistical rejection sampling, and over-optimisation curves.

*Best-of-N*: draw N responses, keep the one the scorer rates highest.  Its KL divergence from the
sampling policy is (Stiennon et al. 2020; Gao et al. 2023)

    KL_bon(n) = log n − (n − 1)/n.

*Statistical rejection sampling* (RSO; Liu et al. 2023, "Statistical Rejection Sampling Improves
Preference Optimization", Algorithm 1) draws from the optimal KL-regularised policy
π_r(y|x) ∝ π_sft(y|x)·exp(r(x, y)/β) using candidates from π_sft: repeatedly pick a remaining
candidate at random and accept it with probability exp((r(y) − max r)/β), until ``k`` are
accepted (or none remain).

*Over-optimisation curve* (Gao et al. 2023, "Scaling Laws for Reward Model Overoptimization"):
for n = 1, 2, …, the expected proxy and gold reward of the best-of-n (chosen by the proxy)
response, estimated without bias from N ≥ n samples per prompt: after sorting by proxy score, the
i-th smallest (1-based) is the best of a random n-subset with probability C(i−1, n−1)/C(N, n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import comb, log
from typing import Any

import numpy as np

Scorer = Callable[[str, Sequence[str]], Sequence[float]]


def kl_bon(n: int | np.ndarray) -> np.ndarray | float:
    """KL(best-of-n ‖ base) = log n − (n−1)/n."""
    n_arr = np.asarray(n, dtype=float)
    if np.any(n_arr < 1):
        raise ValueError("n must be ≥ 1")
    out = np.log(n_arr) - (n_arr - 1) / n_arr
    return float(out) if out.ndim == 0 else out


def best_of_n(
    prompts: Sequence[str], candidates: Sequence[Sequence[str]], scorer: Scorer
) -> list[dict[str, Any]]:
    """Per prompt, the candidate with the highest score (first on ties), with all scores.

    ``scorer(prompt, texts)`` returns one score per text.
    """
    if len(prompts) != len(candidates):
        raise ValueError("one candidate list per prompt is needed")
    out = []
    for prompt, texts in zip(prompts, candidates, strict=True):
        if not texts:
            raise ValueError(f"no candidates for prompt {prompt!r}")
        scores = np.asarray(scorer(prompt, list(texts)), dtype=float)
        if scores.shape != (len(texts),):
            raise ValueError("the scorer must return one score per candidate")
        best = int(np.argmax(scores))
        out.append({"prompt": prompt, "best": texts[best], "index": best,
                    "score": float(scores[best]), "scores": scores.tolist()})
    return out


def rejection_sample(
    rewards: Sequence[float], *, beta: float, k: int = 1, seed: int | np.random.Generator = 0
) -> list[int]:
    """RSO: indices of up to ``k`` accepted candidates (Liu et al. 2023, Algorithm 1)."""
    if beta <= 0:
        raise ValueError("beta must be > 0")
    rng = np.random.default_rng(seed)
    r = np.asarray(rewards, dtype=float)
    remaining = list(range(len(r)))
    accepted: list[int] = []
    while remaining and len(accepted) < k:
        r_max = max(r[i] for i in remaining)
        pos = int(rng.integers(len(remaining)))
        i = remaining[pos]
        if rng.random() < np.exp((r[i] - r_max) / beta):
            accepted.append(i)
            remaining.pop(pos)
    return accepted


def bon_weights(n_samples: int, n: int) -> np.ndarray:
    """P(the i-th smallest of N samples is the max of a uniform random n-subset), i = 1..N."""
    if not 1 <= n <= n_samples:
        raise ValueError("need 1 ≤ n ≤ N")
    total = comb(n_samples, n)
    return np.array([comb(i - 1, n - 1) / total for i in range(1, n_samples + 1)])


def overoptimization_curve(
    proxy: Any, gold: Any, ns: Sequence[int] | None = None
) -> list[dict[str, float]]:
    """Expected proxy and gold reward of best-of-n (by proxy) against KL_bon, averaged over
    prompts.  ``proxy`` and ``gold`` are (prompts, N) arrays of scores of the same samples."""
    proxy = np.atleast_2d(np.asarray(proxy, dtype=float))
    gold = np.atleast_2d(np.asarray(gold, dtype=float))
    if proxy.shape != gold.shape:
        raise ValueError("proxy and gold scores must have the same shape")
    n_samples = proxy.shape[1]
    ns = list(ns) if ns is not None else [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256)
                                          if n <= n_samples]
    order = np.argsort(proxy, axis=1, kind="stable")
    proxy_sorted = np.take_along_axis(proxy, order, axis=1)
    gold_sorted = np.take_along_axis(gold, order, axis=1)
    out = []
    for n in ns:
        w = bon_weights(n_samples, n)
        out.append({
            "n": n,
            "kl": float(log(n) - (n - 1) / n),
            "proxy": float((proxy_sorted @ w).mean()),
            "gold": float((gold_sorted @ w).mean()),
        })
    return out


def generate_candidates(
    model: Any, tokenizer: Any, prompts: Sequence[str], *, n: int = 4, max_new_tokens: int = 32,
    temperature: float = 1.0, seed: int = 0,
) -> list[list[str]]:
    """``n`` sampled responses per prompt from a causal LM (chat template when available)."""
    import torch

    from prefkit.align.pairs import encode_prompt

    torch.manual_seed(seed)
    return [sample_texts(model, tokenizer, encode_prompt(tokenizer, prompt), n=n,
                         max_new_tokens=max_new_tokens, temperature=temperature)
            for prompt in prompts]


def sample_texts(model: Any, tokenizer: Any, prompt_ids: Sequence[int], *, n: int,
                 max_new_tokens: int, temperature: float) -> list[str]:
    """``n`` sampled completions (decoded, stripped) of one tokenized prompt, without
    gradients; the caller seeds torch."""
    import torch

    ids = torch.tensor([list(prompt_ids)], device=next(model.parameters()).device)
    model.eval()
    with torch.no_grad():
        gen = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
            temperature=temperature, max_new_tokens=max_new_tokens, num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        )
    texts = tokenizer.batch_decode(gen[:, ids.shape[1]:], skip_special_tokens=True)
    return [t.strip() for t in texts]


def implicit_reward_scorer(
    policy: Any, reference: Any, tokenizer: Any, *, beta: float = 0.1
) -> Scorer:
    """Scorer r(x, y) = β·log π(y|x)/π_ref(y|x) (the DPO implicit reward) for best-of-N / RSO."""
    from prefkit.align.pairs import TextPairs, pair_logps, tokenize_pairs

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def score(prompt: str, texts: Sequence[str]) -> list[float]:
        tp = TextPairs([prompt] * len(texts), list(texts), list(texts),
                       np.ones(len(texts)), np.ones(len(texts)))
        pairs = tokenize_pairs(tokenizer, tp)
        pol = pair_logps(policy, pairs, pad_id=pad)["chosen"]
        ref = pair_logps(reference, pairs, pad_id=pad)["chosen"]
        return (beta * (pol - ref)).tolist()

    return score
