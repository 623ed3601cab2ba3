"""The bottom layer: plumbing every other layer may use.

* :mod:`prefkit.core.atomic` — atomic file and directory writes that never delete what prefkit
  did not write;
* :mod:`prefkit.core.progress` — progress bars (rich on a terminal, plain lines in logs);
* :mod:`prefkit.core.mathfn` — sigmoid helpers (scipy);
* :mod:`prefkit.core.limits` — bounds on untrusted input, safe config reading;
* :mod:`prefkit.core.estimator` — the one model contract (a scikit-learn ``BaseEstimator``);
* :mod:`prefkit.core.persist` / :mod:`prefkit.core.registry` — one directory format, one
  ``save`` / ``load`` for every model.

Nothing here imports a higher prefkit layer (the registry names higher modules only as strings,
imported on demand by :func:`prefkit.core.persist.load`).
"""
