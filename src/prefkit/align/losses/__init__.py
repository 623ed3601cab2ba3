"""Preference-optimisation losses as plain functions of sequence log-probabilities.

Every loss takes summed response log-probabilities (policy, and reference where the method has
one) plus lengths / labels where needed, and returns a :class:`LossOutput` of per-example losses
and chosen/rejected implicit rewards.  :func:`get_loss` looks a loss up by name; the returned
:class:`LossSpec` is called with keyword inputs and passes each function only what it accepts.

=================  ===========================================  ================================
name               function                                     paper
=================  ===========================================  ================================
dpo / sigmoid      :func:`~.dpo.dpo_loss`                       Rafailov et al. 2023
cdpo               :func:`~.dpo.cdpo_loss`                      Mitchell 2023
soft_dpo           :func:`~.dpo.soft_dpo_loss`                  soft-label DPO
robust / rdpo      :func:`~.robust.robust_dpo_loss`             Chowdhury et al. 2024
ipo                :func:`~.ipo.ipo_loss`                       Azar et al. 2023
hinge / slic       :func:`~.hinge.hinge_loss`                   Zhao et al. 2023
simpo              :func:`~.simpo.simpo_loss`                   Meng et al. 2024
orpo               :func:`~.orpo.orpo_loss`                     Hong et al. 2024
cpo                :func:`~.cpo.cpo_loss`                       Xu et al. 2024
kto                :func:`~.kto.kto_pair_loss` (paired form)    Ethayarajh et al. 2024
rpo                DPO + NLL (:func:`~.nll.add_nll`)            Pang et al. 2024
plackett_luce      :func:`~.listwise.plackett_luce_loss`        Rafailov et al. 2023 (App. A.3)
lipo               :func:`~.listwise.lipo_lambda_loss`          Liu et al. 2024
ln_dpo             :func:`~.ln_dpo.ln_dpo_loss`                 Ahrabian et al. 2024
tpo                :func:`~.tpo.tpo_loss`                       Saeidi et al. 2024
copg               :func:`~.copg.copg_loss`                     Flet-Berliac et al. 2024
sparsepo           :func:`~.sparsepo.sparsepo_loss` (seq.)      Christopoulou et al. 2024
rationale_dpo      :func:`~.rationale_dpo.rationale_dpo_loss`   Just et al. 2024
modpo              :func:`~.modpo.modpo_loss`                   Zhou et al. 2024
smpo               :func:`~.smpo.smpo_loss`                     SmPO-Diffusion 2025
ranklist           :func:`~.ranklist.ranklist_loss`             RankList 2025
pro                :func:`~.pro.pro_loss`                       Song et al. 2024
selm / vpo         :func:`~.selm.selm_loss`                     Zhang et al. 2024; Cen et al. 2024
lcpo / repo        :func:`~.lcpo.lcpo_loss` (EM weights)        LCPO / RE-PO 2025
dove / jpo         :func:`~.dove.dove_loss` (prompt per side)   Bansal et al. 2024
cut                :func:`~.cut.cut_token_loss` (per token)     Xu et al. 2023
=================  ===========================================  ================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefkit.align.curriculum import (  # data ordering; re-exported here for one release
    curriculum_order,
    curriculum_pairs,
    curriculum_stages,
)
from prefkit.align.losses._common import LossOutput
from prefkit.align.losses.copg import copg_loss
from prefkit.align.losses.cpo import cpo_loss
from prefkit.align.losses.cut import cut_token_loss
from prefkit.align.losses.dove import dove_loss
from prefkit.align.losses.dpo import cdpo_loss, dpo_loss, soft_dpo_loss
from prefkit.align.losses.hinge import hinge_loss
from prefkit.align.losses.ipo import ipo_loss
from prefkit.align.losses.kto import kto_loss, kto_pair_loss, kto_reference_point
from prefkit.align.losses.lcpo import lcpo_loss
from prefkit.align.losses.listwise import lambda_weights, lipo_lambda_loss, plackett_luce_loss
from prefkit.align.losses.ln_dpo import ln_dpo_loss
from prefkit.align.losses.modpo import modpo_loss
from prefkit.align.losses.nll import add_nll, nll_loss
from prefkit.align.losses.orpo import odds_ratio_term, orpo_loss
from prefkit.align.losses.pro import pro_loss
from prefkit.align.losses.ranklist import ranklist_loss
from prefkit.align.losses.rationale_dpo import rationale_dpo_loss
from prefkit.align.losses.robust import robust_dpo_loss
from prefkit.align.losses.selm import selm_loss
from prefkit.align.losses.simpo import simpo_loss
from prefkit.align.losses.smpo import preference_strength, smpo_loss
from prefkit.align.losses.sparsepo import sparsepo_loss, sparsepo_token_loss
from prefkit.align.losses.tpo import tpo_loss


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: the function, what it needs, and default hyper-parameters.

    ``kind`` is ``"pairwise"`` (chosen/rejected tensors of shape (B,)) or ``"listwise"``
    ((B, K) tensors).  Call it with keyword inputs and hyper-parameters; inputs the function does
    not accept are ignored, and ``nll_coef`` > 0 adds the NLL (RPO) term of the chosen response.
    """

    name: str
    fn: Callable[..., LossOutput]
    kind: str = "pairwise"
    needs_reference: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    nll_coef: float = 0.0

    @property
    def parameters(self) -> set[str]:
        return set(inspect.signature(self.fn).parameters)

    def __call__(self, *, nll_coef: float | None = None, **inputs: Any) -> LossOutput:
        accepted = self.parameters
        unknown_hparams = {
            k for k in inputs if k not in accepted and k not in INPUT_NAMES
        }
        if unknown_hparams:
            raise TypeError(f"loss {self.name!r} has no parameter(s) {sorted(unknown_hparams)}")
        kwargs = {**self.defaults, **{k: v for k, v in inputs.items() if k in accepted}}
        out = self.fn(**kwargs)
        coef = self.nll_coef if nll_coef is None else nll_coef
        if coef and self.kind == "pairwise":
            lengths = inputs.get("chosen_lengths")
            out = add_nll(out, inputs["policy_chosen_logps"], alpha=coef, chosen_lengths=lengths)
        return out


