"""Direct preference alignment of Hugging Face causal LMs with any registered loss.

Recipe, top to bottom:

1. read pairs (``winner`` b swaps, soft ``p_a`` kept as P(chosen ≻ rejected)), tokenise prompt
   (chat template when the tokenizer has one) and responses (+ EOS); only response tokens count;
2. compute the reference log-probabilities **once** (the initial policy, or a given reference
   model, or the base model with LoRA adapters disabled) and save them as
   ``reference_logps.safetensors`` keyed by a hash of the token ids, so a rerun or a resume
   reloads them instead of recomputing;
3. each optimiser step runs ``grad_accum`` micro-batches; a micro-batch is one forward pass over
   the concatenation [chosen; rejected]; the LM head only runs on response positions;
4. the loss is the weighted mean of the per-pair losses (``weight`` column) over the micro-batch,
   divided by ``grad_accum``;
5. checkpoints hold the trainable weights and the AdamW state as safetensors, and the step, the
   RNG state and the history as JSON/safetensors (no pickle).  The data order is a pure function
   of (seed, step), so a killed run resumed from its last checkpoint reproduces the uninterrupted
   run exactly.

Listwise losses (``plackett_luce``, ``lipo``) train on ranked lists (:mod:`prefkit.align.lists`):
one forward pass covers all K responses of every prompt of the micro-batch.  ``packing=True``
concatenates the micro-batch's sequences into one row without padding (``position_ids`` restart
at 0 per sequence, attention stays inside each sequence).

Several processes (``accelerate launch`` / ``torchrun``): the loop runs under
``accelerate.Accelerator`` (DDP; FSDP/DeepSpeed as accelerate is configured).  Every process
computes the same (seed, step) pair indices and takes its shard ``index[rank::world]``; its loss
is Σ_shard w_i ℓ_i / (W/world) with W the weight total of the whole micro-batch, so the gradient
averaged by DDP is that of Σ_i w_i ℓ_i / W, the single-process gradient.  Reference log-probs are
computed (or loaded) by the main process and broadcast; only the main process writes files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.lists import (
    TokenLists,
    collate_lists,
    list_logps,
    text_lists,
    to_grid,
    tokenize_lists,
)
from prefkit.align.losses import LossSpec, get_loss, kto_loss, kto_reference_point
from prefkit.align.pairs import (
    TokenPairs,
    collate,
    collate_sequences,
    pair_logps,
    sequence_logps,
    text_pairs,
    tokenize_pairs,
)
from prefkit.align.unpaired import check_balance, unpaired_examples
from prefkit.encode.encoders import progress_bar
from prefkit.errors import ModelFileError

CONFIG_FILE = "align_config.json"
REFERENCE_FILE = "reference_logps.safetensors"
#: KTO without a reference model: the initial policy's side of every micro-batch's KL estimate
KL_REFERENCE_FILE = "kto_kl_reference.safetensors"
POLICY_DIR = "policy"
CHECKPOINT_DIR = "checkpoints"


@dataclass
class AlignConfig:
    """Hyper-parameters of :class:`AlignTrainer` (all JSON-serialisable)."""

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


def _atomic_dir(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


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
    """Train a causal LM on preference pairs (or ranked lists) with any registered loss.

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
        if self.spec.kind not in ("pairwise", "listwise"):
            raise ValueError(f"the trainer takes pairwise or listwise losses; "
                             f"{self.spec.name!r} is {self.spec.kind}")
        if self.config.batch_size < 1 or self.config.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be ≥ 1")
        if self.config.kto_z0 not in ("mismatched", "batch"):
            raise ValueError(f"kto_z0 must be 'mismatched' or 'batch', got {self.config.kto_z0!r}")
        if self._kto_mismatched and self.config.batch_size < 2:
            raise ValueError("KTO's mismatched-pair KL estimate needs batch_size ≥ 2")
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
        # KTO without a reference model: log π_0 of every micro-batch's mismatched pairs,
        # (steps, grad_accum, examples), computed before training (no model copy)
        self._kl_reference: torch.Tensor | None = None
        self.unpaired = False  # set by prepare(): KTO on single labelled responses
        self.progress: bool | None = None  # progress bars on stderr (None: when a terminal)

    @property
    def _kto_mismatched(self) -> bool:
        return (self.spec.name == "kto" and self.config.kto_z0 == "mismatched"
                and "z0" not in self.config.loss_params)

    @property
    def listwise(self) -> bool:
        return self.spec.kind == "listwise"

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

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16)

    def prepare(self, dataset: Any) -> TokenPairs | TokenLists:
        """Tokenised pairs of ``dataset`` (see :mod:`prefkit.align.pairs`), or ranked lists for a
        listwise loss (see :mod:`prefkit.align.lists`); for KTO, rating records with a
        desirable/undesirable label become one-response lists (:mod:`prefkit.align.unpaired`)."""
        self.unpaired = self.spec.name == "kto" and getattr(dataset, "kind", None) == "rating"
        if self.unpaired:
            if self.config.nll_coef:
                raise ValueError("nll_coef needs pairs (the chosen response); unpaired KTO has "
                                 "none")
            examples = unpaired_examples(dataset)
            params = self.config.loss_params
            check_balance(np.array([lab[0] > 0.5 for lab in examples.labels]), examples.weights,
                          params.get("desirable_weight", 1.0),
                          params.get("undesirable_weight", 1.0))
            return tokenize_lists(self.tokenizer, examples, max_length=self.config.max_length,
                                  max_prompt_length=self.config.max_prompt_length)
        if self.listwise:
            return tokenize_lists(self.tokenizer, text_lists(dataset),
                                  max_length=self.config.max_length,
                                  max_prompt_length=self.config.max_prompt_length)
        keep_ties = self.config.keep_ties
        if keep_ties is None:
            keep_ties = "p" in self.spec.parameters
        pairs = text_pairs(dataset, keep_ties=keep_ties)
        return tokenize_pairs(
            self.tokenizer,
            pairs,
            max_length=self.config.max_length,
            max_prompt_length=self.config.max_prompt_length,
        )

    # ------------------------------------------------------------------ reference
    def reference_logps(
        self, pairs: TokenPairs, cache: str | os.PathLike[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference log-probs of chosen and rejected responses, computed once.

        With ``cache`` (a ``.safetensors`` path) they are reloaded when the file's fingerprint
        matches the tokenised data, and written (atomically) otherwise.
        """

        def compute() -> dict[str, torch.Tensor]:
            with self._bar(len(pairs), "reference log-probs", "pairs") as advance:
                res = self._with_reference(
                    lambda m: pair_logps(m, pairs, pad_id=self.pad_id,
                                         batch_size=self.config.ref_batch_size,
                                         autocast_dtype=self._ac(), advance=advance))
            return {"chosen": res["chosen"], "rejected": res["rejected"]}

        t = self._shared_reference(pairs.fingerprint(), cache, compute,
                                   {"chosen": len(pairs), "rejected": len(pairs)})
        return t["chosen"], t["rejected"]

    def reference_list_logps(
        self, lists: TokenLists, cache: str | os.PathLike[str] | None = None
    ) -> torch.Tensor:
        """Reference log-probs of every response of every list (flat, list order), computed once
        and cached like :meth:`reference_logps`."""

        n = int(lists.sizes.sum())

        def compute() -> dict[str, torch.Tensor]:
            with self._bar(n, "reference log-probs", "responses") as advance:
                return {"logps": self._with_reference(
                    lambda m: list_logps(m, lists, pad_id=self.pad_id,
                                         batch_size=self.config.ref_batch_size,
                                         autocast_dtype=self._ac(), advance=advance))}

        return self._shared_reference(lists.fingerprint(), cache, compute, {"logps": n})["logps"]

    def _bar(self, total: int, what: str, unit: str) -> Any:
        """A progress bar on stderr (see ``progress``), main process only."""
        show = sys.stderr.isatty() if self.progress is None else self.progress
        return progress_bar(show and self.accelerator.is_main_process, total, what, unit)

    def _with_reference(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(model)`` with the reference: the given model, the LoRA base, or the policy."""
        if self.reference_model is not None:
            return fn(self.reference_model.to(self.device))
        if self.is_peft:
            with self.model.disable_adapter():
                return fn(self.model)
        return fn(self.model)

    def _shared_reference(
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
            tensors = _load_reference(cache, fingerprint)
            if tensors is None:
                tensors = compute()
                if cache is not None:
                    _save_reference(cache, tensors, fingerprint)
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

    def _ac(self) -> torch.dtype | None:
        return torch.bfloat16 if self.config.bf16 else None

    # ------------------------------------------------------------------ loss
    def _forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed response log-probs and lengths (through the prepared module when there is
        one, so that DDP sees the forward)."""
        with self._autocast():
            if self._engine is not None:
                return self._engine(batch)
            logps, lengths = sequence_logps(self.model, batch)[:2]
            return logps, lengths

    def _reduce(self, losses: torch.Tensor, w: torch.Tensor,
                denominator: torch.Tensor | None) -> torch.Tensor:
        if denominator is None:
            return (losses * w).sum() / w.sum().clamp(min=1e-12)
        return (losses * w).sum() / denominator.to(losses.device)

    def batch_loss(
        self,
        pairs: TokenPairs,
        index: np.ndarray,
        ref_chosen: torch.Tensor | None,
        ref_rejected: torch.Tensor | None,
        *,
        denominator: torch.Tensor | None = None,
        context: KLContext | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean loss of the pairs ``index`` and per-pair statistics (one forward pass).

        ``denominator`` replaces the weight total of ``index`` (a process's shard divides by the
        whole micro-batch's total over the number of processes).  ``context`` = (whole
        micro-batch, positions of ``index`` in it[, precomputed reference side of its KL
        pairs]), for KTO's KL estimate under several processes.
        """
        batch = _to(collate(pairs, index, self.pad_id, packing=self.config.packing), self.device)
        logps, lengths = self._forward(batch)
        logps = logps.float()
        n = len(index)
        inputs: dict[str, Any] = {
            "policy_chosen_logps": logps[:n],
            "policy_rejected_logps": logps[n:],
            "chosen_lengths": lengths[:n],
            "rejected_lengths": lengths[n:],
            "p": batch["p"],
        }
        if self.spec.needs_reference:
            if ref_chosen is None or ref_rejected is None:
                raise ValueError(f"loss {self.spec.name!r} needs reference log-probabilities")
            idx = torch.as_tensor(index)
            inputs["ref_chosen_logps"] = ref_chosen[idx].to(self.device)
            inputs["ref_rejected_logps"] = ref_rejected[idx].to(self.device)
        if self._kto_mismatched:
            full, positions, ref_kl = _kl_context(context, index)
            inputs["z0"] = self.kto_reference_point(pairs, full, positions, ref_kl)[1]
        out = self.spec(beta=self.config.beta, nll_coef=self.config.nll_coef,
                        **self.config.loss_params, **inputs)
        loss = self._reduce(out.losses, batch["weights"], denominator)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": out.chosen_rewards.detach(),
            "rejected_rewards": out.rejected_rewards.detach(),
            "chosen_logps": logps[:n].detach(),
            "rejected_logps": logps[n:].detach(),
        }
        return loss, stats

    @staticmethod
    def kl_sequences(
        data: TokenPairs | TokenLists, full: np.ndarray
    ) -> tuple[list[list[int]], list[list[int]]]:
        """(prompts, responses) of KTO's mismatched pairs for the micro-batch ``full``, example
        j meeting the response of example j − 1 (cyclically): 2B examples [chosen…; rejected…]
        for pairs, the B responses for unpaired data (see :meth:`kto_reference_point`)."""
        if isinstance(data, TokenLists):
            prompts = [data.prompt_ids[i] for i in full]
            responses = [data.response_ids[i][0] for i in full]
        else:
            prompts = [data.prompt_ids[i] for i in full] * 2
            responses = [data.chosen_ids[i] for i in full] + [data.rejected_ids[i] for i in full]
        m = len(responses)
        return prompts, [responses[(j - 1) % m] for j in range(m)]

    @torch.no_grad()
    def kto_reference_point(
        self, pairs: TokenPairs | TokenLists, full: np.ndarray,
        positions: np.ndarray | None = None, ref_kl: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """KTO's reference point from mismatched pairs of the micro-batch ``full`` (Ethayarajh et
        al. 2024, §4.2 and Eq. 7):

            z0 = max(0, mean_j [log π(y_{j−1}|x_j) − log π_ref(y_{j−1}|x_j)])   (no gradient)

        over the 2B examples j of the micro-batch in the order [chosen_0 … chosen_{B−1},
        rejected_0 … rejected_{B−1}], each prompt x_j paired with the previous example's
        response (cyclically) — the rotation TRL 1.16's ``KTOTrainer`` applies to each batch.
        With B ≥ 2 no example meets its own pair's response.  For unpaired KTO (``pairs`` is a
        :class:`TokenLists` of one-response lists) the examples are the B responses of the
        micro-batch, rotated the same way.  ``positions`` (default all) are the
        pairs this process evaluates; under several processes the sums are all-reduced, so the
        estimate is that of the whole micro-batch.  ``ref_kl``: the reference side for all the
        micro-batch's examples, precomputed (:meth:`initial_kl_logps`); otherwise the reference
        model or the LoRA base computes it now.  Returns (the unclamped mean, z0).
        """
        full = np.asarray(full)
        b = len(full)
        positions = np.arange(b) if positions is None else np.asarray(positions)
        mine = (positions if isinstance(pairs, TokenLists)
                else np.concatenate([positions, positions + b]))
        prompts, responses = self.kl_sequences(pairs, full)
        batch = _to(collate_sequences([prompts[j] for j in mine], [responses[j] for j in mine],
                                      self.pad_id, packing=self.config.packing), self.device)
        with self._autocast():
            policy = sequence_logps(self.model, batch)[0].float()
        if ref_kl is not None:
            ref = ref_kl[torch.as_tensor(mine)].to(device=policy.device, dtype=policy.dtype)
        elif self.reference_model is None and not self.is_peft:
            raise ValueError("KTO's KL estimate needs a reference model or the initial policy's "
                             "log-probs (initial_kl_logps, computed by train())")
        else:
            ref_model = (self.reference_model.to(self.device) if self.reference_model is not None
                         else self.model)
            was_training = ref_model.training
            ref_model.eval()
            try:
                with (self.model.disable_adapter() if ref_model is self.model
                      else contextlib.nullcontext()), self._autocast():
                    ref = sequence_logps(ref_model, batch)[0].float()
            finally:
                ref_model.train(was_training)
        total = torch.stack([(policy - ref).sum(), torch.tensor(float(len(mine)),
                                                                 device=policy.device)])
        if self.accelerator.num_processes > 1:
            total = self.accelerator.reduce(total.to(self.accelerator.device), reduction="sum")
        mean = total[0] / total[1]
        return mean, mean.clamp(min=0)

    def initial_kl_logps(
        self, data: TokenPairs | TokenLists, steps: int,
        cache: str | os.PathLike[str] | None = None,
    ) -> torch.Tensor:
        """KTO without a reference model: the reference side of the KL estimate is the policy
        before training, log π_0(y_{j−1}|x_j) for the mismatched pairs of every micro-batch of
        steps [0, ``steps``).  Micro-batches are a pure function of (seed, step), so these are
        computed now, once (and cached with the reference log-probs), instead of keeping a
        frozen copy of the initial policy in memory.  Returns ``(steps, grad_accum, m)`` with m
        = 2·batch_size for pairs, batch_size for unpaired examples.
        """
        import hashlib

        cfg = self.config
        n = len(data)
        width = cfg.batch_size * (1 if isinstance(data, TokenLists) else 2)
        if self._kl_reference is not None and self._kl_reference.shape[0] >= steps:
            return self._kl_reference
        if self.step > 0:
            raise ValueError("KTO's initial-policy KL log-probs must be computed before "
                             "training; pass reference_model= to train this policy further")
        key = hashlib.sha256(f"{data.fingerprint()}|{cfg.seed}|{cfg.batch_size}|"
                             f"{cfg.grad_accum}|{steps}".encode()).hexdigest()

        def compute() -> dict[str, torch.Tensor]:
            prompts: list[list[int]] = []
            responses: list[list[int]] = []
            for step in range(steps):
                for micro in range(cfg.grad_accum):
                    p, r = self.kl_sequences(data, self.batch_indices(step, micro, n))
                    prompts += p
                    responses += r
            flat = TokenLists(prompts, [[r] for r in responses], [], np.ones(len(prompts)))
            with self._bar(len(prompts), "KTO KL reference", "pairs") as advance:
                return {"kl": list_logps(self.model, flat, pad_id=self.pad_id,
                                         batch_size=cfg.ref_batch_size,
                                         autocast_dtype=self._ac(), advance=advance)}

        size = steps * cfg.grad_accum * width
        kl = self._shared_reference(key, cache, compute, {"kl": size})["kl"]
        self._kl_reference = kl.view(steps, cfg.grad_accum, width)
        return self._kl_reference

    def single_batch_loss(
        self,
        lists: TokenLists,
        index: np.ndarray,
        ref_logps: torch.Tensor | None,
        *,
        denominator: torch.Tensor | None = None,
        context: KLContext | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean KTO loss of the unpaired examples ``index`` (one-response lists, label
        1 = desirable; :func:`~prefkit.align.losses.kto_loss`).  The reference point z0 is the
        mismatched-pair estimate of :meth:`kto_reference_point` (``kto_z0="mismatched"``), the
        batch's own mean log-ratio (``"batch"``), or a fixed ``z0`` loss parameter.

        Statistics: ``chosen_rewards`` is the signed margin ±β·(r − z0) (+ for desirable), so the
        history's reward accuracy is the share of examples on their label's side of z0;
        ``chosen_logps`` / ``rejected_logps`` are the desirable / undesirable responses'.
        """
        batch = _to(collate_lists(lists, index, self.pad_id, packing=self.config.packing),
                    self.device)
        logps, _ = self._forward(batch)
        policy = logps.float()
        if ref_logps is None:
            raise ValueError("KTO needs reference log-probabilities")
        ref = ref_logps[batch["flat"].cpu()].to(self.device)
        desirable = batch["labels"][:, 0] > 0.5
        params = dict(self.config.loss_params)
        z0 = params.pop("z0", None)
        if self._kto_mismatched:
            full, positions, ref_kl = _kl_context(context, index)
            z0 = self.kto_reference_point(lists, full, positions, ref_kl)[1]
        elif z0 is None:
            z0 = kto_reference_point(policy, ref)
        out = kto_loss(policy, ref, desirable, z0=z0, beta=self.config.beta, **params)
        loss = self._reduce(out.losses, batch["weights"], denominator)
        z0_t = torch.as_tensor(z0, dtype=policy.dtype, device=policy.device)
        margin = (2 * desirable.float() - 1) * (out.chosen_rewards - self.config.beta * z0_t)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": margin.detach(),
            "rejected_rewards": torch.zeros_like(margin),
            "chosen_logps": policy[desirable].detach(),
            "rejected_logps": policy[~desirable].detach(),
        }
        return loss, stats

    def list_batch_loss(
        self,
        lists: TokenLists,
        index: np.ndarray,
        ref_logps: torch.Tensor | None,
        *,
        denominator: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mean listwise loss of the lists ``index``: one forward pass over all their
        responses, scattered into (B, K_max) grids with a mask for shorter lists.

        Statistics are per ordered pair (ψ_i > ψ_j) of each list: ``chosen_rewards`` = s_i,
        ``rejected_rewards`` = s_j with s = β·log π/π_ref; ``chosen_logps`` are the best
        responses', ``rejected_logps`` the others'.
        """
        batch = _to(collate_lists(lists, index, self.pad_id, packing=self.config.packing),
                    self.device)
        logps, _ = self._forward(batch)
        mask = batch["mask"]
        policy = to_grid(logps.float(), mask)
        if ref_logps is None:
            raise ValueError(f"loss {self.spec.name!r} needs reference log-probabilities")
        ref = to_grid(ref_logps[batch["flat"].cpu()].to(self.device), mask)
        labels = batch["labels"]
        out = self.spec(beta=self.config.beta, **self.config.loss_params,
                        policy_logps=policy, ref_logps=ref, labels=labels, mask=mask)
        loss = self._reduce(out.losses, batch["weights"], denominator)
        s = (self.config.beta * (policy - ref)).detach()
        better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
        b, i, j = better.nonzero(as_tuple=True)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": s[b, i],
            "rejected_rewards": s[b, j],
            "chosen_logps": policy[:, 0].detach(),
            "rejected_logps": policy[:, 1:][mask[:, 1:]].detach(),
        }
        return loss, stats

    # ------------------------------------------------------------------ data order
    def batch_indices(self, step: int, micro: int, n: int) -> np.ndarray:
        """Pair indices of micro-batch ``micro`` of optimiser step ``step`` (pure function)."""
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
    def _make_optimizer(self) -> torch.optim.Optimizer:
        params = list(self.trainable_parameters().values())
        return torch.optim.AdamW(
            params, lr=self.config.learning_rate, weight_decay=self.config.weight_decay
        )

    def _ensure_engine(self) -> None:
        """Create the optimiser and hand it and the policy to ``accelerator.prepare`` (once)."""
        if self.optimizer is None:
            self.optimizer = self._make_optimizer()
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
        continues from the latest checkpoint in ``out_dir``.  ``callback(trainer, record)`` runs
        after each step.  ``progress``: a progress bar of the steps on stderr (default: when
        stderr is a terminal; main process only).
        """
        cfg = self.config
        acc = self.accelerator
        if progress is not None:
            self.progress = progress
        world, rank = acc.num_processes, acc.process_index
        if cfg.batch_size < world:
            raise ValueError(f"batch_size {cfg.batch_size} < {world} processes: every process "
                             "needs at least one pair (list) per micro-batch")
        total = cfg.max_steps if max_steps is None else max_steps
        out = Path(out_dir) if out_dir is not None else None
        data = self.prepare(dataset)
        n = len(data)
        refs: Any = None
        if self.spec.needs_reference:
            cache = out / REFERENCE_FILE if out else None
            refs = (self.reference_list_logps(data, cache) if isinstance(data, TokenLists)
                    else self.reference_logps(data, cache))
        kl_ref = None
        if self._kto_mismatched and self.reference_model is None and not self.is_peft:
            kl_ref = self.initial_kl_logps(data, total, out / KL_REFERENCE_FILE if out else None)
        self._ensure_engine()
        assert self.optimizer is not None
        if resume:
            if out is None:
                raise ValueError("resume needs out_dir")
            ckpt = latest_checkpoint(out)
            if ckpt is not None:
                self.load_checkpoint(ckpt)
        else:
            torch.manual_seed(cfg.seed)
        self.model.train()
        params = list(self.trainable_parameters().values())
        with self._bar(max(total - self.step, 0), f"aligning ({cfg.loss})", "steps") as advance:
            while self.step < total:
                t0 = time.perf_counter()
                lr = self._lr(self.step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.optimizer.zero_grad(set_to_none=True)
                collected: dict[str, list[torch.Tensor]] = {}
                for micro in range(cfg.grad_accum):
                    full = self.batch_indices(self.step, micro, n)
                    index, positions, denominator = full, np.arange(len(full)), None
                    if world > 1:  # this process's shard; divide by the whole batch's weight
                        total_w = float(np.asarray(data.weights)[full].sum())
                        denominator = torch.tensor(max(total_w, 1e-12) / world)
                        positions = positions[rank::world]
                        index = full[positions]
                    last = micro == cfg.grad_accum - 1
                    sync = contextlib.nullcontext() if last else acc.no_sync(self._engine)
                    with sync:
                        context = (full, positions,
                                   None if kl_ref is None else kl_ref[self.step, micro])
                        if isinstance(data, TokenLists) and self.unpaired:
                            loss, stats = self.single_batch_loss(data, index, refs,
                                                                 denominator=denominator,
                                                                 context=context)
                        elif isinstance(data, TokenLists):
                            loss, stats = self.list_batch_loss(data, index, refs,
                                                               denominator=denominator)
                        else:
                            ref_c, ref_r = refs if refs is not None else (None, None)
                            loss, stats = self.batch_loss(data, index, ref_c, ref_r,
                                                          denominator=denominator,
                                                          context=context)
                        acc.backward(loss / cfg.grad_accum)
                    for k, v in stats.items():
                        collected.setdefault(k, []).append(v)
                grad_norm = float("nan")
                if cfg.max_grad_norm is not None:
                    grad_norm = self._clip(params, cfg.max_grad_norm)
                self.optimizer.step()
                self.step += 1
                cat = {k: self._gather(torch.cat(v).float()) for k, v in collected.items()}
                record = {
                    "step": self.step,
                    "loss": float(cat["loss"].mean()),
                    "reward_accuracy": float((cat["chosen_rewards"] > cat["rejected_rewards"])
                                             .float().mean()),
                    "reward_margin": float((cat["chosen_rewards"]
                                            - cat["rejected_rewards"]).mean()),
                    "logps_chosen": float(cat["chosen_logps"].mean()),
                    "logps_rejected": float(cat["rejected_logps"].mean()),
                    "grad_norm": grad_norm,
                    "lr": lr,
                    "seconds": time.perf_counter() - t0,
                }
                self.history.append(record)
                advance(1)
                if callback is not None:
                    callback(self, record)
                if out is not None and cfg.save_every and self.step % cfg.save_every == 0:
                    if acc.is_main_process:
                        self.save_checkpoint(out)
                    acc.wait_for_everyone()
        if out is not None:
            if acc.is_main_process:
                self.save_checkpoint(out)
                self.save(out)
            acc.wait_for_everyone()
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``checkpoints/step-N`` (weights, optimiser, RNG, state) atomically."""
        from safetensors.torch import save_file

        assert self.optimizer is not None
        final = Path(out_dir) / CHECKPOINT_DIR / f"step-{self.step:08d}"
        tmp = _atomic_dir(final)
        weights = {k: v.detach().contiguous().cpu() for k, v in self.trainable_parameters().items()}
        save_file(weights, os.fspath(tmp / "trainable.safetensors"))
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
        save_file(tensors, os.fspath(tmp / "optimizer.safetensors"))
        _write_json(
            tmp / "state.json",
            {
                "step": self.step,
                "param_groups": state["param_groups"],
                "optimizer_scalars": scalars,
                "history": self.history,
                "config": self.config.to_dict(),
                "parameter_names": list(self.trainable_parameters()),
            },
        )
        _publish(tmp, final)
        return final

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore weights, optimiser state, RNG state, step and history from a checkpoint."""
        from safetensors.torch import load_file

        path = Path(path)
        try:
            state = json.loads((path / "state.json").read_text())
            weights = load_file(os.fspath(path / "trainable.safetensors"))
            tensors = load_file(os.fspath(path / "optimizer.safetensors"))
        except (OSError, ValueError) as err:
            raise ModelFileError(f"{path}: unreadable checkpoint ({err})") from None
        params = self.trainable_parameters()
        if list(params) != state["parameter_names"]:
            raise ModelFileError(f"{path}: checkpoint parameters do not match the model")
        with torch.no_grad():
            for name, p in params.items():
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
        final = out / POLICY_DIR
        tmp = _atomic_dir(final)
        model = self.model
        if self.is_peft:
            model.save_pretrained(os.fspath(tmp / "adapter"))
            model = copy.deepcopy(model).merge_and_unload()
        model.save_pretrained(os.fspath(tmp))
        self.tokenizer.save_pretrained(os.fspath(tmp))
        _publish(tmp, final)
        _write_json(
            out / CONFIG_FILE,
            {
                "config": self.config.to_dict(),
                "base": self.base,
                "step": self.step,
                "history": self.history,
            },
        )
        return final

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, dataset: Any, *, reference_model: Any | None = None) -> dict[str, float]:
        """Loss, implicit-reward accuracy and ranking accuracy of the current policy."""
        from prefkit.align.diagnostics import evaluate_policy

        ref = reference_model or self.reference_model
        # a listwise run is judged by its own listwise loss (diagnostics.evaluate_lists)
        return evaluate_policy(self.model, self.tokenizer, dataset, reference_model=ref,
                               loss=self.config.loss, beta=self.config.beta,
                               loss_params=self.config.loss_params,
                               max_length=self.config.max_length,
                               max_prompt_length=self.config.max_prompt_length,
                               batch_size=self.config.ref_batch_size)


#: (whole micro-batch, positions this process evaluates, precomputed reference side of the
#: micro-batch's KL pairs or None)
KLContext = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, torch.Tensor | None]


def _kl_context(
    context: KLContext | None, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray, torch.Tensor | None]:
    if context is None:
        return index, np.arange(len(index)), None
    if len(context) == 2:
        return context[0], context[1], None
    return context  # type: ignore[return-value]


def _load_reference(
    cache: str | os.PathLike[str] | None, fingerprint: str
) -> dict[str, torch.Tensor] | None:
    """The tensors of a reference cache file whose fingerprint matches, else None."""
    if cache is None or not Path(cache).exists():
        return None
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(os.fspath(cache), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("fingerprint") != fingerprint:
        return None
    return load_file(os.fspath(cache))


def _save_reference(
    cache: str | os.PathLike[str], tensors: dict[str, torch.Tensor], fingerprint: str
) -> None:
    from safetensors.torch import save_file

    path = Path(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.fspath(tmp),
              metadata={"fingerprint": fingerprint})
    os.replace(tmp, path)


def latest_checkpoint(out_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (None if there is none)."""
    root = Path(out_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").exists())
    return done[-1] if done else None


def load_policy(out_dir: str | os.PathLike[str]) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, saved run info) of a trained run directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir)
    if not (out / CONFIG_FILE).exists() or not (out / POLICY_DIR).is_dir():
        raise ModelFileError(f"{out}: not a prefkit align run (no {CONFIG_FILE} / {POLICY_DIR}/)")
    info = json.loads((out / CONFIG_FILE).read_text())
    model = AutoModelForCausalLM.from_pretrained(os.fspath(out / POLICY_DIR))
    tokenizer = AutoTokenizer.from_pretrained(os.fspath(out / POLICY_DIR))
    return model, tokenizer, info

