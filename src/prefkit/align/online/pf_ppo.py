r"""PF-PPO: policy filtration for PPO (Zhang, Lin, Ye, Hua, Zhang, Qin, Zhou, Ding 2024,
"Policy Filtration in RLHF to Fine-Tune LLM for Code Generation").

A reward model is not equally reliable everywhere: its rewards agree with the actual scores
better in some regions (the paper finds: among the highest-rewarded responses).  PF-PPO
therefore drops, before the policy update, the samples whose rewards are least trustworthy.
Of the N completions of each prompt, ranked by the labeller's reward, a strategy keeps

    best-of-n     the k best;
    best-random   the k best and k drawn at random from the rest (seeded by run seed and step);
    best-worst    the k best and the k worst,

and the update uses only the kept samples: advantages are computed on the filtered group
(filter *then* baseline — GRPO's group z-score or RLOO's leave-one-out over the m kept samples,
``--algo-param estimator``), except best-of-n with one kept sample, which keeps its advantage
against its whole group (a single sample has no group baseline); the loss is GRPO's clipped
token loss on them, with the run's KL placement.

The paper picks the strategy by the coefficient of determination between the reward model's
rewards and the actual scores *on the filtered samples*; :func:`filtered_r2` and
:func:`choose_strategy` compute it (R² of the least-squares line = squared Pearson
correlation), and with a gold reward on the trainer each step records ``filter_r2``.

Settings: ``--algo-param strategy=best-random|best-worst|best-of-n`` (default best-random),
``k=1``, ``estimator=grpo|rloo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.params import param
from prefkit.align.online.policy_terms import clipped_loss, group_advantages, kl_shaped
from prefkit.errors import DataError

STRATEGIES = PARAMS["pf-ppo"]["strategy"].choices


def kept_per_group(strategy: str, k: int) -> int:
    """How many samples of each group a strategy keeps."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown PF-PPO strategy {strategy!r} "
                         f"(expected {', '.join(STRATEGIES)})")
    return k if strategy == "best-of-n" else 2 * k


def filter_groups(rewards: np.ndarray, group_size: int, strategy: str, *, k: int = 1,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices (ascending, the same count per group) of the samples a strategy keeps from
    consecutive groups of ``group_size``; ranks by reward, ties by position."""
    r = np.asarray(rewards, dtype=float).reshape(-1, group_size)
    m = kept_per_group(strategy, k)
    if k < 1 or m > group_size:
        raise DataError(f"PF-PPO {strategy} with k={k} keeps {m} of each group of "
                         f"{group_size}: needs 1 ≤ {m} ≤ group_size", source="--algo-param")
    rng = rng if rng is not None else np.random.default_rng(0)
    kept = []
    for g, row in enumerate(r):
        order = np.argsort(-row, kind="stable")  # best first
        best = order[:k]
        if strategy == "best-of-n":
            chosen = best
        elif strategy == "best-worst":
            chosen = np.concatenate([best, order[group_size - k:]])
        else:
            chosen = np.concatenate([best, rng.choice(order[k:], size=k, replace=False)])
        kept.append(g * group_size + np.sort(chosen))
    return np.concatenate(kept).astype(np.int64)


def filtered_r2(rewards: np.ndarray, actual: np.ndarray, kept: np.ndarray) -> float:
    """R² of the actual scores against the rewards on the kept samples (squared Pearson
    correlation; NaN when either is constant there)."""
    x = np.asarray(rewards, dtype=float)[kept]
    y = np.asarray(actual, dtype=float)[kept]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def choose_strategy(rewards: np.ndarray, actual: np.ndarray, group_size: int, *,
                    strategies: Sequence[str] = STRATEGIES, k: int = 1, seed: int = 0
                    ) -> tuple[str, dict[str, float]]:
    """The strategy whose filtered samples have the highest R² (the paper's selection rule),
    and every strategy's R²."""
    scores = {}
    for s in strategies:
        if kept_per_group(s, k) <= group_size:
            kept = filter_groups(rewards, group_size, s, k=k, rng=np.random.default_rng(seed))
            scores[s] = filtered_r2(rewards, actual, kept)
    finite = {s: v for s, v in scores.items() if np.isfinite(v)}
    if not finite:
        raise ValueError("no strategy has a finite R² on these samples")
    return max(finite, key=finite.__getitem__), scores


def step_loss(trainer: Any, rollout: Any, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """One PF-PPO step (registered as ``pf-ppo``)."""
    cfg = trainer.config
    strategy = param(trainer, "strategy")
    k = param(trainer, "k")
    n = rollout.group_size
    raw = trainer._scalar_rewards(rollout)
    kept = filter_groups(raw, n, strategy, k=k,
                         rng=np.random.default_rng([cfg.seed, 43, trainer.step]))
    shaped = kl_shaped(trainer, rollout, ref_token_logps, raw)
    m = kept_per_group(strategy, k)
    index = torch.as_tensor(kept)
    if m == 1:
        adv = group_advantages(trainer, shaped, n)[index]
    else:
        adv = group_advantages(trainer, shaped[index], m)
    record["kept"] = m / n
    if trainer.gold is not None:
        actual = trainer.gold.rewards(rollout.sample_prompts, rollout.texts)
        record["filter_r2"] = filtered_r2(raw, actual, kept)
    return clipped_loss(trainer, rollout.select(kept.tolist()), ref_token_logps[index], adv)
