r"""Reward transforms applied to labeller rewards before the policy gradient.

* **LSC**, log-sigmoid centring (Wang et al. 2024, "Transforming and Combining Rewards for
  Aligning Large Language Models"): u(x, y) = log σ(r(x, y) − r_ref(x)), with r_ref(x) a
  per-prompt reference reward (here the reward of a sample of the reference policy).  Bounded
  above by 0, it puts the weight on improving poor outputs; a sum of LSC rewards is
  log P(good in every property), a logical AND.
* **PAR**, preference as reward (Fu et al. 2025, "Reward Shaping to Mitigate Reward Hacking in
  RLHF"): u(x, y) = (1/M) Σ_m σ(r(x, y) − r(x, y_ref,m)), the Bradley–Terry probability of
  beating the reference responses: bounded, fast-growing then flat, centred.
* **Per-prompt normalisation**: (r − mean_group) / (std_group + ε) over the completions of
  each prompt.
* **Length penalty**: r − α·|y| (or α·max(0, |y| − L) with a target ``free_tokens`` L).

Process-reward (per-step) shaping, for dense rewards (:mod:`.fine_grained`), ``PROCESS_SHAPINGS``
— **Clip** and **Delta** (Gao et al. 2024, "On Designing Effective RL Reward at Training Time for
LLM Reasoning"): summed raw step scores r_1 … r_T of a process reward model reward *more* steps,
so RL learns to repeat correct but unnecessary steps.  Both bound the accumulated reward:

* Clip: r̃_t = min(r_t − η, 0) — every step is ≤ 0, so added steps cannot raise the return;
* Delta: r̃_t = r_t − r_{t+1} (t < T), r̃_T = r_T — telescoping, Σ_{t ≥ k} r̃_t = r_k: the
  return from any step is one step score, whatever the length;
* ``clip-delta``: Clip, then Delta.  The paper's return is R = r_success + Σ_t r̃_t.
"""

from __future__ import annotations

import numpy as np

TRANSFORMS = ("none", "lsc", "par")
#: per-step shapings of process rewards (:func:`shape_steps`)
PROCESS_SHAPINGS = ("none", "clip", "delta", "clip-delta")


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def lsc(rewards: np.ndarray, reference_rewards: np.ndarray) -> np.ndarray:
    """log σ(r − r_ref) per completion (``reference_rewards`` aligned with ``rewards``)."""
    return _log_sigmoid(np.asarray(rewards, float) - np.asarray(reference_rewards, float))


def par(rewards: np.ndarray, reference_rewards: np.ndarray) -> np.ndarray:
    """Mean over reference responses of σ(r − r_ref,m); ``reference_rewards`` is (n,) or
    (n, M)."""
    r = np.asarray(rewards, float)
    ref = np.asarray(reference_rewards, float)
    ref = ref[:, None] if ref.ndim == 1 else ref
    return np.mean(0.5 * (1.0 + np.tanh(0.5 * (r[:, None] - ref))), axis=1)


def per_prompt_normalise(rewards: np.ndarray, group_size: int, eps: float = 1e-4) -> np.ndarray:
    """(r − group mean) / (group std + ε) over consecutive groups of ``group_size``."""
    r = np.asarray(rewards, float).reshape(-1, group_size)
    std = r.std(1, ddof=1, keepdims=True) if group_size > 1 else np.zeros((r.shape[0], 1))
    return ((r - r.mean(1, keepdims=True)) / (std + eps)).reshape(-1)


def length_penalty(rewards: np.ndarray, lengths: np.ndarray, coef: float,
                   free_tokens: int = 0) -> np.ndarray:
    """r − coef · max(0, |y| − free_tokens)."""
    over = np.maximum(np.asarray(lengths, float) - free_tokens, 0.0)
    return np.asarray(rewards, float) - coef * over


def apply_transform(name: str, rewards: np.ndarray,
                    reference_rewards: np.ndarray | None) -> np.ndarray:
    """``none``, ``lsc`` or ``par`` (the last two need the reference rewards)."""
    if name == "none":
        return np.asarray(rewards, float)
    if reference_rewards is None:
        raise ValueError(f"the {name} transform needs reference rewards")
    if name == "lsc":
        return lsc(rewards, reference_rewards)
    if name == "par":
        return par(rewards, reference_rewards)
    raise ValueError(f"unknown reward transform {name!r} (expected {', '.join(TRANSFORMS)})")


def clip_steps(steps: np.ndarray, eta: float = 0.0) -> np.ndarray:
    """Clip: min(r_t − η, 0) per step."""
    return np.minimum(np.asarray(steps, float) - eta, 0.0)


def delta_steps(steps: np.ndarray) -> np.ndarray:
    """Delta: r_t − r_{t+1} for t < T, r_T for the last step (Σ_{t ≥ k} = r_k)."""
    r = np.asarray(steps, float)
    if r.size == 0:
        return r
    return np.append(r[:-1] - r[1:], r[-1])


def shape_steps(name: str, steps: np.ndarray, eta: float = 0.0) -> np.ndarray:
    """One completion's step rewards shaped by ``none``, ``clip``, ``delta`` or
    ``clip-delta`` (Clip first)."""
    if name not in PROCESS_SHAPINGS:
        raise ValueError(f"unknown process-reward shaping {name!r} "
                         f"(expected {', '.join(PROCESS_SHAPINGS)})")
    r = np.asarray(steps, float)
    if name in ("clip", "clip-delta"):
        r = clip_steps(r, eta)
    if name in ("delta", "clip-delta"):
        r = delta_steps(r)
    return r
