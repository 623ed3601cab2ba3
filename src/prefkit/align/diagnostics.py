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
from prefkit.align.pairs import TokenPairs, pair_logps, text_pairs, tokenize_pairs
from prefkit.core.mathfn import logit


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
    return np.asarray(ref_chosen, float) - np.asarray(ref_rejected, float) + logit(p) / beta


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


def _objective(loss: str, beta: float, loss_params: dict[str, Any] | None, max_length: int,
               max_prompt_length: int, batch_size: int, dataset: Any | None) -> Any:
    """The training objective of ``loss`` on ``dataset``, set up for an evaluation."""
    from prefkit.align.config import AlignConfig
    from prefkit.align.objectives import make_objective

    config = AlignConfig(loss=loss, beta=beta, loss_params=dict(loss_params or {}),
                         max_length=max_length, max_prompt_length=max_prompt_length,
                         ref_batch_size=batch_size)
    return make_objective(get_loss(loss), config, dataset)


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
) -> dict[str, Any]:
    """``{"implicit_reward_accuracy", "ranking_accuracy", "loss", "n"}`` (+ idealized RA),
    computed by the training objective of ``loss`` on ``dataset``
    (:mod:`prefkit.align.objectives`): pairs are judged by the pairwise loss (without a
    reference model, reference-free losses use their own rewards; KTO takes z0 over the whole
    set), a listwise run by its own listwise loss (:func:`evaluate_lists`), KTO on rating
    records by the unpaired KTO loss (:func:`evaluate_unpaired`).
    """
    objective = _objective(loss, beta, loss_params, max_length, max_prompt_length, batch_size,
                           dataset)
    return objective.evaluate(model, tokenizer, dataset, reference_model=reference_model)


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
) -> dict[str, Any]:
    """A listwise run judged by its own objective (:class:`~prefkit.align.objectives.
    ListwiseObjective`): ``loss`` is the weighted mean listwise loss (Plackett–Luce or LiPO-λ)
    over the ranked lists of ``dataset``; the accuracies count the ordered pairs (ψ_i > ψ_j) of
    every list — implicit reward β·log π/π_ref and log π alone ranking y_i above y_j; ``n`` is
    the number of those pairs, ``lists`` the number of lists."""
    from prefkit.align.objectives import ListwiseObjective

    objective = _objective(loss, beta, loss_params, max_length, max_prompt_length, batch_size,
                           None)
    if not isinstance(objective, ListwiseObjective):
        raise ValueError(f"{loss!r} is not a listwise loss")
    return objective.evaluate(model, tokenizer, dataset, reference_model=reference_model)


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
) -> dict[str, Any]:
    """KTO on unpaired examples (rating records with a desirable label), judged by
    :class:`~prefkit.align.objectives.UnpairedKTO`: the weighted mean KTO loss with z0 over
    the whole set, the share of examples on their label's side of z0, and the ranking accuracy
    over (desirable, undesirable) responses to the same prompt (None when no prompt has both).
    """
    from prefkit.align.objectives import UnpairedKTO

    objective = _objective("kto", beta, loss_params, max_length, max_prompt_length, batch_size,
                           None)
    return UnpairedKTO(objective.spec, objective.config).evaluate(
        model, tokenizer, dataset, reference_model=reference_model)
