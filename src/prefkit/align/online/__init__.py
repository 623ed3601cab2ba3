"""Online preference optimisation: the policy samples, a labeller scores, the policy learns.

* :mod:`.sampling` — batched, seeded generation with per-token log-probabilities;
* :mod:`.labellers` (+ :mod:`.remote`) — reward models, ensembles (mean / WCO / UWO), pairwise
  preference models and judges, OpenRLHF ``/get_reward`` servers and Python functions behind
  one interface;
* algorithms, one module each: :mod:`.online_dpo`, :mod:`.iterative_dpo`, :mod:`.sppo`,
  :mod:`.rloo`, :mod:`.grpo`; KL estimators :mod:`.kl`; reward transforms :mod:`.transforms`;
* :mod:`.trainer` — the loop, diagnostics, checkpoints and exact resume;
* :mod:`.overopt` — over-optimisation measurement (best-of-N and online runs, gold vs proxy).
"""

from prefkit.align.online.config import ALGORITHMS, OnlineConfig
from prefkit.align.online.labellers import (
    EnsembleLabeller,
    FunctionLabeller,
    Labeller,
    LabellerError,
    PreferenceModelLabeller,
    RewardModelLabeller,
    as_labeller,
)
from prefkit.align.online.remote import RemoteRewardLabeller

__all__ = [
    "ALGORITHMS",
    "EnsembleLabeller",
    "FunctionLabeller",
    "Labeller",
    "LabellerError",
    "OnlineConfig",
    "PreferenceModelLabeller",
    "RemoteRewardLabeller",
    "RewardModelLabeller",
    "as_labeller",
]
