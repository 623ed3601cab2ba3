"""Layer 5 — user-aware (pluralistic, personalized) preference models.

=====================  ========================================================================
module                 contents
=====================  ========================================================================
``mixture``            :class:`BradleyTerryMixture`, :class:`PlackettLuceMixture` — latent
                       classes of users, EM, ``n_components="auto"`` by BIC or held-out likelihood
``covariates``         :class:`CovariateBradleyTerry` — θ_i + x_user·β_i (Topmodel2007, CEMS)
``maxmin``             :class:`MaxMinRLHF` — EM mixture of reward heads, max-min aggregation
``pal_a`` / ``pal_b``  :class:`PALA` (ideal points), :class:`PALB` (mixture of prototypes)
``vpl``                :class:`VPL` — variational user latent from a few labelled pairs
``micro``              :class:`MiCRo` — mixture of heads with context/user routing
``adapt``              :func:`few_shot_curve`, :func:`support_query` — new users from k pairs
``aggregate``          utilitarian / egalitarian scores, annotator label distributions
``metrics``            per-user and worst-group accuracy, group recovery (ARI), calibration
                       against annotator disagreement
=====================  ========================================================================

Every model is a :class:`prefkit.core.estimator.PreferenceEstimator`: ``fit(dataset) -> self``;
``predict_proba(dataset)`` (the record's ``user_id`` picks the person, unknown users get the
population / mixture-marginal prediction); ``adapt(dataset)`` (a copy that also knows new users,
fitted on their records only); ``prefkit.save(model, dir)`` / ``prefkit.load(dir)`` (the one
format of :mod:`prefkit.core.persist`, no pickle; 0.1 directories still load).
Feature-level models (torch) take features from ``a_<name>``/``b_<name>`` columns, an
``encoder`` with ``encode(texts)``, or ``features=(fa, fb[, fx])`` arrays.
"""

from prefkit.plural._base import load, user_labels
from prefkit.plural.adapt import few_shot_curve, support_query
from prefkit.plural.aggregate import (
    aggregate_scores,
    annotator_distribution,
    soft_label_log_loss,
)
from prefkit.plural.covariates import CovariateBradleyTerry, user_covariate_columns
from prefkit.plural.metrics import (
    anonymous,
    disagreement_calibration,
    group_recovery,
    per_user_accuracy,
    worst_group_accuracy,
)
from prefkit.plural.mixture import BradleyTerryMixture, FewUsersWarning, PlackettLuceMixture

__all__ = [
    "MODELS",
    "BradleyTerryMixture",
    "CovariateBradleyTerry",
    "FewUsersWarning",
    "PlackettLuceMixture",
    "aggregate_scores",
    "annotator_distribution",
    "anonymous",
    "disagreement_calibration",
    "few_shot_curve",
    "group_recovery",
    "load",
    "per_user_accuracy",
    "soft_label_log_loss",
    "support_query",
    "user_covariate_columns",
    "user_labels",
    "worst_group_accuracy",
]

try:  # feature-level models need torch
    from prefkit.plural.maxmin import MaxMinRLHF
    from prefkit.plural.micro import MiCRo
    from prefkit.plural.pal_a import PALA
    from prefkit.plural.pal_b import PALB
    from prefkit.plural.vpl import VPL
except ImportError:  # pragma: no cover - torch missing
    pass
else:
    __all__ += ["PALA", "PALB", "VPL", "MaxMinRLHF", "MiCRo"]

#: Model names used by the command line.
MODELS: dict[str, str] = {
    "mixture": "PlackettLuceMixture",
    "bt-mixture": "BradleyTerryMixture",
    "covariates": "CovariateBradleyTerry",
    "maxmin": "MaxMinRLHF",
    "pal-a": "PALA",
    "pal-b": "PALB",
    "vpl": "VPL",
    "micro": "MiCRo",
}