#: Names of data inputs a loss may take (anything else passed to a LossSpec is a hyper-parameter).
INPUT_NAMES = frozenset(
    {
        "policy_chosen_logps",
        "policy_rejected_logps",
        "ref_chosen_logps",
        "ref_rejected_logps",
        "chosen_lengths",
        "rejected_lengths",
        "p",
        "policy_logps",
        "ref_logps",
        "labels",
        "mask",
        "desirable",
        "reward_margin",
        "margin_chosen",
        "margin_rejected",
        "rationale_logps",
        "rationale_lengths",
        "gold_logps",
        "gold_lengths",
        "lengths",
        "sample_logps",
        "ref_sample_logps",
    }
)

_SPECS = [
    LossSpec("dpo", dpo_loss),
    LossSpec("cdpo", cdpo_loss),
    LossSpec("soft_dpo", soft_dpo_loss),
    LossSpec("robust", robust_dpo_loss),
    LossSpec("ipo", ipo_loss),
    LossSpec("hinge", hinge_loss),
    LossSpec("simpo", simpo_loss, needs_reference=False),
    LossSpec("orpo", orpo_loss, needs_reference=False),
    LossSpec("cpo", cpo_loss, needs_reference=False),
    LossSpec("kto", kto_pair_loss),
    LossSpec("rpo", dpo_loss, nll_coef=1.0),
    LossSpec("plackett_luce", plackett_luce_loss, kind="listwise"),
    LossSpec("lipo", lipo_lambda_loss, kind="listwise"),
    LossSpec("ln_dpo", ln_dpo_loss),
    LossSpec("tpo", tpo_loss, needs_reference=False),
    LossSpec("copg", copg_loss),
    LossSpec("sparsepo", sparsepo_loss),
    LossSpec("rationale_dpo", rationale_dpo_loss),
    LossSpec("modpo", modpo_loss),
    LossSpec("smpo", smpo_loss),
    LossSpec("ranklist", ranklist_loss, kind="listwise"),
    LossSpec("pro", pro_loss, kind="listwise", needs_reference=False),
    LossSpec("selm", selm_loss),
    LossSpec("dove", dove_loss),
    LossSpec("lcpo", lcpo_loss),
    LossSpec("cut", cut_token_loss, kind="token", needs_reference=False),  # per-token (cut.py)
]
LOSSES: dict[str, LossSpec] = {spec.name: spec for spec in _SPECS}
ALIASES: dict[str, str] = {
    "sigmoid": "dpo",
    "rdpo": "robust",
    "slic": "hinge",
    "pl": "plackett_luce",
    "lipo_lambda": "lipo",
    "lndpo": "ln_dpo",
    "rationale": "rationale_dpo",
    "vpo": "selm",
    "jpo": "dove",
    "repo": "lcpo",
    "re_po": "lcpo",
}


def get_loss(name: str) -> LossSpec:
    """The registered loss called ``name`` (case-insensitive; aliases such as ``sigmoid``)."""
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LOSSES:
        known = ", ".join(sorted({*LOSSES, *ALIASES}))
        raise KeyError(f"unknown loss {name!r} (known: {known})")
    return LOSSES[key]


def loss_names() -> list[str]:
    return sorted(LOSSES)


def register_loss(spec: LossSpec) -> LossSpec:
    """Add a loss to the registry (it replaces one of the same name)."""
    LOSSES[spec.name] = spec
    return spec


__all__ = [
    "ALIASES",
    "LOSSES",
    "LossOutput",
    "LossSpec",
    "add_nll",
    "cdpo_loss",
    "copg_loss",
    "cpo_loss",
    "curriculum_order",
    "curriculum_pairs",
    "curriculum_stages",
    "dove_loss",
    "dpo_loss",
    "get_loss",
    "hinge_loss",
    "ipo_loss",
    "kto_loss",
    "kto_pair_loss",
    "kto_reference_point",
    "lambda_weights",
    "lcpo_loss",
    "lipo_lambda_loss",
    "ln_dpo_loss",
    "loss_names",
    "modpo_loss",
    "nll_loss",
    "odds_ratio_term",
    "orpo_loss",
    "plackett_luce_loss",
    "preference_strength",
    "pro_loss",
    "ranklist_loss",
    "rationale_dpo_loss",
    "register_loss",
    "robust_dpo_loss",
    "selm_loss",
    "simpo_loss",
    "smpo_loss",
    "soft_dpo_loss",
    "sparsepo_loss",
    "sparsepo_token_loss",
    "tpo_loss",
]
