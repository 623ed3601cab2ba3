r"""DPA: directional preference alignment by preference-conditioned rejection-sampling fine-tuning.

Wang et al. 2024, "Arithmetic Control of LLMs for Diverse User Preferences: Directional
Preference Alignment with Multi-Objective Rewards" (ACL 2024).  With a multi-objective reward
r(x, y) ∈ ℝᵐ and a user direction v (unit vector, :mod:`prefkit.plural.directions`), the user's
reward is R(x, y; v) = vᵀ r(x, y).  One policy π(y | x, v) serves every direction: v is written
into its system prompt (:func:`~prefkit.plural.directions.direction_system_prompt`).  Training
is Rejection Sampling Fine-tuning (RSF, the Llama 2 recipe) made preference-conditioned; for
t = 0 … T−1::

    for every prompt x and direction v assigned to it:
        y₁ … y_K ~ π_t(· | x, v)                       (K samples, v in the system prompt)
        y*      = argmax_k vᵀ r(x, y_k)                  (rejection sampling under v)
    π_{t+1}   = argmin_π  − Σ_(x,v,y*) log π(y* | x, v) / |y*|      (SFT on the kept ones)

The selection is :func:`prefkit.align.sampling.best_of_n` with the scorer vᵀr; the SFT step is
the per-token NLL of :mod:`prefkit.align.losses.nll` on
:func:`~prefkit.align.pairs.collate_sequences` batches.  The paper draws v per prompt from an
arc of angles; pass those directions (e.g. ``direction_from_angle`` over a grid) and
``directions_per_prompt`` to sample from them.

``rewards(prompt, texts)`` is any multi-objective scorer returning an (n, m) array: a
:class:`prefkit.reward.multi_objective.MultiObjectiveHead`'s ``attribute_rewards`` on encoded
texts, or plain functions (length, a classifier …).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefkit.errors import DataError
from prefkit.plural.directions import (
    DEFAULT_PREAMBLE,
    direction_system_prompt,
    directional_reward,
    unit_direction,
)

MultiReward = Callable[[str, Sequence[str]], Any]


@dataclass
class DPAConfig:
    """Hyper-parameters of the DPA RSF loop."""

    iterations: int = 2
    n_samples: int = 8                  # K responses per (prompt, direction)
    directions_per_prompt: int | None = None  # None: every direction for every prompt
    sft_epochs: int = 2
    batch_size: int = 16
    lr: float = 1e-3
    max_new_tokens: int = 32
    temperature: float = 1.0
    names: tuple[str, ...] = ("helpfulness", "verbosity")
    preamble: str = DEFAULT_PREAMBLE
    seed: int = 0


def multi_objective_rewards(
    reward_model: Any, names: Sequence[str] | None = None, *, debiased: bool = False,
) -> MultiReward:
    """``rewards(prompt, texts)`` from a fitted ``RewardModel(encoder, "multi")`` (ArmoRM head):
    its per-attribute rewards z_j (standardised; ``debiased=True``: after verbosity
    de-biasing, where the verbosity column is 0) for the attributes ``names`` in that order
    (default: all of the head's attributes)."""
    from prefkit.reward.multi_objective import MultiObjectiveHead

    head = getattr(reward_model, "head", None)
    if not isinstance(head, MultiObjectiveHead):
        raise DataError("DPA rewards need a reward model with the multi-objective head "
                        "(RewardModel(encoder, 'multi'))", field="reward_model")
    reward_model.check_fitted()
    known = list(head.params["attributes"] or [])
    wanted = list(names) if names is not None else known
    missing = [n for n in wanted if n not in known]
    if missing:
        raise DataError(f"the reward model has no attribute {missing[0]!r} (it has {known})",
                        field="attributes")
    columns = [known.index(n) for n in wanted]

    def rewards(prompt: str, texts: Sequence[str]) -> np.ndarray:
        x = reward_model.encode_texts([prompt] * len(texts), [str(t) for t in texts])
        return head.attribute_rewards(x, debiased=debiased)[:, columns]

    return rewards


def conditioned_prompt_ids(tokenizer: Any, prompt: str, system: str) -> list[int]:
    """Token ids of ``prompt`` with ``system`` as the system message (chat template), or
    prefixed to the prompt when the template has no system role / there is no template."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True)
        except Exception:  # templates that reject a system role (e.g. Mistral's)
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": f"{system}\n\n{prompt}"}], tokenize=False,
                add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    ids = list(tokenizer(f"{system}\n\n{prompt}", add_special_tokens=True)["input_ids"])
    if tokenizer.eos_token_id is not None and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids


def generate_conditioned(
    model: Any, tokenizer: Any, prompt: str, v: Sequence[float] | np.ndarray, n: int, *,
    names: Sequence[str] = ("helpfulness", "verbosity"), preamble: str = DEFAULT_PREAMBLE,
    max_new_tokens: int = 32, temperature: float = 1.0,
) -> list[str]:
    """n sampled responses of π(· | x, v); with ``functools.partial`` over the keyword arguments
    this is the ``generate(prompt, v, n)`` that :mod:`prefkit.plural.rps` expects."""
    from prefkit.align.sampling import sample_texts

    system = direction_system_prompt(v, names, preamble=preamble)
    return sample_texts(model, tokenizer, conditioned_prompt_ids(tokenizer, prompt, system), n=n,
                        max_new_tokens=max_new_tokens, temperature=temperature)


def _check_rewards(r: Any, n: int, m: int, prompt: str) -> np.ndarray:
    arr = np.asarray(r, dtype=float)
    if arr.shape != (n, m) or not np.all(np.isfinite(arr)):
        raise DataError(f"rewards for prompt {prompt!r} have shape {arr.shape} (need ({n}, {m}) "
                        "finite values)", field="rewards")
    return arr


def select_for_direction(
    prompt: str, texts: Sequence[str], rewards: np.ndarray, v: Sequence[float] | np.ndarray,
) -> dict[str, Any]:
    """The rejection-sampling step: best-of-n of ``texts`` under the scorer vᵀr (first on ties);
    ``rewards`` is their (n, m) objective array."""
    from prefkit.align.sampling import best_of_n

    scores = directional_reward(np.asarray(rewards, dtype=float), v).tolist()
    return best_of_n([prompt], [list(texts)], lambda _p, _t: scores)[0]


def rsf_round(
    model: Any, tokenizer: Any, prompts: Sequence[str], directions: np.ndarray,
    rewards: MultiReward, config: DPAConfig, *, rng: np.random.Generator,
) -> dict[str, Any]:
    """One DPA iteration: sample, keep argmax vᵀr per (prompt, v), SFT on the kept responses.
    Returns the kept examples and the mean objective vectors of the samples and of the kept."""
    import torch

    from prefkit.align.losses.nll import nll_loss
    from prefkit.align.pairs import collate_sequences, encode_response, sequence_logps

    m = directions.shape[1]
    kept: list[tuple[str, np.ndarray, str]] = []
    sampled_r, kept_r = [], []
    for prompt in prompts:
        if config.directions_per_prompt is None:
            chosen = range(len(directions))
        else:
            chosen = rng.choice(len(directions), size=config.directions_per_prompt,
                                replace=len(directions) < config.directions_per_prompt)
        for j in chosen:
            v = directions[int(j)]
            texts = generate_conditioned(
                model, tokenizer, prompt, v, config.n_samples, names=config.names,
                preamble=config.preamble, max_new_tokens=config.max_new_tokens,
                temperature=config.temperature)
            r = _check_rewards(rewards(prompt, texts), len(texts), m, prompt)
            best = select_for_direction(prompt, texts, r, v)
            kept.append((prompt, v, best["best"]))
            sampled_r.append(r.mean(0))
            kept_r.append(r[best["index"]])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompt_rows = [conditioned_prompt_ids(
        tokenizer, p, direction_system_prompt(v, config.names, preamble=config.preamble))
        for p, v, _ in kept]
    response_rows = [encode_response(tokenizer, y) for _, _, y in kept]
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    g = torch.Generator().manual_seed(int(rng.integers(2**31)))
    model.train()
    losses = []
    for _ in range(config.sft_epochs):
        order = torch.randperm(len(kept), generator=g).tolist()
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            batch = collate_sequences([prompt_rows[i] for i in idx],
                                      [response_rows[i] for i in idx], pad)
            device = next(model.parameters()).device
            batch = {k: (t.to(device) if hasattr(t, "to") else t) for k, t in batch.items()}
            logps, lengths = sequence_logps(model, batch)
            loss = nll_loss(logps, chosen_lengths=lengths.clamp(min=1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    return {"kept": kept, "sampled_reward": np.mean(sampled_r, 0).tolist(),
            "kept_reward": np.mean(kept_r, 0).tolist(), "sft_loss": losses}


def train_dpa(
    model: Any, tokenizer: Any, prompts: Sequence[str],
    directions: Sequence[Sequence[float]] | np.ndarray, rewards: MultiReward,
    config: DPAConfig | None = None, *, progress: bool | None = False,
) -> list[dict[str, Any]]:
    """Run ``config.iterations`` RSF rounds in place on ``model``; one summary per round
    (``sampled_reward`` / ``kept_reward``: mean objective vectors, ``sft_loss``)."""
    from prefkit.core.progress import progress_bar

    config = config or DPAConfig()
    prompts = [str(p) for p in prompts]
    if not prompts:
        raise DataError("DPA needs at least one prompt", field="prompt")
    dirs = np.stack([unit_direction(v) for v in directions]) if len(directions) else None
    if dirs is None:
        raise DataError("DPA needs at least one direction", field="direction")
    if dirs.shape[1] != len(config.names):
        raise DataError(f"{len(config.names)} objective names for {dirs.shape[1]}-objective "
                        "directions", field="direction")
    if config.iterations < 1 or config.n_samples < 1:
        raise DataError("iterations and n_samples must be ≥ 1", field="config")
    import torch

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    history = []
    with progress_bar(progress, config.iterations, "DPA rounds", "rounds") as advance:
        for t in range(config.iterations):
            out = rsf_round(model, tokenizer, prompts, dirs, rewards, config, rng=rng)
            history.append({"iteration": t, **{k: out[k] for k in
                                               ("sampled_reward", "kept_reward", "sft_loss")},
                            "kept": len(out["kept"])})
            advance(1)
    return history
