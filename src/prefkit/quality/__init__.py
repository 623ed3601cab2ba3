"""Preference data quality (issue #16): annotator reliability, what drives the preferences, and
what to label next.

* :class:`~prefkit.quality.crowd_bt.CrowdBT` — items and annotator reliabilities η by EM;
* :class:`~prefkit.quality.dawid_skene.DawidSkene` — per-annotator confusion over {a, b, tie};
* :func:`~prefkit.quality.heldout.heldout_agreement` — against majority vote on held-out labels;
* :func:`~prefkit.quality.drivers.drivers_report` — property effects and length bias;
* :func:`~prefkit.quality.active.propose` — the pairs to label next;
* :func:`~prefkit.quality.simulate.simulate_annotators` — simulated annotators with known η;
* :func:`~prefkit.quality.duplicates.find_duplicates` — exact / near-duplicate texts and leaks;
* :func:`~prefkit.quality.active_rm.propose_records` — records a reward-model ensemble disagrees
  about most;
* :func:`~prefkit.quality.report.build_report` / ``write_report`` — ``quality.json`` + figures;
* :func:`~prefkit.quality.bayes_logistic.fit_laplace` — Bayesian logistic regression (Laplace);
* :func:`~prefkit.quality.hierarchical.fit_hierarchical` — per-group effects, partially pooled;
* :func:`~prefkit.quality.controlled.controlled_comparison` — item strengths with style held fixed;
* :func:`~prefkit.quality.rm_flips.detect_flips_rm` — flipped labels by a cross-fitted reward-model
  ensemble (:mod:`~prefkit.quality.rm_features`: the stronger one, embeddings + style + item
  columns); :func:`~prefkit.quality.repair_eval.heldout_repair_accuracy` — does repair help;
* :func:`~prefkit.quality.identification.identification` — how well η is identified.

The modules from ``duplicates`` on are imported from their modules (some need the ``quality``
extra or torch).
"""

from prefkit.quality.active import propose
from prefkit.quality.crowd_bt import CrowdBT
from prefkit.quality.dawid_skene import DawidSkene
from prefkit.quality.drivers import drivers_report
from prefkit.quality.heldout import heldout_agreement
from prefkit.quality.simulate import simulate_annotators

__all__ = ["CrowdBT", "DawidSkene", "drivers_report", "heldout_agreement", "propose",
           "simulate_annotators"]
