"""Diagnostics of preference-aligned policies.

*Implicit-reward accuracy*: share of pairs with r(x, y_w) > r(x, y_l), where
r = β·log π/π_ref (for reference-free losses, the loss's own rewards).

*Ranking accuracy* (Chen et al. 2024, "Preference Learning Algorithms Do Not Learn Preference
Rankings"): share of pairs where the policy itself ranks the preferred response higher,
log π(y_w|x) > log π(y_l|x) (optionally per token).  *Idealized ranking accuracy*: the ranking
accuracy of the exact DPO/RLHF optimum π* ∝ π_ref·exp(r*/β) under Bradley–Terry with preference
probability p = P(y_w ≻ y_l):

    log π*(y_w)/π*(y_l) = log π_ref(y_w)/π_ref(y_l) + (1/β)·log(p/(1−p)),

counted as correct when this is > 0 (p = 1 counts as correct).

*Likelihood displacement*: the chosen/rejected log-prob trajectories of training
(:class:`LogpTracker`); displacement is the chosen log-prob falling below its start.

*CHES* (Razin et al. 2024, "Unintentional Unalignment: Likelihood Displacement in Direct
Preference Optimization", Definition 2).  With H(x, y) = Σ_k h_{x, y<k} the sum of the last
hidden states that predict the response tokens,

    CHES(x, y+, y−) = ⟨H(x, y+), H(x, y−)⟩ − ‖H(x, y+)‖²

(``length_normalized`` divides each sum by its response length).  High-CHES pairs drive
likelihood displacement; :func:`filter_high_ches` drops the highest-scoring share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from prefkit.align.losses import get_loss
from prefkit.align.pairs import (
    TokenPairs,
    mismatched_pairs,
    pair_logps,
    text_pairs,
    tokenize_pairs,
)


def implicit_reward_accuracy(
    policy_chosen: Any, policy_rejected: Any, ref_chosen: Any, ref_rejected: Any
) -> float:
    """Share of pairs whose implicit DPO reward margin is positive (ties count half)."""
    h = (torch.as_tensor(policy_chosen) - torch.as_tensor(ref_chosen)) - (
        torch.as_tensor(policy_rejected) - torch.as_tensor(ref_rejected)
    )
    return float(((h > 0).double() + 0.5 * (h == 0).double()).mean())


def ranking_accuracy(
    policy_chosen: Any,
    policy_rejected: Any,
    *,
    chosen_lengths: Any | None = None,
    rejected_lengths: Any | None = None,
) -> float:
    """Share of pairs with log π(y_w|x) > log π(y_l|x) (per token when lengths are given)."""
    c = torch.as_tensor(policy_chosen, dtype=torch.float64)
    r = torch.as_tensor(policy_rejected, dtype=torch.float64)
    if chosen_lengths is not None and rejected_lengths is not None:
        c = c / torch.as_tensor(chosen_lengths, dtype=torch.float64).clamp(min=1)
        r = r / torch.as_tensor(rejected_lengths, dtype=torch.float64).clamp(min=1)
    return float(((c > r).double() + 0.5 * (c == r).double()).mean())


def idealized_log_ratio(ref_chosen: Any, ref_rejected: Any, p: Any, beta: float) -> np.ndarray:
    """log π*(y_w)/π*(y_l) of the exact optimum (±inf where p is 1 or 0)."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        logit = np.log(p) - np.log1p(-p)
    return np.asarray(ref_chosen, float) - np.asarray(ref_rejected, float) + logit / beta


def idealized_ranking_accuracy(ref_chosen: Any, ref_rejected: Any, p: Any, beta: float) -> float:
    """Ranking accuracy of the exact DPO/RLHF optimum (Chen et al. 2024)."""
    z = idealized_log_ratio(ref_chosen, ref_rejected, p, beta)
    return float(np.mean((z > 0) + 0.5 * (z == 0)))


