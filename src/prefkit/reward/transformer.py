r"""Fine-tuned transformer reward model: a Hugging Face sequence classifier with one output.

The reward-model recipe of Stiennon et al. 2020 and Ouyang et al. 2022 (TRL ``RewardTrainer``,
OpenRLHF ``train_rm``): a pretrained encoder or decoder with a scalar head
(``AutoModelForSequenceClassification``, ``num_labels=1``), all weights (or LoRA adapters, Hu et
al. 2022) trained on pairs with the Bradley–Terry loss::

    r_θ(x, y) = head(transformer(pack(x, y)))
    loss = −Σ_i w_i [ỹ_i log σ(Δ_i) + (1 − ỹ_i) log σ(−Δ_i)] / Σ_i w_i + λ_c · mean(r²)
    Δ_i = r_θ(x_i, a_i) − r_θ(x_i, b_i) − m_i (2 y_i − 1)

(ỹ: labels with smoothing ε; m: optional margins; λ_c: reward centring.)  Each candidate is packed
as the end of the prompt plus the whole response (:mod:`prefkit.encode.packing`).  Training runs
through ``accelerate`` (CPU, one or several GPUs, mixed precision as configured by ``accelerate
config``).  Under ``accelerate launch --multi_gpu --num_processes K`` (on CPUs with
``ACCELERATE_USE_CPU=1``: gloo) or ``torchrun``, each process takes every K-th pair of each global
batch, the gradients are averaged so that the step equals a one-process step on the global batch
(``_epochs``), and only the main process writes in ``save``.  ``save`` writes the
standard Hugging Face layout (``save_pretrained`` of
the model — LoRA adapters merged — and of the tokenizer) plus ``prefkit_rm.json``, so that TRL,
OpenRLHF or RewardBench load the directory with ``AutoModelForSequenceClassification``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.limits import check_inside, read_config
from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import config_value, register
from prefkit.core.progress import progress_bar
from prefkit.data.schema import PreferenceDataset
from prefkit.encode.packing import pack_batch
from prefkit.errors import DataError, ModelFileError
from prefkit.reward.model import candidate_columns

CONFIG_FILE = "prefkit_rm.json"


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _distributed_state() -> Any:
    """accelerate's process state when this is one of several launched processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState()


def _check_launch(num_processes: int) -> None:
    """Warn when ``accelerate launch --cpu --num_processes N`` left a single process.

    Without ``--mpirun_hostfile``, accelerate's launcher runs one process for ``--cpu`` whatever
    ``--num_processes`` says (it only exports ``MASTER_ADDR``); several CPU processes are started
    by ``accelerate launch --multi_gpu --num_processes N`` with ``ACCELERATE_USE_CPU=1``, or by
    ``torchrun --nproc_per_node N``.
    """
    use_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    if num_processes == 1 and use_cpu and "MASTER_ADDR" in os.environ:
        warnings.warn(
            "accelerate launch --cpu started one process: for several CPU processes use "
            "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N (or pass "
            "--mpirun_hostfile)",
            RuntimeWarning,
            stacklevel=3,
        )


