"""Hyper-parameters of an alignment run (:class:`AlignConfig`) and what a resume may change.

A run directory records its configuration (``align_config.json`` and each checkpoint's
``state.json``).  ``--resume`` continues a run only under the same optimisation problem:
:func:`resume_differences` sorts every differing field into

* **refused** — the loss, its hyper-parameters, the optimiser, the data order or the model
  (``loss``, ``beta``, ``loss_params``, ``learning_rate``, ``batch_size``, ``seed``, LoRA …):
  the resumed steps would silently optimise something else;
* **warned** — ``bf16`` and ``packing``: the same objective, other floating-point round-off;
* **allowed** — ``max_steps`` (extending a run is what resume is for), ``save_every``,
  ``device``, ``ref_batch_size``: no effect on the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AlignConfig:
    """Hyper-parameters of :class:`~prefkit.align.trainer.AlignTrainer` (all JSON-serialisable)."""

    loss: str = "dpo"
    beta: float = 0.1
    loss_params: dict[str, Any] = field(default_factory=dict)
    nll_coef: float | None = None  # None: the loss's own default (1.0 for "rpo", else 0)
    learning_rate: float = 1e-5
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    max_steps: int = 100
    max_length: int = 512
    max_prompt_length: int = 256
    seed: int = 0
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_target_modules: list[str] | None = None
    bf16: bool = False
    device: str | None = None
    save_every: int = 0
    ref_batch_size: int = 32
    keep_ties: bool | None = None  # None: keep ties (p = ½) only for soft-label losses
    packing: bool = False  # one padding-free row per micro-batch (position_ids restart at 0)
    kto_z0: str = "mismatched"  # KTO reference point: "mismatched" (paper) or "batch" (cheap)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlignConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def check(self) -> None:
        """Raise ValueError on settings no run can use."""
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be ≥ 1")
        if self.kto_z0 not in ("mismatched", "batch"):
            raise ValueError(f"kto_z0 must be 'mismatched' or 'batch', got {self.kto_z0!r}")


#: fields a resumed run may change without any effect on its result
RESUME_FREE = frozenset({"max_steps", "save_every", "device", "ref_batch_size"})
#: fields that change only floating-point round-off (a warning on resume)
RESUME_WARN = frozenset({"bf16", "packing"})


def resume_differences(
    saved: dict[str, Any], current: AlignConfig
) -> tuple[list[str], list[str]]:
    """(refused, warned): descriptions ``name saved → current`` of the fields in which a
    checkpoint's saved configuration differs from ``current`` (see the module docstring)."""
    now = current.to_dict()
    defaults = AlignConfig().to_dict()
    refused, warned = [], []
    for name in now:
        if name in RESUME_FREE:
            continue
        before = saved.get(name, defaults[name])
        if _same(before, now[name]):
            continue
        text = f"{name} {before!r} → {now[name]!r}"
        (warned if name in RESUME_WARN else refused).append(text)
    return refused, warned


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return bool(a == b)
