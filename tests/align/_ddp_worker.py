"""Worker of ``test_distributed.py``: train the tiny model under torchrun (one process each).

    python -m torch.distributed.run --standalone --nproc_per_node 2 _ddp_worker.py TINY OUT

Runs every configuration of ``RUNS`` in turn, each into ``OUT/<name>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefkit.align.trainer import AlignConfig, AlignTrainer

BASE = {"beta": 0.1, "learning_rate": 5e-4, "max_steps": 3, "batch_size": 4, "device": "cpu",
        "save_every": 1}
RUNS: dict[str, dict[str, Any]] = {
    "dpo": {**BASE, "loss": "dpo", "grad_accum": 2},  # accumulation: no_sync on micro-batch 1
    "kto": {**BASE, "loss": "kto", "packing": True, "max_steps": 2, "learning_rate": 2.5e-4},
    "pl": {**BASE, "loss": "plackett_luce", "max_steps": 2, "learning_rate": 1e-4},  # lists
    # unpaired KTO (one-response lists, mismatched z0 over the shards)
    "kto_unpaired": {**BASE, "loss": "kto", "max_steps": 2, "learning_rate": 2.5e-4},
}
#: examples per run's dataset
SIZES = {"dpo": 16, "kto": 16, "pl": 8, "kto_unpaired": 32}


def run_name(trainer: AlignTrainer) -> str:
    if trainer.unpaired:
        return "kto_unpaired"
    return {"dpo": "dpo", "kto": "kto", "plackett_luce": "pl"}[trainer.config.loss]


def dataset(name: str) -> Any:
    from prefkit.align.lists import synthetic_rankings
    from prefkit.align.tiny import synthetic_preferences, synthetic_unpaired

    if name == "pl":
        return synthetic_rankings(SIZES[name], seed=11)
    if name == "kto_unpaired":
        return synthetic_unpaired(SIZES[name], seed=11)
    return synthetic_preferences(SIZES[name], seed=11)


def first_grad(trainer: AlignTrainer) -> torch.Tensor:
    """All gradients (after the step-1 all-reduce), flat, in parameter order."""
    return torch.cat([p.grad.flatten() for p in trainer.model.parameters()])


def save_first_grad(trainer: AlignTrainer, record: dict[str, float]) -> None:
    if record["step"] == 1:
        from safetensors.torch import save_file

        rank = trainer.accelerator.process_index
        name = run_name(trainer)
        path = Path(sys.argv[2]) / f"{name}-grad{rank}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"grad": first_grad(trainer)}, str(path))


def main() -> None:
    tiny, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)
    for name, config in RUNS.items():
        model = AutoModelForCausalLM.from_pretrained(tiny)
        tok = AutoTokenizer.from_pretrained(tiny)
        trainer = AlignTrainer(model, tok, AlignConfig(**config))
        seen: list[list[int]] = []
        method = {"pl": "list_batch_loss", "kto_unpaired": "single_batch_loss"}.get(
            name, "batch_loss")
        inner = getattr(trainer, method)

        def spy(data, index, *args, _inner=inner, _seen=seen, **kwargs):  # type: ignore
            _seen.append([int(i) for i in index])
            return _inner(data, index, *args, **kwargs)

        setattr(trainer, method, spy)
        history = trainer.train(dataset(name), out_dir=out / name, callback=save_first_grad)
        acc = trainer.accelerator
        info = {"rank": acc.process_index, "world": acc.num_processes, "history": history,
                "seen": seen}
        (out / name / f"rank{acc.process_index}.json").write_text(json.dumps(info))
    # leave the process group together: a peer that exits while the other still holds its gloo
    # connections can abort it at interpreter shutdown
    acc.wait_for_everyone()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
