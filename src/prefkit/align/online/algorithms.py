"""Registry of the online loop's per-step objectives.

The loop of :class:`~prefkit.align.online.trainer.OnlineTrainer` samples, labels and updates;
what differs between methods is the loss of one step.  The five built-in methods
(``online-dpo``, ``iterative-dpo``, ``sppo``, ``rloo``, ``grpo``) are handled by the trainer
itself; further methods register here as ``"name": "module:function"`` (imported lazily, so
``OnlineConfig.check`` needs no torch), where the function has the signature::

    def step_loss(trainer, rollout, ref_token_logps, record) -> torch.Tensor | None

``rollout`` holds ``samples_per_prompt(config)`` completions per prompt of the current policy
(token log-probs, masks, texts), ``ref_token_logps`` the reference policy's per-token log-probs
of the same completions, and ``record`` the step's diagnostics (add keys freely; the standard
ones are filled by the trainer).  Return ``None`` when the batch holds nothing to learn from.
Method-specific settings come from ``config.algo_params`` (``--algo-param KEY=VALUE``).  Each
method declares the keys it accepts in :data:`PARAMS` (kind, default, allowed values, see
:class:`~prefkit.align.online.params.Param`); ``OnlineConfig.check`` refuses any other key, a
value of the wrong kind or out of range before anything is written, and a step reads a setting
with :func:`~prefkit.align.online.params.param`.  The built-in methods take none.  A plug-in
registered with :func:`register_algorithm` may declare its settings too; without declarations
it accepts any keys (and checks them itself, e.g. with ``param(trainer, key, Param(...))``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from prefkit.align.online.params import AlgoParamError, Param, check_algo_params
from prefkit.align.online.transforms import PROCESS_SHAPINGS

#: methods the trainer runs itself
BUILTIN = ("online-dpo", "iterative-dpo", "sppo", "rloo", "grpo")

#: further methods: name → "module:function" of their step loss
EXTRA: dict[str, str] = {
    "hypo": "prefkit.align.online.hypo:step_loss",
    "gpo": "prefkit.align.online.gpo:step_loss",
    "nash-md": "prefkit.align.online.nash_md:step_loss",
    "spo": "prefkit.align.online.spo:step_loss",
    "apo": "prefkit.align.online.apo:step_loss",
    "egpo": "prefkit.align.online.egpo:step_loss",
    "p3o": "prefkit.align.online.p3o:step_loss",
    "pf-ppo": "prefkit.align.online.pf_ppo:step_loss",
    "fine-grained": "prefkit.align.online.fine_grained:step_loss",
    "constrained": "prefkit.align.online.constrained:step_loss",
    "brain": "prefkit.align.online.brain:step_loss",
    "spa": "prefkit.align.online.spa:step_loss",
}

_ESTIMATOR = "group advantages: GRPO's z-score or RLOO's leave-one-out"
_MIXTURE = Param("float", 0.125, "weight m of π_ref in the sampling mixture π_θ^(1−m)·π_ref^m",
                 ge=0.0, le=1.0)

#: the settings each method accepts (``--algo-param KEY=VALUE``); a method absent here (a
#: plug-in registered without declarations) accepts any keys
PARAMS: dict[str, dict[str, Param]] = {
    **{name: {} for name in BUILTIN},
    "hypo": {
        "pairs": Param("file", None, "pairwise preference file of offline pairs (default: two "
                       "reference samples per prompt, labelled once)"),
        "lam": Param("float", 1.0, "λ, the weight of the online KL", ge=0.0),
        "baseline": Param("str", "rloo", "baseline of the KL's REINFORCE gradient",
                          choices=("rloo", "none")),
    },
    "gpo": {
        "tau": Param("float", 1.0, "τ, the GPM temperature: s = τ·logit P", gt=0.0),
        "baseline": Param("float", 0.0, "centring c of the expected score"),
    },
    "nash-md": {"mixture": _MIXTURE},
    "spo": {
        "hard": Param("bool", False, "count wins (true) or sum preference probabilities"),
        "estimator": Param("str", "rloo", _ESTIMATOR, choices=("rloo", "grpo")),
    },
    "apo": {
        "alpha": Param("float", 0.3, "α, the Nesterov extrapolation of the reference", ge=0.0),
        "base": Param("str", "sppo", "the loss of an iteration", choices=("sppo", "dpo")),
    },
    "egpo": {
        "mixture": _MIXTURE,
        "extragradient": Param("bool", True, "take the extragradient half step"),
        "half_lr": Param("float", None, "γ of the half step (default: the learning rate)",
                         gt=0.0),
    },
    "p3o": {"clip": Param("str", "separate", "clipping of the pair's ratios",
                          choices=("separate", "joint"))},
    "pf-ppo": {
        "strategy": Param("str", "best-random", "which samples of a group to keep",
                          choices=("best-random", "best-worst", "best-of-n")),
        "k": Param("int", 1, "samples kept from each end", ge=1),
        "estimator": Param("str", "grpo", _ESTIMATOR, choices=("grpo", "rloo")),
    },
    "fine-grained": {
        "segment_reward": Param("strs", (), "segment reward functions module:function,…"),
        "segment_weights": Param("floats", None, "one weight per segment_reward (default 1)"),
        "segment_input": Param("str", "segment", "what the labeller scores without "
                               "segment_reward", choices=("segment", "prefix")),
        "shaping": Param("str", "none", "process-reward shaping", choices=PROCESS_SHAPINGS),
        "clip_eta": Param("float", 0.0, "η of Clip: min(r − η, 0)"),
        "outcome_weight": Param("float", 0.0, "weight of the whole completion's reward"),
        "delimiters": Param("str", ".!?\n", "characters that end a segment"),
    },
    "constrained": {
        "cost": Param("strs", ("length",), "costs: length, words, rm:DIR or module:function"),
        "cost_limit": Param("floats", None, "limit d per cost (default for length/words: "
                            "max_new_tokens / 2)"),
        "lambda_lr": Param("float", 0.05, "η_λ, the dual-ascent step", ge=0.0),
        "lambda_init": Param("float", 0.0, "λ before the first step", ge=0.0),
        "estimator": Param("str", "grpo", _ESTIMATOR, choices=("grpo", "rloo")),
    },
    "brain": {
        "good": Param("str", "exp", "goodness model p(G=1|x,y)", choices=("exp", "sigmoid")),
        "temperature": Param("float", 1.0, "τ of the goodness model", gt=0.0),
        "baseline": Param("bool", True, "subtract the self-normalised baseline"),
    },
    "spa": {
        "seed": Param("file", None, "pairwise preference file of human-labelled seed pairs "
                      "(default: two reference samples of seed_prompts prompts, labelled once)"),
        "seed_prompts": Param("int", 16, "prompts of the default seed", ge=1),
        "seed_steps": Param("int", 8, "DPO steps on the seed before self-labelling", ge=0),
        "extrapolation": Param("float", 1.0, "λ of the judge (1 + λ)·log π_θ − λ·log π_ref",
                               ge=0.0),
        "noise_fraction": Param("float", 0.1, "ρ, share of a batch's pairs taken as noisy",
                                ge=0.0, le=1.0),
        "refine": Param("str", "smooth", "label of a noisy pair", choices=("smooth", "flip",
                                                                          "none")),
    },
}

#: costs of ``constrained`` that need no ``cost_limit`` (default: max_new_tokens / 2)
BUILTIN_COSTS = ("length", "words")


def _pf_ppo_rule(values: dict[str, Any], config: Any) -> str | None:
    kept = values["k"] * (1 if values["strategy"] == "best-of-n" else 2)
    if kept > config.group_size:
        return (f"strategy={values['strategy']} with k={values['k']} keeps {kept} samples of "
                f"each group of group_size {config.group_size}")
    return None


def _fine_grained_rule(values: dict[str, Any], config: Any) -> str | None:
    functions, weights = values["segment_reward"], values["segment_weights"]
    if functions and weights is not None and len(weights) != len(functions):
        return f"{len(functions)} segment_reward functions but {len(weights)} segment_weights"
    return None


def _constrained_rule(values: dict[str, Any], config: Any) -> str | None:
    costs, limits = values["cost"] or ("length",), values["cost_limit"]
    if limits is None:
        missing = [c for c in costs if c not in BUILTIN_COSTS]
        return f"cost_limit=… is needed for cost {', '.join(missing)}" if missing else None
    if len(limits) not in (1, len(costs)):
        return f"{len(costs)} costs but {len(limits)} cost_limit values"
    return None


#: checks across a method's settings (and the run's): a problem in words, or None
RULES: dict[str, Callable[[dict[str, Any], Any], str | None]] = {
    "pf-ppo": _pf_ppo_rule,
    "fine-grained": _fine_grained_rule,
    "constrained": _constrained_rule,
    "spa": lambda values, config: (None if config.beta > 0 else
                                   "needs --beta > 0 (β of the implicit reward and of DPO)"),
}

#: methods drawing exactly two completions per prompt (a pair), whatever ``group_size`` says
PAIRED: set[str] = {"online-dpo", "p3o", "egpo"}


def algorithm_names() -> tuple[str, ...]:
    """Every method ``--algo`` accepts, built-in first."""
    return BUILTIN + tuple(EXTRA)


def declared_params(name: str) -> dict[str, Param] | None:
    """The settings method ``name`` accepts (``None``: undeclared, any key goes)."""
    return PARAMS.get(name)


def method_settings(config: Any) -> dict[str, Any]:
    """The run's method settings: every declared key with its checked value or its default
    (an undeclared plug-in: ``algo_params`` as given).  AlgoParamError, one line, for a key the
    method does not take, a value of the wrong kind or range, or settings that contradict."""
    declared = declared_params(config.algo)
    values = check_algo_params(config.algo, config.algo_params, declared)
    if declared is None:
        return values
    full = {key: values.get(key, spec.default) for key, spec in declared.items()}
    rule = RULES.get(config.algo)
    problem = rule(full, config) if rule is not None else None
    if problem:
        raise AlgoParamError(config.algo, problem)
    return full


def register_algorithm(name: str, target: str, *, params: dict[str, Param] | None = None,
                       paired: bool = False) -> None:
    """Register a plug-in method: ``target`` = ``"module:function"`` of its step loss,
    ``params`` its settings (``None``: accept any key), ``paired`` for two samples per prompt."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in method")
    if ":" not in target:
        raise ValueError(f"{target!r}: expected module:function")
    EXTRA[name] = target
    PARAMS.pop(name, None)
    if params is not None:
        PARAMS[name] = dict(params)
    PAIRED.discard(name)
    if paired:
        PAIRED.add(name)


def step_loss_function(name: str) -> Callable[..., Any]:
    """The step-loss function of a registered extra method (ValueError for unknown names)."""
    try:
        target = EXTRA[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r} (expected "
                         f"{', '.join(algorithm_names())})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