@dataclass
class LogpTracker:
    """Chosen/rejected log-prob trajectories on a fixed probe set of pairs during training.

    Use as a trainer callback: ``trainer.train(data, callback=tracker)``; every ``every`` steps
    it records the mean (and per-pair) chosen and rejected log-probabilities of ``pairs``.
    """

    pairs: TokenPairs
    pad_id: int
    every: int = 1
    steps: list[int] = field(default_factory=list)
    chosen: list[np.ndarray] = field(default_factory=list)
    rejected: list[np.ndarray] = field(default_factory=list)

    def record(self, model: Any, step: int) -> None:
        res = pair_logps(model, self.pairs, pad_id=self.pad_id)
        self.steps.append(step)
        self.chosen.append(res["chosen"].numpy())
        self.rejected.append(res["rejected"].numpy())

    def __call__(self, trainer: Any, record: dict[str, float]) -> None:
        if not self.steps:
            pass
        if int(record["step"]) % self.every == 0:
            self.record(trainer.model, int(record["step"]))

    def trajectories(self) -> dict[str, list[float]]:
        return {
            "step": list(self.steps),
            "chosen": [float(c.mean()) for c in self.chosen],
            "rejected": [float(r.mean()) for r in self.rejected],
        }

    def displacement(self) -> dict[str, float]:
        """Share of pairs whose chosen log-prob fell between the first and last record, and the
        mean change of the chosen and rejected log-probs."""
        if len(self.steps) < 2:
            raise ValueError("need at least two records")
        dc = self.chosen[-1] - self.chosen[0]
        dr = self.rejected[-1] - self.rejected[0]
        return {
            "displaced_share": float(np.mean(dc < 0)),
            "chosen_change": float(dc.mean()),
            "rejected_change": float(dr.mean()),
        }


def ches_scores(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    length_normalized: bool = False,
    batch_size: int = 16,
    max_length: int = 512,
    max_prompt_length: int = 256,
) -> np.ndarray:
    """CHES score of every pair (in the order of :func:`~prefkit.align.pairs.text_pairs`)."""
    pairs = tokenize_pairs(tokenizer, text_pairs(dataset), max_length=max_length,
                           max_prompt_length=max_prompt_length)
    return ches_from_pairs(model, pairs, pad_id=_pad_id(tokenizer), batch_size=batch_size,
                           length_normalized=length_normalized)


def ches_from_pairs(model: Any, pairs: TokenPairs, *, pad_id: int, batch_size: int = 16,
                    length_normalized: bool = False) -> np.ndarray:
    res = pair_logps(model, pairs, pad_id=pad_id, batch_size=batch_size, hidden=True)
    hc, hr = res["chosen_hidden"].double(), res["rejected_hidden"].double()
    if length_normalized:
        hc = hc / res["chosen_lengths"].clamp(min=1)[:, None]
        hr = hr / res["rejected_lengths"].clamp(min=1)[:, None]
    return ((hc * hr).sum(-1) - (hc * hc).sum(-1)).numpy()


def filter_high_ches(dataset: Any, scores: Any, fraction: float = 0.1) -> Any:
    """``dataset`` without the ``fraction`` of pairs with the highest CHES scores.

    ``scores`` has one value per record of ``dataset`` (pairwise, no ties dropped).
    """
    scores = np.asarray(scores, dtype=float)
    if len(scores) != len(dataset):
        raise ValueError("one CHES score per record is needed")
    if not 0.0 <= fraction < 1.0:
        raise ValueError("fraction must lie in [0, 1)")
    n_drop = int(np.floor(fraction * len(scores)))
    keep = np.ones(len(scores), dtype=bool)
    if n_drop:
        keep[np.argsort(-scores, kind="stable")[:n_drop]] = False
    return dataset.filter(keep)


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad if pad is not None else tokenizer.eos_token_id)


