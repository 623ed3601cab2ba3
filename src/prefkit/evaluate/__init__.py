"""Layer 7 — metrics: one set of numbers for every model that answers ``predict_proba``.

=====================  ========================================================================
module                 contents
=====================  ========================================================================
``classification``     :func:`accuracy` (explicit tie policy), :func:`log_loss` (soft labels),
                       :func:`brier_score`, :func:`log_loss_3way`
``calibration``        :func:`reliability_diagram`, :func:`expected_calibration_error`
                       (a/b-symmetric by default: the order of a and b does not matter)
``rank_correlation``   :func:`kendall_tau`, :func:`spearman_rho`, :func:`order_to_scores`
``listwise``           :func:`ranking_exact_match`, :func:`ranking_pairwise_accuracy`
``agreement``          :func:`cohen_kappa`, :func:`krippendorff_alpha`, :func:`reliability_matrix`
``groups``             :func:`per_group`, :func:`worst_group`
``evaluate``           :func:`evaluate`, :func:`pairwise_metrics`
=====================  ========================================================================
"""

from prefkit.evaluate._inputs import as_p_a, outcome_labels
from prefkit.evaluate.agreement import cohen_kappa, krippendorff_alpha, reliability_matrix
from prefkit.evaluate.calibration import (
    ReliabilityDiagram,
    expected_calibration_error,
    reliability_diagram,
)
from prefkit.evaluate.classification import (
    TIE_POLICIES,
    accuracy,
    brier_score,
    log_loss,
    log_loss_3way,
)
from prefkit.evaluate.evaluate import (
    PreferenceModel,
    UndefinedMetricWarning,
    evaluate,
    pairwise_metrics,
    predict_outcome_proba,
)
from prefkit.evaluate.groups import HIGHER_IS_BETTER, per_group, worst_group
from prefkit.evaluate.listwise import ranking_exact_match, ranking_pairwise_accuracy
from prefkit.evaluate.rank_correlation import (
    ConstantScoresWarning,
    kendall_tau,
    order_to_scores,
    spearman_rho,
)

__all__ = [
    "HIGHER_IS_BETTER",
    "TIE_POLICIES",
    "ConstantScoresWarning",
    "PreferenceModel",
    "ReliabilityDiagram",
    "UndefinedMetricWarning",
    "accuracy",
    "as_p_a",
    "brier_score",
    "cohen_kappa",
    "evaluate",
    "expected_calibration_error",
    "kendall_tau",
    "krippendorff_alpha",
    "log_loss",
    "log_loss_3way",
    "order_to_scores",
    "outcome_labels",
    "pairwise_metrics",
    "per_group",
    "predict_outcome_proba",
    "ranking_exact_match",
    "ranking_pairwise_accuracy",
    "reliability_diagram",
    "reliability_matrix",
    "spearman_rho",
    "worst_group",
]
