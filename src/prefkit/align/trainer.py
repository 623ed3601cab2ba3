"""Direct preference alignment of Hugging Face causal LMs: the training loop.

Recipe, top to bottom:

1. the objective (:mod:`prefkit.align.objectives`: pairwise, listwise, unpaired KTO) turns the
   data into token ids and says which reference log-probs its loss needs;
2. reference log-probabilities are computed **once** (the initial policy, a given reference
   model, or the base model with LoRA adapters disabled) and saved as
   ``reference_logps.safetensors`` keyed by a hash of the token ids, so a rerun or a resume
   reloads them instead of recomputing;
3. each optimiser step runs ``grad_accum`` micro-batches; the objective computes each
   micro-batch's weighted mean loss in one forward pass, divided here by ``grad_accum``;
4. checkpoints hold the trainable weights and the AdamW state as safetensors, and the step, the
   RNG state and the history as JSON/safetensors (no pickle).  The data order is a pure function
   of (seed, step), so a killed run resumed from its last checkpoint reproduces the uninterrupted
   run exactly.  A resume under another loss, learning rate, batch or seed is refused
   (:func:`~prefkit.align.config.resume_differences`); temporaries of a killed run are removed.

Several processes (``accelerate launch`` / ``torchrun``): the loop runs under
``accelerate.Accelerator`` (DDP; FSDP/DeepSpeed as accelerate is configured).  Every process
computes the same (seed, step) indices and takes its shard ``index[rank::world]``; its loss
is Σ_shard w_i ℓ_i / (W/world) with W the weight total of the whole micro-batch, so the gradient
averaged by DDP is that of Σ_i w_i ℓ_i / W, the single-process gradient.  Reference log-probs are
computed (or loaded) by the main process and broadcast; only the main process writes files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.config import AlignConfig, resume_differences
from prefkit.align.lists import TokenLists, list_logps
from prefkit.align.losses import LossSpec, get_loss
from prefkit.align.objectives import MicroBatch, Objective, make_objective, objective_class
from prefkit.align.pairs import TokenPairs, pair_logps, sequence_logps
from prefkit.align.rundir import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    KL_REFERENCE_FILE,
    POLICY_DIR,
    REFERENCE_FILE,
    check_run_dir,
    clean_run_temps,
    latest_checkpoint,
    load_cached,
    load_policy,
    publish,
    save_cached,
    write_json,
)
from prefkit.core.progress import progress_bar
from prefkit.errors import ModelFileError

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "KL_REFERENCE_FILE",
    "POLICY_DIR",
    "REFERENCE_FILE",
    "AlignConfig",
    "AlignTrainer",
    "latest_checkpoint",
    "load_policy",
]

#: what a checkpoint's state.json must hold, and the JSON type of each entry
_STATE_KEYS = {"step": int, "param_groups": list, "optimizer_scalars": dict, "history": list,
               "parameter_names": list}


def _make_accelerator(cpu: bool) -> Any:
    """An ``accelerate.Accelerator`` that leaves device placement to the trainer."""
    from accelerate import Accelerator
    from accelerate.state import is_initialized

    # the process-wide state can be set up once; asking for cpu=True later would raise
    return Accelerator(device_placement=False, **({} if is_initialized() else {"cpu": cpu}))


class _SequenceLogps(torch.nn.Module):
    """The policy seen through one forward: batch → (summed response log-probs, lengths).

    This is the module handed to ``accelerator.prepare``, so that DDP (or FSDP) wraps the whole
    computation — decoder, then the LM head on response positions only — in one forward.
    """

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy
        self._no_split_modules = getattr(policy, "_no_split_modules", None)

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        logps, lengths = sequence_logps(self.policy, batch)[:2]
        return logps, lengths


class AlignTrainer:
    """Train a causal LM on preference pairs (or ranked lists, or unpaired KTO examples) with
    any registered loss; the objective of the loss (:mod:`prefkit.align.objectives`) does the
    data- and loss-specific work.

    Example:
        >>> from prefkit.align.tiny import build_tiny, synthetic_preferences
        >>> model, tok = build_tiny()                                   # doctest: +SKIP
        >>> cfg = AlignConfig(loss="dpo", beta=0.1, learning_rate=1e-3, max_steps=20)
        >>> trainer = AlignTrainer(model, tok, cfg)                     # doctest: +SKIP
        >>> trainer.train(synthetic_preferences(64), out_dir="run")     # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        config: AlignConfig | None = None,
        *,
        reference_model: Any | None = None,
        base: str | None = None,
    ) -> None:
        self.config = config or AlignConfig()
        self.spec: LossSpec = get_loss(self.config.loss)
        self.config.check()
        self.objective: Objective = make_objective(self.spec, self.config)
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.pad_id = int(tokenizer.pad_token_id)
        self.base = base
        device = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(device)
        self.accelerator = _make_accelerator(self.device.type == "cpu")
        if self.accelerator.num_processes > 1:
            self.device = self.accelerator.device
        self.model = model.to(self.device)
        self.reference_model = reference_model
        if self.config.lora:
            self.model = self._wrap_lora(self.model)
        self.history: list[dict[str, float]] = []
        self.step = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self._engine: Any | None = None  # _SequenceLogps after accelerator.prepare
        self.progress: bool | None = None  # progress on stderr (None: automatic)

    @property
    def listwise(self) -> bool:
        return self.spec.kind == "listwise"

    @property
    def unpaired(self) -> bool:
        """Whether :meth:`prepare` chose unpaired KTO (rating records with a 0/1 label)."""
        return self.objective.entry_point == "single_batch_loss"

    @property
    def _kl_reference(self) -> torch.Tensor | None:
        """KTO without a reference model: the precomputed initial-policy KL log-probs."""
        kl = getattr(self.objective, "kl", None)
        return None if kl is None else kl.initial

    # ------------------------------------------------------------------ setup
    def _wrap_lora(self, model: Any) -> Any:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(self.config.seed)
        cfg = LoraConfig(
            r=self.config.lora_r,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=self.config.lora_target_modules or "all-linear",
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, cfg)

    @property
    def is_peft(self) -> bool:
        return hasattr(self.model, "peft_config")

    def trainable_parameters(self) -> dict[str, torch.nn.Parameter]:
        return {n: p for n, p in self.model.named_parameters() if p.requires_grad}

    def autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16)

    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.config.bf16 else None

    def prepare(self, dataset: Any) -> TokenPairs | TokenLists:
        """Tokenised training data of ``dataset`` from the objective of the loss (pairs, ranked
        lists, or — KTO on rating records — one-response lists of unpaired examples)."""
        wanted = objective_class(self.spec, dataset)
        if not isinstance(self.objective, wanted):
            self.objective = wanted(self.spec, self.config)
        return self.objective.prepare(self.tokenizer, dataset)

    # ------------------------------------------------------------------ reference
    def reference_logps(
        self, pairs: TokenPairs, cache: str | os.PathLike[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference log-probs of chosen and rejected responses, computed once.

        With ``cache`` (a ``.safetensors`` path) they are reloaded when the file's fingerprint
        matches the tokenised data, and written (atomically) otherwise.
        """

        def compute() -> dict[str, torch.Tensor]:
            with self.bar(len(pairs), "reference log-probs", "pairs") as advance:
                res = self.with_reference(
                    lambda m: pair_logps(m, pairs, pad_id=self.pad_id,
                                         batch_size=self.config.ref_batch_size,
                                         autocast_dtype=self.autocast_dtype(), advance=advance))
            return {"chosen": res["chosen"], "rejected": res["rejected"]}

        t = self.shared_reference(pairs.fingerprint(), cache, compute,
                                  {"chosen": len(pairs), "rejected": len(pairs)})
        return t["chosen"], t["rejected"]

    def reference_list_logps(
        self, lists: TokenLists, cache: str | os.PathLike[str] | None = None
    ) -> torch.Tensor:
        """Reference log-probs of every response of every list (flat, list order), computed once
        and cached like :meth:`reference_logps`."""
        n = int(lists.sizes.sum())

        def compute() -> dict[str, torch.Tensor]:
            with self.bar(n, "reference log-probs", "responses") as advance:
                return {"logps": self.with_reference(
                    lambda m: list_logps(m, lists, pad_id=self.pad_id,
                                         batch_size=self.config.ref_batch_size,
                                         autocast_dtype=self.autocast_dtype(), advance=advance))}

        return self.shared_reference(lists.fingerprint(), cache, compute, {"logps": n})["logps"]

    def bar(self, total: int, what: str, unit: str) -> Any:
        """Progress on stderr (``progress``: None automatic, False none), main process only."""
        main = self.accelerator.is_main_process
        return progress_bar(self.progress if main else False, total, what, unit)

    def with_reference(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(model)`` with the reference: the given model, the LoRA base, or the policy."""
        if self.reference_model is not None:
            return fn(self.reference_model.to(self.device))
        if self.is_peft:
            with self.model.disable_adapter():
                return fn(self.model)
        return fn(self.model)

    def shared_reference(
        self,
        fingerprint: str,
        cache: str | os.PathLike[str] | None,
        compute: Callable[[], dict[str, torch.Tensor]],
        sizes: dict[str, int],
    ) -> dict[str, torch.Tensor]:
        """Load or compute (then cache) reference tensors on the main process; broadcast them
        to the others, so every process holds the tensors of the one file written."""
        acc = self.accelerator
        tensors: dict[str, torch.Tensor] = {}
        if acc.is_main_process:
            loaded = load_cached(cache, fingerprint)
            if loaded is None:
                loaded = compute()
                if cache is not None:
                    save_cached(cache, loaded, fingerprint)
            tensors = loaded
        if acc.num_processes > 1:
            import torch.distributed as dist

            out = {}
            for key, size in sizes.items():
                t = tensors[key] if acc.is_main_process else torch.zeros(size)
                t = t.to(device=acc.device, dtype=torch.float32).contiguous()
                dist.broadcast(t, src=0)
                out[key] = t.cpu()
            tensors = out
        return tensors

    # ------------------------------------------------------------------ loss
    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed response log-probs and lengths (through the prepared module when there is
        one, so that DDP sees the forward)."""
        with self.autocast():
            if self._engine is not None:
                return self._engine(batch)
            logps, lengths = sequence_logps(self.model, batch)[:2]
            return logps, lengths

    def batch_loss(
        self, pairs: TokenPairs, index: np.ndarray, ref_chosen: torch.Tensor | None,
        ref_rejected: torch.Tensor | None, *, denominator: torch.Tensor | None = None,
        context: MicroBatch | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean loss of the pairs ``index`` and per-pair statistics (one forward pass;
        :class:`~prefkit.align.objectives.PairwiseObjective`).  ``denominator`` replaces the
        weight total of ``index`` (a process's shard); ``context`` places ``index`` in its
        micro-batch (KTO's KL estimate)."""
        return self.objective.loss(self, pairs, index, ref_chosen, ref_rejected,
                                   denominator=denominator, micro=context)

    def list_batch_loss(
        self, lists: TokenLists, index: np.ndarray, ref_logps: torch.Tensor | None, *,
        denominator: torch.Tensor | None = None, context: MicroBatch | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean listwise loss of the lists ``index``
        (:class:`~prefkit.align.objectives.ListwiseObjective`)."""
        return self.objective.loss(self, lists, index, ref_logps, denominator=denominator,
                                   micro=context)

    def single_batch_loss(
        self, lists: TokenLists, index: np.ndarray, ref_logps: torch.Tensor | None, *,
        denominator: torch.Tensor | None = None, context: MicroBatch | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean KTO loss of the unpaired examples ``index``
        (:class:`~prefkit.align.objectives.UnpairedKTO`)."""
        return self.objective.loss(self, lists, index, ref_logps, denominator=denominator,
                                   micro=context)

    def kto_reference_point(
        self, data: TokenPairs | TokenLists, full: np.ndarray,
        positions: np.ndarray | None = None, ref_kl: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, z0) of KTO's mismatched-pair KL estimate over the micro-batch ``full``
        (:class:`~prefkit.align.objectives.MismatchedKL`)."""
        from prefkit.align.objectives import MismatchedKL

        kl = getattr(self.objective, "kl", None) or MismatchedKL()
        return kl.reference_point(self, data, full, positions, ref_kl)

    # ------------------------------------------------------------------ data order
    def batch_indices(self, step: int, micro: int, n: int) -> np.ndarray:
        """Example indices of micro-batch ``micro`` of optimiser step ``step`` (pure function)."""
        size = self.config.batch_size
        start = (step * self.config.grad_accum + micro) * size
        positions = np.arange(start, start + size)
        epochs, offsets = positions // n, positions % n
        out = np.empty(size, dtype=np.int64)
        for epoch in np.unique(epochs):
            g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + int(epoch))
            perm = torch.randperm(n, generator=g).numpy()
            sel = epochs == epoch
            out[sel] = perm[offsets[sel]]
        return out

    # ------------------------------------------------------------------ training
    def _ensure_engine(self) -> None:
        """Create the optimiser and hand it and the policy to ``accelerator.prepare`` (once)."""
        if self.optimizer is None:
            params = list(self.trainable_parameters().values())
            self.optimizer = torch.optim.AdamW(params, lr=self.config.learning_rate,
                                               weight_decay=self.config.weight_decay)
        if self._engine is None:
            if self.accelerator.gradient_accumulation_steps != 1:
                raise ValueError("set gradient accumulation with AlignConfig.grad_accum "
                                 "(--grad-accum), not in the accelerate config")
            self._engine, self.optimizer = self.accelerator.prepare(
                _SequenceLogps(self.model), self.optimizer)

    def _clip(self, params: list[torch.nn.Parameter], max_norm: float) -> float:
        from accelerate.utils import DistributedType

        acc = self.accelerator
        if acc.scaler is None and acc.distributed_type not in (DistributedType.FSDP,
                                                              DistributedType.DEEPSPEED):
            return float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        return float(acc.clip_grad_norm_(params, max_norm))

    def _gather(self, values: torch.Tensor) -> torch.Tensor:
        """Concatenate a 1-D tensor over processes (rank order); itself with one process."""
        acc = self.accelerator
        if acc.num_processes == 1:
            return values
        size = acc.gather(torch.tensor([values.numel()], device=acc.device))
        padded = acc.pad_across_processes(values.to(acc.device), dim=0)
        rows = acc.gather(padded).view(acc.num_processes, -1)
        return torch.cat([rows[r, : int(size[r])] for r in range(acc.num_processes)]).cpu()

    def _lr(self, step: int) -> float:
        warm = self.config.warmup_steps
        return self.config.learning_rate * (min(1.0, (step + 1) / warm) if warm > 0 else 1.0)

    def train(
        self,
        dataset: Any,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        resume: bool = False,
        max_steps: int | None = None,
        callback: Any | None = None,
        progress: bool | None = None,
    ) -> list[dict[str, float]]:
        """Train until ``max_steps`` (default ``config.max_steps``); returns the step history.

        With ``out_dir`` the reference log-probs are cached there, checkpoints are written every
        ``save_every`` steps (and at the end), and the final policy is saved.  ``resume=True``
        continues from the latest checkpoint in ``out_dir`` (refused when the run's settings
        differ, see :func:`~prefkit.align.config.resume_differences`).  ``callback(trainer,
        record)`` runs after each step.  ``progress``: progress on stderr (default automatic:
        a bar on a terminal, periodic lines in logs; main process only).
        """
        cfg, acc = self.config, self.accelerator
        if progress is not None:
            self.progress = progress
        if cfg.batch_size < acc.num_processes:
            raise ValueError(f"batch_size {cfg.batch_size} < {acc.num_processes} processes: "
                             "every process needs at least one pair (list) per micro-batch")
        total = cfg.max_steps if max_steps is None else max_steps
        out = Path(out_dir) if out_dir is not None else None
        checkpoint = self._start_run(out, resume)
        data = self.prepare(dataset)
        refs = self.objective.reference(self, data, out / REFERENCE_FILE if out else None)
        self.objective.setup(self, data, total, out)
        self._ensure_engine()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        elif not resume:
            torch.manual_seed(cfg.seed)
        self.model.train()
        with self.bar(max(total - self.step, 0), f"aligning ({cfg.loss})", "steps") as advance:
            while self.step < total:
                record = self._optimizer_step(data, refs)
                advance(1)
                if callback is not None:
                    callback(self, record)
                if out is not None and cfg.save_every and self.step % cfg.save_every == 0:
                    self._save_checkpoint_everywhere(out)
        if out is not None:
            if acc.is_main_process:
                self.save_checkpoint(out)
                self.save(out)
            acc.wait_for_everyone()
        return self.history

    def _start_run(self, out: Path | None, resume: bool) -> Path | None:
        """Check the run directory before any long work; returns the checkpoint to resume."""
        if out is None:
            if resume:
                raise ValueError("resume needs out_dir")
            return None
        if self.accelerator.is_main_process:
            clean_run_temps(out)
        check_run_dir(out)
        checkpoint = latest_checkpoint(out) if resume else None
        if checkpoint is not None:
            self._check_resume(checkpoint, read_state(checkpoint))
        return checkpoint

    def _check_resume(self, path: Path, state: dict[str, Any]) -> None:
        """Refuse to continue a checkpoint under other settings; warn on round-off-only ones."""
        saved = state.get("config")
        if not isinstance(saved, dict):
            raise ModelFileError(f"{path}/state.json: no run configuration")
        refused, warned = resume_differences(saved, self.config)
        if refused:
            raise ModelFileError(f"{path}: cannot resume with other settings ("
                                 + "; ".join(refused) + "); start a new --out or use the "
                                 "checkpoint's settings")
        if warned:
            warnings.warn(f"{path}: resuming with " + "; ".join(warned)
                          + " (same objective, other round-off)", stacklevel=3)

    def _optimizer_step(self, data: Any, refs: tuple[Any, ...]) -> dict[str, float]:
        """One optimiser step of ``grad_accum`` micro-batches; returns the step's record."""
        cfg, acc = self.config, self.accelerator
        world, rank = acc.num_processes, acc.process_index
        assert self.optimizer is not None
        t0 = time.perf_counter()
        lr = self._lr(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        run_micro_batch = getattr(self, self.objective.entry_point)
        collected: dict[str, list[torch.Tensor]] = {}
        for m in range(cfg.grad_accum):
            full = self.batch_indices(self.step, m, len(data))
            index, positions, denominator = full, np.arange(len(full)), None
            if world > 1:  # this process's shard; divide by the whole batch's weight
                total_w = float(np.asarray(data.weights)[full].sum())
                denominator = torch.tensor(max(total_w, 1e-12) / world)
                positions = positions[rank::world]
                index = full[positions]
            last = m == cfg.grad_accum - 1
            with contextlib.nullcontext() if last else acc.no_sync(self._engine):
                loss, stats = run_micro_batch(data, index, *refs, denominator=denominator,
                                              context=MicroBatch(full, positions, self.step, m))
                acc.backward(loss / cfg.grad_accum)
            for k, v in stats.items():
                collected.setdefault(k, []).append(v)
        grad_norm = float("nan")
        if cfg.max_grad_norm is not None:
            grad_norm = self._clip(list(self.trainable_parameters().values()), cfg.max_grad_norm)
        self.optimizer.step()
        self.step += 1
        cat = {k: self._gather(torch.cat(v).float()) for k, v in collected.items()}
        record = {
            "step": self.step,
            "loss": float(cat["loss"].mean()),
            "reward_accuracy": float((cat["chosen_rewards"] > cat["rejected_rewards"])
                                     .float().mean()),
            "reward_margin": float((cat["chosen_rewards"] - cat["rejected_rewards"]).mean()),
            "logps_chosen": float(cat["chosen_logps"].mean()),
            "logps_rejected": float(cat["rejected_logps"].mean()),
            "grad_norm": grad_norm,
            "lr": lr,
            "seconds": time.perf_counter() - t0,
        }
        self.history.append(record)
        return record

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint_everywhere(self, out: Path) -> None:
        if self.accelerator.is_main_process:
            self.save_checkpoint(out)
        self.accelerator.wait_for_everyone()

    def save_checkpoint(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``checkpoints/step-N`` (weights, optimiser, RNG, state) atomically."""
        from safetensors.torch import save_file

        assert self.optimizer is not None
        state = self.optimizer.state_dict()
        tensors: dict[str, torch.Tensor] = {}
        scalars: dict[str, Any] = {}
        for pid, pstate in state["state"].items():
            for key, value in pstate.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{pid}.{key}"] = value.detach().contiguous().cpu()
                else:
                    scalars[f"{pid}.{key}"] = value
        tensors["__rng_cpu__"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["__rng_cuda__"] = torch.cuda.get_rng_state()
        params = self.trainable_parameters()

        def build(tmp: Path) -> None:
            weights = {k: v.detach().contiguous().cpu() for k, v in params.items()}
            save_file(weights, os.fspath(tmp / "trainable.safetensors"))
            save_file(tensors, os.fspath(tmp / "optimizer.safetensors"))
            write_json(tmp / "state.json", {
                "step": self.step,
                "param_groups": state["param_groups"],
                "optimizer_scalars": scalars,
                "history": self.history,
                "config": self.config.to_dict(),
                "parameter_names": list(params),
            })

        return publish(build, Path(out_dir) / CHECKPOINT_DIR / f"step-{self.step:08d}")

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore weights, optimiser state, RNG state, step and history from a checkpoint.

        A checkpoint that is unreadable, incomplete or tampered with (missing keys, tensors or
        parameters, wrong shapes) is a one-line :class:`~prefkit.errors.ModelFileError`."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        state = read_state(path)
        try:
            weights = load_file(os.fspath(path / "trainable.safetensors"))
            tensors = load_file(os.fspath(path / "optimizer.safetensors"))
        except (OSError, ValueError, SafetensorError) as err:
            raise ModelFileError(f"{path}: unreadable checkpoint ({_first_line(err)})") from None
        params = self.trainable_parameters()
        if list(params) != state["parameter_names"]:
            raise ModelFileError(f"{path}: checkpoint parameters do not match the model")
        try:
            self._restore(state, weights, tensors, params)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as err:
            raise ModelFileError(f"{path}: damaged checkpoint ({type(err).__name__}: "
                                 f"{_first_line(err)})") from None

    def _restore(self, state: dict[str, Any], weights: dict[str, torch.Tensor],
                 tensors: dict[str, torch.Tensor], params: dict[str, torch.nn.Parameter]) -> None:
        with torch.no_grad():
            for name, p in params.items():
                if weights[name].shape != p.shape:
                    raise ValueError(f"{name} has shape {tuple(weights[name].shape)}, the model "
                                     f"{tuple(p.shape)}")
                p.copy_(weights[name].to(p.device, p.dtype))
        self._ensure_engine()
        assert self.optimizer is not None
        opt_state: dict[str, Any] = {"state": {}, "param_groups": state["param_groups"]}
        for key, value in tensors.items():
            if key.startswith("__"):
                continue
            pid, name = key.split(".", 1)
            opt_state["state"].setdefault(int(pid), {})[name] = value
        for key, value in state["optimizer_scalars"].items():
            pid, name = key.split(".", 1)
            opt_state["state"].setdefault(int(pid), {})[name] = value
        for group in opt_state["param_groups"]:
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
        self.optimizer.load_state_dict(opt_state)
        torch.set_rng_state(tensors["__rng_cpu__"])
        if "__rng_cuda__" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["__rng_cuda__"])
        self.step = int(state["step"])
        self.history = list(state["history"])

    # ------------------------------------------------------------------ saving
    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Save the policy (LoRA merged into a copy) + tokenizer and ``align_config.json``."""
        out = Path(out_dir)

        def build(tmp: Path) -> None:
            model = self.model
            if self.is_peft:
                model.save_pretrained(os.fspath(tmp / "adapter"))
                model = copy.deepcopy(model).merge_and_unload()
            model.save_pretrained(os.fspath(tmp))
            self.tokenizer.save_pretrained(os.fspath(tmp))

        final = publish(build, out / POLICY_DIR)
        write_json(out / CONFIG_FILE, {"config": self.config.to_dict(), "base": self.base,
                                       "step": self.step, "history": self.history})
        return final

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, dataset: Any, *, reference_model: Any | None = None) -> dict[str, Any]:
        """Loss, implicit-reward accuracy and ranking accuracy of the current policy, by the
        objective's own evaluation (a listwise run by its listwise loss, …)."""
        from prefkit.align.diagnostics import evaluate_policy

        cfg = self.config
        return evaluate_policy(self.model, self.tokenizer, dataset,
                               reference_model=reference_model or self.reference_model,
                               loss=cfg.loss, beta=cfg.beta, loss_params=cfg.loss_params,
                               max_length=cfg.max_length, max_prompt_length=cfg.max_prompt_length,
                               batch_size=cfg.ref_batch_size)


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint's ``state.json``, checked: one-line ModelFileError when it is unreadable or
    lacks an entry (a tampered checkpoint must not end in a KeyError)."""
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{path}/state.json: unreadable ({_first_line(err)})") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}/state.json: not a checkpoint state (a JSON object)")
    for key, kind in _STATE_KEYS.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise ModelFileError(f"{path}/state.json: missing or malformed {key!r}")
    return state


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