def evaluate_policy(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    reference_model: Any | None = None,
    loss: str = "dpo",
    beta: float = 0.1,
    loss_params: dict[str, Any] | None = None,
    max_length: int = 512,
    max_prompt_length: int = 256,
    batch_size: int = 32,
) -> dict[str, float]:
    """``{"implicit_reward_accuracy", "ranking_accuracy", "loss", "n"}`` (+ idealized RA).

    Without a reference model (reference-free losses) implicit-reward accuracy uses the loss's
    own rewards.  A listwise ``loss`` (Plackett–Luce, LiPO) is judged by :func:`evaluate_lists`,
    KTO on rating records (unpaired examples) by :func:`evaluate_unpaired`.
    """
    spec = get_loss(loss)
    if spec.name == "kto" and getattr(dataset, "kind", None) == "rating":
        if reference_model is None:
            raise ValueError("KTO needs a reference model to evaluate")
        return evaluate_unpaired(model, tokenizer, dataset, reference_model=reference_model,
                                 beta=beta, loss_params=loss_params, max_length=max_length,
                                 max_prompt_length=max_prompt_length, batch_size=batch_size)
    if spec.kind == "listwise":
        if reference_model is None:
            raise ValueError(f"loss {loss!r} needs a reference model to evaluate")
        return evaluate_lists(model, tokenizer, dataset, reference_model=reference_model,
                              loss=loss, beta=beta, loss_params=loss_params,
                              max_length=max_length, max_prompt_length=max_prompt_length,
                              batch_size=batch_size)
    pairs_text = text_pairs(dataset, keep_ties="p" in spec.parameters)
    pairs = tokenize_pairs(tokenizer, pairs_text, max_length=max_length,
                           max_prompt_length=max_prompt_length)
    pad = _pad_id(tokenizer)
    pol = pair_logps(model, pairs, pad_id=pad, batch_size=batch_size)
    inputs: dict[str, Any] = {
        "policy_chosen_logps": pol["chosen"].double(),
        "policy_rejected_logps": pol["rejected"].double(),
        "chosen_lengths": pol["chosen_lengths"],
        "rejected_lengths": pol["rejected_lengths"],
        "p": torch.as_tensor(pairs.p, dtype=torch.float64),
    }
    result: dict[str, float] = {}
    if reference_model is not None:
        ref = pair_logps(reference_model, pairs, pad_id=pad, batch_size=batch_size)
        inputs["ref_chosen_logps"] = ref["chosen"].double()
        inputs["ref_rejected_logps"] = ref["rejected"].double()
        result["idealized_ranking_accuracy"] = idealized_ranking_accuracy(
            ref["chosen"].numpy(), ref["rejected"].numpy(), pairs.p, beta
        )
    elif spec.needs_reference:
        raise ValueError(f"loss {loss!r} needs a reference model to evaluate")
    params = dict(loss_params or {})
    if spec.name == "kto" and reference_model is not None and "z0" not in params:
        # KTO's reference point over the whole evaluation set, from mismatched pairs
        mis = mismatched_pairs(pairs)
        kl_pol = pair_logps(model, mis, pad_id=pad, batch_size=batch_size)
        kl_ref = pair_logps(reference_model, mis, pad_id=pad, batch_size=batch_size)
        diff = torch.cat([kl_pol["chosen"] - kl_ref["chosen"],
                          kl_pol["rejected"] - kl_ref["rejected"]]).double()
        params["z0"] = diff.mean().clamp(min=0)
    with torch.no_grad():
        out = spec(beta=beta, **params, **inputs)
    if reference_model is not None:
        acc = implicit_reward_accuracy(inputs["policy_chosen_logps"],
                                       inputs["policy_rejected_logps"],
                                       inputs["ref_chosen_logps"], inputs["ref_rejected_logps"])
    else:
        acc = float((out.chosen_rewards > out.rejected_rewards).double().mean())
    w = torch.as_tensor(pairs.weights, dtype=torch.float64)
    result.update({
        "implicit_reward_accuracy": acc,
        "ranking_accuracy": ranking_accuracy(pol["chosen"], pol["rejected"]),
        "loss": float((out.losses * w).sum() / w.sum()),
        "n": len(pairs),
    })
    return result


