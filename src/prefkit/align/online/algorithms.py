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
Method-specific settings come from ``config.algo_params`` (``--algo-param KEY=VALUE``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

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
}

#: methods drawing exactly two completions per prompt (a pair), whatever ``group_size`` says
PAIRED: set[str] = {"online-dpo", "p3o", "egpo"}


def algorithm_names() -> tuple[str, ...]:
    """Every method ``--algo`` accepts, built-in first."""
    return BUILTIN + tuple(EXTRA)


def step_loss_function(name: str) -> Callable[..., Any]:
    """The step-loss function of a registered extra method (ValueError for unknown names)."""
    try:
        target = EXTRA[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r} (expected "
                         f"{', '.join(algorithm_names())})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
