"""Hyper-parameters of an online run (:class:`OnlineConfig`) and what a resume may change.

A resume is refused (one line naming each difference) when anything but ``max_steps``,
``save_every`` or ``progress`` differs: the resumed steps would sample other prompts, another
number of completions, or optimise another objective.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prefkit.align.online.algorithms import PAIRED, algorithm_names, method_settings

#: every method ``--algo`` accepts (the five built in, then the registered extras)
ALGORITHMS = algorithm_names()
#: fields a resume may change
RESUMABLE = frozenset({"max_steps", "save_every"})


@dataclass
class OnlineConfig:
    """Settings of :class:`~prefkit.align.online.trainer.OnlineTrainer` (JSON-serialisable).

    ``beta`` is the KL coefficient of RLOO/GRPO and the β of the DPO losses; ``group_size`` the
    completions per prompt (online DPO always draws 2); ``kl_estimator``/``kl_in`` default to
    the methods' own choices (RLOO: k1 in the reward; GRPO: k3 in the loss).
    """

    algo: str = "grpo"
    loss: str = "dpo"
    loss_params: dict[str, Any] = field(default_factory=dict)
    beta: float = 0.05
    group_size: int = 4
    prompts_per_step: int = 4
    max_new_tokens: int = 24
    temperature: float = 1.0
    top_k: int = 0
    learning_rate: float = 1e-3
    max_steps: int = 100
    max_grad_norm: float | None = 1.0
    weight_decay: float = 0.0
    seed: int = 0
    kl_estimator: str | None = None
    kl_in: str | None = None
    epsilon: float = 0.2
    scale_rewards: str = "group"
    normalize_advantages: bool = False
    transform: str = "none"
    per_prompt_norm: bool = False
    length_penalty: float = 0.0
    free_tokens: int = 0
    eta: float = 1.0
    refresh_every: int = 0
    steps_per_round: int = 8
    round_prompts: int = 16
    save_every: int = 0
    #: settings of the method, as declared in :data:`.algorithms.PARAMS` (``--algo-param``)
    algo_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OnlineConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def kl_est(self) -> str:
        return self.kl_estimator or ("k1" if self.algo == "rloo" else "k3")

    @property
    def kl_place(self) -> str:
        return self.kl_in or ("loss" if self.algo == "grpo" else "reward")

    @property
    def samples_per_prompt(self) -> int:
        return 2 if self.algo in PAIRED else self.group_size

    def check(self) -> None:
        """ValueError (one line) for settings that cannot run; an ``algo_params`` key the method
        does not declare, a value of the wrong kind or range, or settings that contradict (e.g.
        pf-ppo keeping more samples than ``group_size``) is an ``AlgoParamError`` (a DataError
        naming ``--algo-param``, the method and the key)."""
        from prefkit.align.online.grpo import SCALES
        from prefkit.align.online.kl import ESTIMATORS, PLACEMENTS
        from prefkit.align.online.transforms import TRANSFORMS

        if self.algo not in algorithm_names():
            raise ValueError(f"unknown algorithm {self.algo!r} (expected "
                             f"{', '.join(algorithm_names())})")
        method_settings(self)
        if self.samples_per_prompt < 2:
            raise ValueError(f"{self.algo} needs group_size ≥ 2 completions per prompt")
        for name in ("prompts_per_step", "max_new_tokens", "max_steps", "steps_per_round",
                     "round_prompts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1")
        if self.beta < 0 or self.learning_rate <= 0 or self.temperature <= 0:
            raise ValueError("beta must be ≥ 0, learning_rate and temperature > 0")
        if self.kl_est not in ESTIMATORS or self.kl_place not in PLACEMENTS:
            raise ValueError(f"kl_estimator must be one of {ESTIMATORS}, kl_in one of "
                             f"{PLACEMENTS}")
        if self.scale_rewards not in SCALES:
            raise ValueError(f"scale_rewards must be one of {', '.join(SCALES)}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}")
        if self.algo in ("online-dpo", "iterative-dpo"):
            from prefkit.align.losses import get_loss

            spec = get_loss(self.loss)
            if spec.kind != "pairwise":
                raise ValueError(f"{self.algo} takes a pairwise loss, {self.loss!r} is "
                                 f"{spec.kind}")


def resume_differences(saved: dict[str, Any], config: OnlineConfig) -> list[str]:
    """``name old → new`` for every setting that differs and may not change on resume."""
    now = config.to_dict()
    return [f"{k} {saved.get(k)!r} → {now[k]!r}" for k in now
            if k not in RESUMABLE and saved.get(k) != now[k]]