def evaluate_lists(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    reference_model: Any,
    loss: str = "plackett_luce",
    beta: float = 0.1,
    loss_params: dict[str, Any] | None = None,
    max_length: int = 512,
    max_prompt_length: int = 256,
    batch_size: int = 32,
) -> dict[str, float]:
    """A listwise run judged by its own objective: ``loss`` is the weighted mean listwise loss
    (Plackett–Luce or LiPO-λ) over the ranked lists of ``dataset`` (rankings with texts, or pairs
    grouped by prompt); the accuracies count the ordered pairs (ψ_i > ψ_j) of every list —
    implicit reward β·log π/π_ref and log π alone ranking y_i above y_j; ``n`` is the number of
    those pairs (what ``evaluate_policy`` reports on rank-broken pairs), ``lists`` the number of
    lists."""
    from prefkit.align.lists import list_logps, text_lists, to_grid, tokenize_lists

    spec = get_loss(loss)
    lists = tokenize_lists(tokenizer, text_lists(dataset), max_length=max_length,
                           max_prompt_length=max_prompt_length)
    pad = _pad_id(tokenizer)
    pol_flat = list_logps(model, lists, pad_id=pad, batch_size=batch_size).double()
    ref_flat = list_logps(reference_model, lists, pad_id=pad, batch_size=batch_size).double()
    sizes = torch.as_tensor(lists.sizes)
    mask = torch.arange(int(sizes.max()))[None, :] < sizes[:, None]
    labels = torch.zeros(mask.shape, dtype=torch.float64)
    for row, values in enumerate(lists.labels):
        labels[row, : len(values)] = torch.as_tensor(values, dtype=torch.float64)
    policy, ref = to_grid(pol_flat, mask), to_grid(ref_flat, mask)
    with torch.no_grad():
        out = spec(beta=beta, **(loss_params or {}), policy_logps=policy, ref_logps=ref,
                   labels=labels, mask=mask)
    better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    reward = policy - ref

    def concordance(score: torch.Tensor) -> float:
        return float((score[:, :, None] > score[:, None, :])[better].double().mean())

    w = torch.as_tensor(lists.weights, dtype=torch.float64)
    return {
        "implicit_reward_accuracy": concordance(reward),
        "ranking_accuracy": concordance(policy),
        "loss": float((out.losses.double() * w).sum() / w.sum()),
        "n": int(better.sum()),
        "lists": len(lists),
    }


def evaluate_unpaired(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    *,
    reference_model: Any,
    beta: float = 0.1,
    loss_params: dict[str, Any] | None = None,
    max_length: int = 512,
    max_prompt_length: int = 256,
    batch_size: int = 32,
) -> dict[str, float | None]:
    """KTO on unpaired examples (rating records with a desirable label,
    :mod:`prefkit.align.unpaired`).

    ``loss``: the weighted mean KTO loss with z0 estimated over the whole set from mismatched
    examples (x_j, y_{j−1}), as the trainer does per micro-batch; ``implicit_reward_accuracy``:
    the share of examples on their label's side of z0 (r > z0 for desirable, r < z0 for
    undesirable, r = log π/π_ref); ``ranking_accuracy``: over the (desirable, undesirable) pairs
    of responses to the same prompt, the share where log π ranks the desirable one higher (None
    when no prompt has both); ``n``: examples.
    """
    from prefkit.align.lists import TokenLists, list_logps, tokenize_lists
    from prefkit.align.losses import kto_loss
    from prefkit.align.unpaired import unpaired_examples

    lists = tokenize_lists(tokenizer, unpaired_examples(dataset), max_length=max_length,
                           max_prompt_length=max_prompt_length)
    pad = _pad_id(tokenizer)
    pol = list_logps(model, lists, pad_id=pad, batch_size=batch_size).double()
    ref = list_logps(reference_model, lists, pad_id=pad, batch_size=batch_size).double()
    desirable = torch.as_tensor([lab[0] > 0.5 for lab in lists.labels])
    params = dict(loss_params or {})
    z0 = params.pop("z0", None)
    if z0 is None:
        n = len(lists)
        rotated = TokenLists(list(lists.prompt_ids),
                             [lists.response_ids[(j - 1) % n] for j in range(n)],
                             lists.labels, lists.weights)
        kl = (list_logps(model, rotated, pad_id=pad, batch_size=batch_size)
              - list_logps(reference_model, rotated, pad_id=pad, batch_size=batch_size))
        z0 = kl.double().mean().clamp(min=0)
    z0_t = torch.as_tensor(z0, dtype=torch.float64)
    with torch.no_grad():
        out = kto_loss(pol, ref, desirable, z0=z0_t, beta=beta, **params)
    w = torch.as_tensor(lists.weights, dtype=torch.float64)
    r = pol - ref
    right_side = torch.where(desirable, r > z0_t, r < z0_t)
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    for i, ids in enumerate(lists.prompt_ids):
        by_prompt.setdefault(tuple(ids), []).append(i)
    wins = total = 0
    for members in by_prompt.values():
        good = [i for i in members if desirable[i]]
        bad = [i for i in members if not desirable[i]]
        for g in good:
            for b in bad:
                wins += int(pol[g] > pol[b])
                total += 1
    return {
        "implicit_reward_accuracy": float(right_side.double().mean()),
        "ranking_accuracy": wins / total if total else None,
        "loss": float((out.losses * w).sum() / w.sum()),
        "n": len(lists),
    }