@register("reward.TransformerRewardModel")
class TransformerRewardModel(PreferenceEstimator):
    """Fine-tune a Hugging Face model as a Bradley–Terry reward model.

    Args:
        model: local model directory (default: the bundled all-MiniLM-L6-v2).
        max_length: tokens per packed (prompt, response).
        epochs, batch_size (pairs per step), lr, weight_decay, warmup: AdamW with linear warm-up
            and decay.
        lora: train LoRA adapters (peft) of rank ``lora_r`` instead of all weights.
        margin, label_smoothing, center: loss options as in the module docstring.
        seed: seeds the new head's initialisation and the shuffles.

    After ``fit``: ``loss_curve_`` (per epoch) and ``step_losses_`` (per step) are the losses of
    the global batches, the same on every process; ``records_seen_`` counts the pairs this
    process trained on (its shards).
    """

    _fitted_attr = "model_"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        max_length: int = 256,
        epochs: int = 1,
        batch_size: int = 8,
        lr: float = 3e-5,
        weight_decay: float = 0.0,
        warmup: float = 0.1,
        lora: bool = False,
        lora_r: int = 8,
        margin: bool = False,
        label_smoothing: float = 0.0,
        center: float = 0.0,
        seed: int = 0,
        progress: bool | None = None,
    ) -> None:
        self.model = model
        self.max_length = max_length
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.weight_decay, self.warmup = weight_decay, warmup
        self.lora, self.lora_r = lora, lora_r
        self.margin, self.label_smoothing, self.center = margin, label_smoothing, center
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------ loading
    def _source(self) -> str:
        if self.model is not None:
            return str(self.model)
        from prefkit.encode import bundled_model_path

        return str(bundled_model_path())

    def _load(self, source: str) -> None:
        _offline()
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(self.seed)
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(source)
            self.model_ = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
        except (OSError, ValueError, RecursionError) as err:
            raise ModelFileError(f"{source}: cannot load a sequence classifier ({err})") from None
        if self.tokenizer_.pad_token is None:
            self.tokenizer_.pad_token = self.tokenizer_.eos_token
        self.model_.config.pad_token_id = self.tokenizer_.pad_token_id

    def _texts(self, prompts: list[Any], responses: list[str]) -> list[str]:
        return pack_batch(prompts, responses, self.tokenizer_, self.max_length)

    def _batch(self, texts: list[str], device: Any) -> dict[str, Any]:
        enc = self.tokenizer_(
            texts,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        return {k: v.to(device) for k, v in enc.items()}

    # ------------------------------------------------------------------ training
    def fit(self, ds: PreferenceDataset) -> TransformerRewardModel:
        """Fine-tune on a pairwise dataset with texts."""
        import torch
        from accelerate import Accelerator
        from transformers import get_linear_schedule_with_warmup

        prompts, ta, tb = candidate_columns(ds)
        y = ds.outcomes()
        if np.isnan(y).any():
            raise DataError("every record needs a winner or p_a", source=ds.name, field="winner")
        w = ds.weights()
        m = np.zeros(len(ds))
        if self.margin and "margin" in ds.columns:
            m = np.nan_to_num(ds.column("margin").astype(float))
        self._load(self._source())
        if self.lora:
            from peft import LoraConfig, TaskType, get_peft_model

            config = LoraConfig(
                task_type=TaskType.SEQ_CLS, r=self.lora_r, lora_alpha=2 * self.lora_r
            )
            self.model_ = get_peft_model(self.model_, config)
        texts_a = self._texts(prompts, ta)
        texts_b = self._texts(prompts, tb)

        accelerator = Accelerator(cpu=not torch.cuda.is_available())
        _check_launch(accelerator.num_processes)
        params = [p for p in self.model_.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        n = len(ds)
        steps_per_epoch = (n + self.batch_size - 1) // self.batch_size
        total = max(1, steps_per_epoch * self.epochs)
        sched = get_linear_schedule_with_warmup(opt, int(self.warmup * total), total)
        model, opt = accelerator.prepare(self.model_, opt)
        self.loss_curve_: list[float] = []
        self.step_losses_: list[float] = []
        model.train()
        show = sys.stderr.isatty() if self.progress is None else self.progress
        show = show and accelerator.is_main_process
        with progress_bar(show, total, "fine-tuning", "steps") as advance:
            self._epochs(model, opt, sched, accelerator, texts_a, texts_b, y, w, m, advance)
        model = accelerator.unwrap_model(model)
        if self.lora:
            model = model.merge_and_unload()
        self.model_ = model.eval()
        return self

    def _epochs(
        self, model: Any, opt: Any, sched: Any, accelerator: Any, texts_a: list[str],
        texts_b: list[str], y: np.ndarray, w: np.ndarray, m: np.ndarray, advance: Any,
    ) -> None:
        """The training loop; under ``accelerate launch`` each process takes a shard of a batch.

        Every process draws the same permutation, so they agree on the global batch B; process k
        of K takes B[k::K].  Its loss is scaled so that DDP's *average* of the K gradients is the
        gradient of the global-batch loss::

            L_k = K · [Σ_{B_k} w_i ℓ_i / Σ_B w_i + λ_c Σ_{B_k} (r_ai² + r_bi²) / (2|B|)]

        so that (1/K) Σ_k ∇L_k = ∇L(B) for any shard sizes and weights; a process whose shard is
        empty (|B| < K) runs one record with weight 0, to keep the gradient all-reduce in step.
        """
        import torch

        n = len(y)
        world, rank = accelerator.num_processes, accelerator.process_index
        device = accelerator.device
        gen = np.random.default_rng(self.seed)
        eps = self.label_smoothing
        self.records_seen_ = 0
        for _ in range(self.epochs):
            order = gen.permutation(n)
            total_loss = 0.0
            for start in range(0, n, self.batch_size):
                batch = order[start : start + self.batch_size]
                idx = batch[rank::world]
                active = 1.0
                if len(idx) == 0:  # fewer records than processes: a zero-weight stand-in
                    idx, active = batch[:1], 0.0
                self.records_seen_ += int(active) * len(idx)
                w_total = max(float(w[batch].sum()), 1e-12)
                enc = self._batch([texts_a[i] for i in idx] + [texts_b[i] for i in idx], device)
                rewards = model(**enc).logits[:, 0].float()
                ra, rb = rewards[: len(idx)], rewards[len(idx) :]
                yi = torch.as_tensor(y[idx], dtype=torch.float32, device=device)
                wi = torch.as_tensor(w[idx], dtype=torch.float32, device=device)
                mi = torch.as_tensor(m[idx], dtype=torch.float32, device=device)
                gap = ra - rb - mi * (2 * yi - 1)
                target = yi * (1 - eps) + eps / 2
                per = torch.nn.functional.binary_cross_entropy_with_logits(
                    gap, target, reduction="none"
                )
                loss = (per * wi).sum() / w_total
                if self.center > 0:
                    loss = loss + self.center * rewards.pow(2).sum() / (2 * len(batch))
                loss = loss * (world * active)
                accelerator.backward(loss)
                opt.step()
                sched.step()
                opt.zero_grad()
                # the global batch's loss: the mean over processes of the scaled shard losses
                batch_loss = float(accelerator.reduce(loss.detach().clone(), reduction="mean"))
                self.step_losses_.append(batch_loss)
                total_loss += batch_loss * len(batch)
                advance(1)
            self.loss_curve_.append(total_loss / n)

    # ------------------------------------------------------------------ answers
    @property
    def model_path(self) -> Any:
        """Deprecated name of the ``model`` hyper-parameter."""
        return self.model

    def _check(self) -> None:
        self.check_fitted()

    def reward_texts(
        self, prompts: list[Any], responses: list[str], batch_size: int = 32
    ) -> np.ndarray:
        """Reward of each response to its prompt, shape ``(n,)``."""
        import torch

        self._check()
        texts = self._texts(list(prompts), [str(r) for r in responses])
        device = next(self.model_.parameters()).device
        out = np.empty(len(texts))
        order = np.argsort([-len(t) for t in texts], kind="stable")
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                batch = self._batch([texts[i] for i in rows], device)
                out[rows] = self.model_(**batch).logits[:, 0].double().cpu().numpy()
        return out

    def score_texts(self, prompts: list[Any], responses: list[str], batch_size: int = 32):
        """Deprecated alias of :meth:`reward_texts`."""
        warnings.warn("score_texts is deprecated; use reward_texts", DeprecationWarning,
                      stacklevel=2)
        return self.reward_texts(prompts, responses, batch_size)

    def reward(self, ds: PreferenceDataset) -> np.ndarray:
        """Rewards (r_a, r_b) per record, shape ``(n, 2)``."""
        prompts, ta, tb = candidate_columns(ds)
        r = self.reward_texts(prompts + prompts, ta + tb)
        return np.column_stack([r[: len(ds)], r[len(ds) :]])

    def score(self, ds: PreferenceDataset) -> tuple[np.ndarray, np.ndarray]:
        """Deprecated alias of :meth:`reward` (the two columns as a tuple)."""
        warnings.warn("score is deprecated; use reward(ds) -> (n, 2)", DeprecationWarning,
                      stacklevel=2)
        r = self.reward(ds)
        return r[:, 0], r[:, 1]

    def predict_proba(self, ds: PreferenceDataset) -> np.ndarray:
        """P(a ≻ b) = σ(r_a − r_b) per record."""
        r = self.reward(ds)
        return sigmoid(r[:, 0] - r[:, 1])

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """``prefkit.save`` layout; the model itself in plain Hugging Face format under ``hf/``
        (safetensors + tokenizer, LoRA merged), so TRL, OpenRLHF or RewardBench load
        ``DIR/hf`` with ``AutoModelForSequenceClassification``.

        Under ``accelerate launch`` (several processes, identical weights after ``fit``) only the
        main process writes; the others wait for it.
        """
        self._check()
        state = _distributed_state()
        path = Path(directory)
        if state is None or state.is_main_process:
            path = super().save(directory, overwrite=overwrite)
        if state is not None:
            state.wait_for_everyone()
        return path

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        params = {k: v for k, v in self.get_params().items() if k != "model"}
        return {"params": params, "hf_dir": HF_DIR}, {}

    def _write_extra(self, directory: Path) -> list[str]:
        self.model_.save_pretrained(directory / HF_DIR, safe_serialization=True)
        self.tokenizer_.save_pretrained(directory / HF_DIR)
        return [HF_DIR]

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **kw: Any
    ) -> TransformerRewardModel:
        params = config_value(config, "params", dict, Path(directory) / "config.json")
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ModelFileError(f"{directory}/config.json: unknown parameter {unknown[0]!r}")
        hf = check_inside(str(config.get("hf_dir", HF_DIR)), directory)
        model = cls(hf, **params)
        model._load(str(hf))
        model.model_.eval()
        return model

    @classmethod
    def _from_legacy(cls, directory: Path, **kw: Any) -> TransformerRewardModel:
        """A 0.1 directory: Hugging Face files + ``prefkit_rm.json`` at the top."""
        path = Path(directory)
        config = read_config(path / CONFIG_FILE)
        max_length = config.get("max_length", 256)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ModelFileError(f"{path / CONFIG_FILE}: 'max_length' must be a positive integer")
        model = cls(path, max_length=max_length)
        model._load(str(path))
        model.model_.eval()
        return model


#: the Hugging Face model folder inside a saved TransformerRewardModel
HF_DIR = "hf"
