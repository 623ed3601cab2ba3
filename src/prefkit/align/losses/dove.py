"""DOVE / JPO: joint preference optimisation over (instruction, response) pairs.

Bansal et al. 2024, "Comparing Bad Apples to Good Oranges: Aligning Large Language Models via
Joint Preference Optimization" (the method was first called JPO, later DOVE).  Preferences are
elicited over whole (instruction, response) pairs, so the preferred pair (x_w, y_w) and the
other one (x_l, y_l) may have *different* instructions.  DOVE raises the conditional likelihood of
the chosen pair relative to the rejected pair, each against the reference under its own prompt:

    h_DOVE = log π(y_w|x_w)/π_ref(y_w|x_w) − log π(y_l|x_l)/π_ref(y_l|x_l),
    L_DOVE = −log σ(β·h_DOVE).

With x_w = x_l this is DPO.  The formula is DPO's; what differs is where the log-probabilities
come from, so the loss is a function of the four summed log-probabilities like every other loss
here and the data plumbing carries the prompts.

**In prefkit.** ``--loss dove`` (alias ``jpo``) trains through
:class:`~prefkit.align.objectives.joint.JointObjective`: a pairwise record's response ``a_text`` is
conditioned on ``a_prompt`` and ``b_text`` on ``b_prompt``; a side without its own prompt column
(or with a null value) uses the shared ``prompt``.  So ordinary single-prompt data train exactly
as DPO, and cross-prompt comparisons ("a good answer to question 1 beats a bad answer to
question 2") need only the extra column(s).
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput
from prefkit.align.losses.dpo import dpo_loss


def dove_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
) -> LossOutput:
    """Per-pair DOVE loss −log σ(β·h_DOVE).

    ``policy_chosen_logps`` / ``ref_chosen_logps`` are log π(y_w|x_w) under the chosen pair's own
    prompt x_w and ``policy_rejected_logps`` / ``ref_rejected_logps`` are log π(y_l|x_l) under
    x_l (see the module docstring); the rewards are β × each side's log-ratio.
    """
    return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                    ref_rejected_logps, beta=beta)
