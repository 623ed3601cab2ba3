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
``regression``              ridge regression on ratings; ratings → scaled-BT pairs and refinement
                            (HelpSteer2-Preference)
``more``                    MORE: min-norm (MGDA) weighting of per-data-set BT losses
``crm``                     CRM: two linear BT heads that co-teach (small-loss pair selection)
``few_shot_context``        FSPO: a user's labelled pairs serialised into the prompt
``heron``                   HERON hierarchical labels (most important factor first)
``reward_augmented``        reward-augmented relabelling of preference pairs
``conditional``             conditional-training control tags and the tag-contrast reward
``scorer``                  preference-free scorers on the prediction contract
``flr``                     FLR: follow-up likelihood as reward on any causal LM
``density_ratio``           CDR: strong-over-weak density-ratio reward
``relevance_reward``        R³: regularised prompt–response relevance reward
==========================  ====================================================================
"""

from prefkit.reward._train import TrainOptions, adam_fit
from prefkit.reward.base import FeatureHead
from prefkit.reward.bradley_terry import BradleyTerryHead, StackedScalar, pairwise_loss
from prefkit.reward.conditional import ControlTagReward, conditional_records, tagged_prompt
from prefkit.reward.crm import CRMRewardModel
from prefkit.reward.ensemble import AGGREGATIONS, EnsembleHead
from prefkit.reward.features import PairFeatures, attribute_columns, pair_features
from prefkit.reward.few_shot_context import few_shot_pairs, few_shot_prompt
from prefkit.reward.gpm import GeneralPreferenceHead, GPMHead
from prefkit.reward.heron import heron_compare, heron_labels
from prefkit.reward.loading import load_model
from prefkit.reward.model import HEADS, RewardModel, candidate_columns, make_head
from prefkit.reward.more import MORERewardModel, min_norm_weights
from prefkit.reward.multi_objective import MultiObjectiveHead
from prefkit.reward.regression import RegressionRewardModel, scaled_bt_pairs
from prefkit.reward.relevance_reward import RelevanceReward
from prefkit.reward.reward_augmented import goal_prompt, reward_augmented_pairs
from prefkit.reward.rewardbench import best_of_n, rewardbench_v1
from prefkit.reward.scorer import TextScorer
from prefkit.reward.transformer import TransformerRewardModel

__all__ = [
    "AGGREGATIONS",
    "HEADS",
    "BradleyTerryHead",
    "CRMRewardModel",
    "ControlTagReward",
    "EnsembleHead",
    "FeatureHead",
    "GPMHead",
    "GeneralPreferenceHead",
    "MORERewardModel",
    "MultiObjectiveHead",
    "PairFeatures",
    "RegressionRewardModel",
    "RelevanceReward",
    "RewardModel",
    "StackedScalar",
    "TextScorer",
    "TrainOptions",
    "TransformerRewardModel",
    "adam_fit",
    "attribute_columns",
    "best_of_n",
    "candidate_columns",
    "conditional_records",
    "few_shot_pairs",
    "few_shot_prompt",
    "goal_prompt",
    "heron_compare",
    "heron_labels",
    "load_model",
    "make_head",
    "min_norm_weights",
    "pair_features",
    "pairwise_loss",
    "reward_augmented_pairs",
    "rewardbench_v1",
    "scaled_bt_pairs",
    "tagged_prompt",
]
