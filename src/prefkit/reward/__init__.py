"""Layer 4 — feature-level preference models: reward heads on frozen text embeddings and
fine-tuned transformer reward models.

==========================  ====================================================================
module                      contents
==========================  ====================================================================
``bradley_terry``           linear / MLP Bradley–Terry heads: margins, soft labels, label
                            smoothing, reward centring, Davidson ties
``ensemble``                K heads (seeds or bootstraps); mean / min / mean − λ·var rewards
``multi_objective``         ArmoRM: per-attribute regressions + prompt-conditioned gate
``gpm``                     general preference model: skew-symmetric 2k-d embeddings
``features``                :class:`PairFeatures`, ``attribute_columns`` (shared with plural)
``_train``                  the Adam loop and weight format of every torch head (reward, plural)
``regularization``          ``weight_decay="auto"``: decay chosen by CV by prompt
``model``                   :class:`RewardModel` = encoder + head (``prefkit.save``/``load``)
``transformer``             :class:`TransformerRewardModel`: fine-tuned HF sequence classifier
``rewardbench``             RewardBench-v1-style sections and RewardBench-2-style best-of-N
==========================  ====================================================================
"""

from prefkit.reward._train import TrainOptions, adam_fit
from prefkit.reward.base import FeatureHead
from prefkit.reward.bradley_terry import BradleyTerryHead, StackedScalar, pairwise_loss
from prefkit.reward.ensemble import AGGREGATIONS, EnsembleHead
from prefkit.reward.features import PairFeatures, attribute_columns, pair_features
from prefkit.reward.gpm import GeneralPreferenceHead, GPMHead
from prefkit.reward.loading import load_model
from prefkit.reward.model import HEADS, RewardModel, candidate_columns, make_head
from prefkit.reward.multi_objective import MultiObjectiveHead
from prefkit.reward.rewardbench import best_of_n, rewardbench_v1
from prefkit.reward.transformer import TransformerRewardModel

__all__ = [
    "AGGREGATIONS",
    "HEADS",
    "BradleyTerryHead",
    "EnsembleHead",
    "FeatureHead",
    "GPMHead",
    "GeneralPreferenceHead",
    "MultiObjectiveHead",
    "PairFeatures",
    "RewardModel",
    "StackedScalar",
    "TrainOptions",
    "TransformerRewardModel",
    "adam_fit",
    "attribute_columns",
    "best_of_n",
    "candidate_columns",
    "load_model",
    "make_head",
    "pair_features",
    "pairwise_loss",
    "rewardbench_v1",
]
