r"""The online loop: the policy samples, a labeller scores, the policy learns.

Each optimiser step (``OnlineTrainer.train``):

1. picks ``prompts_per_step`` prompts — a pure function of (seed, step), the offline trainer's
   data order;
2. samples completions from the current policy (:mod:`.sampling`; seeded by (seed, step));
3. labels them (:mod:`.labellers`): rewards or pairwise preferences, checked — a failing
   labeller or NaN labels stop the step *before* any update with one line
   (:class:`~prefkit.align.online.labellers.LabellerError`), and the last checkpoint is kept;
4. takes one step of the algorithm's loss: ``online-dpo`` (:mod:`.online_dpo`),
   ``iterative-dpo`` (:mod:`.iterative_dpo`), ``sppo`` (:mod:`.sppo`), ``rloo``
   (:mod:`.rloo`), ``grpo`` (:mod:`.grpo`), with the KL control of :mod:`.kl` and the reward
   transforms of :mod:`.transforms`;
5. records diagnostics: proxy reward (the labeller's; NaN for pairwise labellers), gold reward
   (when a gold function is given), KL(π_θ ‖ π_ref) (the mean over samples of
   Σ_t log π_θ − log π_ref, an unbiased sequence-KL estimate), √KL, per-token entropy,
   completion length, share truncated, win rate against the reference policy judged by the
   labeller (P(y ≻ y_ref) with y_ref one reference sample per prompt), and — with
   ``eval_pairs`` — the offline evaluation (ranking accuracy …) every ``eval_every`` steps.

The optimiser, checkpoints (weights, AdamW state, RNG, history) and the final policy are the
offline :class:`~prefkit.align.trainer.AlignTrainer`'s; sampling and prompt order are pure
functions of (seed, step), and a refreshed reference (SPPO, iterative DPO) and the current round's
pairs (iterative DPO) are saved beside the checkpoints, so a resumed run reproduces the
uninterrupted one exactly (tested).  One process only (no DDP for the online loop).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.config import AlignConfig
from prefkit.align.online.algorithms import step_loss_function
from prefkit.align.online.config import OnlineConfig, resume_differences
from prefkit.align.online.grpo import grpo_advantages, grpo_loss
from prefkit.align.online.iterative_dpo import best_worst
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.labellers import FunctionLabeller, Labeller, LabellerError, as_labeller
from prefkit.align.online.online_dpo import online_pairs
from prefkit.align.online.rloo import rloo_advantages, rloo_loss
from prefkit.align.online.sampling import (
    Rollout,
    completion_logps,
    rollout_token_logps,
    sample_rollout,
)
from prefkit.align.online.sppo import sppo_loss
from prefkit.align.online.transforms import apply_transform, length_penalty, per_prompt_normalise
from prefkit.align.pairs import TokenPairs, pair_logps
from prefkit.align.rundir import CHECKPOINT_DIR, write_json
from prefkit.align.trainer import AlignTrainer
from prefkit.core.atomic import atomic_path
from prefkit.errors import DataError, ModelFileError

ONLINE_CONFIG = "online_config.json"
REFERENCE_SNAPSHOTS = "reference"
ROUND_FILE = "online_round.json"
HISTORY_KEYS = ("step", "loss", "reward", "gold", "kl", "sqrt_kl", "entropy", "length",
                "truncated", "win_rate", "grad_norm", "lr", "samples", "seconds")


class OnlineTrainer:
    """Online preference optimisation of a causal LM against a labeller.

    Args:
        model, tokenizer: the policy (a Hugging Face causal LM) and its tokenizer.
        labeller: a :class:`~prefkit.align.online.labellers.Labeller`, a reward model, a
            pairwise model, a judge (``predict_proba``) or a function (prompts, completions).
        prompts: the training prompts.
        config: :class:`~prefkit.align.online.config.OnlineConfig`.
        reference_model: π_ref (default: a frozen copy of the initial policy).
        gold: optional gold reward, a function (prompts, completions) → rewards (or a
            labeller), recorded as ``gold`` but never trained on.
        eval_pairs: optional held-out pairwise dataset, evaluated every ``eval_every`` steps.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labeller: Any,
        prompts: Sequence[str],
        config: OnlineConfig | None = None,
        *,
        reference_model: Any | None = None,
        gold: Any | None = None,
        eval_pairs: Any | None = None,
        eval_every: int = 0,
        base: str | None = None,
    ) -> None:
        self.config = cfg = config or OnlineConfig()
        cfg.check()
        self.prompts = [str(p) for p in prompts]
        if not self.prompts:
            raise DataError("online training needs at least one prompt")
        self.labeller: Labeller = as_labeller(labeller)
        self.gold: Labeller | None = None
        if gold is not None:
            self.gold = gold if isinstance(gold, Labeller) else FunctionLabeller(gold,
                                                                                 name="gold")
        dpo = cfg.algo in ("online-dpo", "iterative-dpo")
        align_cfg = AlignConfig(
            loss=cfg.loss if dpo else "dpo", beta=cfg.beta if dpo and cfg.beta > 0 else 0.1,
            loss_params=dict(cfg.loss_params) if dpo else {},
            learning_rate=cfg.learning_rate, max_grad_norm=cfg.max_grad_norm,
            weight_decay=cfg.weight_decay, batch_size=min(cfg.prompts_per_step,
                                                          len(self.prompts)),
            max_steps=cfg.max_steps, seed=cfg.seed, save_every=cfg.save_every)
        self.inner = AlignTrainer(model, tokenizer, align_cfg, base=base)
        self.model = self.inner.model
        self.tokenizer = tokenizer
        self.device = self.inner.device
        # the reference is refreshed in place (SPPO, APO, iterative DPO): never the caller's
        reference = copy.deepcopy(reference_model if reference_model is not None else model)
        self.reference = self._frozen(reference)
        self.eval_pairs, self.eval_every = eval_pairs, eval_every
        self.progress: bool | None = None
        self._ref_rewards: dict[str, float] = {}
        self._round: dict[str, Any] | None = None
        self._out: Path | None = None

    # ------------------------------------------------------------------ state
    @property
    def step(self) -> int:
        return self.inner.step

    @property
    def history(self) -> list[dict[str, float]]:
        return self.inner.history

    def _frozen(self, model: Any) -> Any:
        """The reference in eval mode; it is only ever run under ``torch.no_grad``."""
        return model.to(self.device).eval()

    def step_prompts(self, step: int) -> list[str]:
        """The prompts of optimiser step ``step`` (pure function of seed and step)."""
        idx = self.inner.batch_indices(step, 0, len(self.prompts))
        return [self.prompts[i] for i in idx]

    def step_seed(self, step: int) -> int:
        return self.config.seed * 1_000_003 + 7919 * step + 1

    # ------------------------------------------------------------------ reference samples
    def _ref_text(self, prompt: str) -> str:
        """One completion of the reference policy for ``prompt``: prompts are sampled in fixed
        chunks of 64 (in file order, chunk c seeded by c) when first needed, so the sample
        does not depend on when it is asked for."""
        if not hasattr(self, "_ref_index"):
            self._ref_index = {p: i for i, p in enumerate(self.prompts)}
            self._ref_chunks: dict[int, list[str]] = {}
        i = self._ref_index[prompt]
        chunk = i // 64
        if chunk not in self._ref_chunks:
            cfg = self.config
            part = sample_rollout(self.reference, self.tokenizer,
                                  self.prompts[chunk * 64: chunk * 64 + 64], n=1,
                                  max_new_tokens=cfg.max_new_tokens,
                                  temperature=cfg.temperature, top_k=cfg.top_k,
                                  seed=cfg.seed * 1_000_003 + 104_729 + chunk, logps=False)
            self._ref_chunks[chunk] = part.texts
        return self._ref_chunks[chunk][i - chunk * 64]

    def reference_rewards(self, prompts: list[str]) -> np.ndarray:
        """The labeller's reward of the reference sample of each prompt (cached)."""
        missing = sorted({p for p in prompts if p not in self._ref_rewards})
        if missing:
            values = self.labeller.rewards(missing, [self._ref_text(p) for p in missing])
            self._ref_rewards.update(zip(missing, values.tolist(), strict=True))
        return np.array([self._ref_rewards[p] for p in prompts])

    # ------------------------------------------------------------------ one step
    def _sample(self, prompts: list[str], n: int, seed: int) -> Rollout:
        cfg = self.config
        return sample_rollout(self.model, self.tokenizer, prompts, n=n,
                              max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                              top_k=cfg.top_k, seed=seed)

    def _scalar_rewards(self, rollout: Rollout) -> np.ndarray:
        cfg = self.config
        prompts = rollout.sample_prompts
        rewards = self.labeller.group_rewards(prompts, rollout.texts, rollout.group_size)
        if cfg.transform != "none":
            if not self.labeller.scalar:
                raise ValueError(f"the {cfg.transform} transform needs a scalar labeller")
            rewards = apply_transform(cfg.transform, rewards, self.reference_rewards(prompts))
        if cfg.length_penalty:
            rewards = length_penalty(rewards, rollout.lengths.numpy(), cfg.length_penalty,
                                     cfg.free_tokens)
        return rewards

    def _policy_gradient_loss(self, rollout: Rollout, ref_tok: torch.Tensor,
                              record: dict[str, float]) -> torch.Tensor:
        cfg = self.config
        dev = self.device
        rewards = torch.as_tensor(self._scalar_rewards(rollout), dtype=torch.float32)
        mask = rollout.completion_mask.to(torch.float32)
        if cfg.beta and cfg.kl_place == "reward":
            kl = (kl_per_token(rollout.token_logps, ref_tok, cfg.kl_est) * mask).sum(-1)
            rewards = rewards - cfg.beta * kl
        if cfg.per_prompt_norm:
            rewards = torch.as_tensor(per_prompt_normalise(rewards.numpy(), rollout.group_size),
                                      dtype=torch.float32)
        k = rollout.group_size
        if cfg.algo == "rloo":
            adv = rloo_advantages(rewards, k, normalize=cfg.normalize_advantages)
        else:
            adv = grpo_advantages(rewards, k, scale=cfg.scale_rewards)
        tok, _ = completion_logps(self.model, rollout.prompt_ids, rollout.prompt_mask,
                                  rollout.completion_ids, rollout.completion_mask)
        mask, adv, ref_dev = mask.to(dev), adv.to(dev), ref_tok.to(dev)
        in_loss = cfg.beta if cfg.kl_place == "loss" else 0.0
        if cfg.algo == "rloo":
            logps = (tok * mask).sum(-1)
            loss = rloo_loss(logps, logps.detach(), adv, epsilon_low=cfg.epsilon,
                             epsilon_high=cfg.epsilon)
            if in_loss:
                loss = loss + in_loss * ((kl_per_token(tok, ref_dev, cfg.kl_est) * mask)
                                         .sum(-1).mean())
            return loss
        return grpo_loss(tok, tok.detach(), adv, mask, ref_token_logps=ref_dev, beta=in_loss,
                         kl_estimator=cfg.kl_est, epsilon_low=cfg.epsilon,
                         epsilon_high=cfg.epsilon)

    def _sppo_loss(self, rollout: Rollout, ref_tok: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        win = self.labeller.win_rates(rollout.sample_prompts, rollout.texts, rollout.group_size)
        tok, _ = completion_logps(self.model, rollout.prompt_ids, rollout.prompt_mask,
                                  rollout.completion_ids, rollout.completion_mask)
        mask = rollout.completion_mask.to(self.device, torch.float32)
        logps = (tok * mask).sum(-1)
        ref = (ref_tok.to(self.device) * mask).sum(-1)
        win_t = torch.as_tensor(win, dtype=torch.float32, device=self.device)
        return sppo_loss(logps, ref, win_t, eta=cfg.eta).mean()

    def _pair_preferences(self, rollout: Rollout) -> np.ndarray:
        prompts = rollout.sample_prompts
        return self.labeller.preferences(prompts[0::2], rollout.texts[0::2],
                                         rollout.texts[1::2])

    def _pairs_loss(self, pairs: TokenPairs, index: np.ndarray,
                    refs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        loss, _ = self.inner.batch_loss(pairs, index, *refs)
        return loss

    def _text_pairs(self, prompts: list[str], first: list[str], second: list[str],
                    p: np.ndarray, *, keep_ties: bool = False) -> tuple[TokenPairs, np.ndarray]:
        icfg = self.inner.config
        return online_pairs(self.tokenizer, prompts, first, second, p, keep_ties=keep_ties,
                            max_length=icfg.max_length, max_prompt_length=icfg.max_prompt_length)

    def _reference_pair_logps(self, pairs: TokenPairs) -> tuple[torch.Tensor, torch.Tensor]:
        res = pair_logps(self.reference, pairs, pad_id=self.inner.pad_id,
                         batch_size=self.inner.config.ref_batch_size)
        return res["chosen"], res["rejected"]

    def _new_round(self, round_index: int) -> None:
        """Iterative DPO: sample, label and pair the round's prompts (best vs worst)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 17, round_index])
        size = min(cfg.round_prompts, len(self.prompts))
        prompts = [self.prompts[i] for i in rng.choice(len(self.prompts), size, replace=False)]
        rollout = self._sample(prompts, cfg.group_size, self.step_seed(self.step))
        scores = self.labeller.group_rewards(rollout.sample_prompts, rollout.texts,
                                             cfg.group_size)
        chosen = best_worst(scores, cfg.group_size)
        sp, texts = rollout.sample_prompts, rollout.texts
        pairs, _ = self._text_pairs([sp[i] for i, _ in chosen], [texts[i] for i, _ in chosen],
                                    [texts[j] for _, j in chosen], np.ones(len(chosen)))
        refs = self._reference_pair_logps(pairs) if len(pairs) else (torch.zeros(0),
                                                                     torch.zeros(0))
        self._round = {"round": round_index, "pairs": pairs, "refs": refs, "rollout": rollout,
                       "scores": scores}
        if self._out is not None:
            with atomic_path(self._out / ROUND_FILE) as tmp:
                Path(tmp).write_text(json.dumps({
                    "round": round_index, "prompt_ids": pairs.prompt_ids,
                    "chosen_ids": pairs.chosen_ids, "rejected_ids": pairs.rejected_ids,
                    "ref_chosen": refs[0].tolist(), "ref_rejected": refs[1].tolist()}))

    def _load_round(self, out: Path, round_index: int) -> None:
        path = out / ROUND_FILE
        try:
            data = json.loads(path.read_text())
            if data["round"] != round_index:
                raise ValueError(f"holds round {data['round']}, the checkpoint needs "
                                 f"{round_index}")
            n = len(data["prompt_ids"])
            pairs = TokenPairs(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"],
                               np.ones(n), np.ones(n))
            refs = (torch.tensor(data["ref_chosen"]), torch.tensor(data["ref_rejected"]))
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
            raise ModelFileError(f"{path}: cannot resume iterative DPO mid-round ({err})"
                                 ) from None
        self._round = {"round": round_index, "pairs": pairs, "refs": refs, "rollout": None,
                       "scores": None}

    def _iterative_loss(self, record: dict[str, float]) -> tuple[torch.Tensor | None,
                                                                 Rollout | None]:
        cfg = self.config
        r = self.step // cfg.steps_per_round
        rollout = None
        if self._round is None or self._round["round"] != r:
            self._new_round(r)
            rollout = self._round["rollout"] if self._round else None
        assert self._round is not None
        pairs, refs = self._round["pairs"], self._round["refs"]
        if len(pairs) == 0:
            return None, rollout
        rng = np.random.default_rng([cfg.seed, 29, self.step])
        index = rng.choice(len(pairs), min(cfg.prompts_per_step, len(pairs)), replace=False)
        record["samples"] = float(len(rollout)) if rollout is not None else 0.0
        return self._pairs_loss(pairs, np.sort(index), refs), rollout

    def _refresh_reference(self) -> None:
        """SPPO / iterative DPO: π_ref ← the current policy (snapshot saved for resume)."""
        self.reference.load_state_dict(self.model.state_dict())
        if self._out is not None:
            from safetensors.torch import save_file

            folder = self._out / REFERENCE_SNAPSHOTS
            folder.mkdir(parents=True, exist_ok=True)
            state = {k: v.detach().contiguous().cpu() for k, v in
                     self.reference.state_dict().items()}
            with atomic_path(folder / f"step-{self.step:08d}.safetensors") as tmp:
                save_file(state, os.fspath(tmp))

    def _maybe_refresh(self) -> None:
        every = self.config.refresh_every
        if every and self.step > 0 and self.step % every == 0:
            self._refresh_reference()

    def train_step(self) -> dict[str, float]:
        """One optimiser step; returns its record (also appended to ``history``)."""
        cfg = self.config
        t0 = time.perf_counter()
        self.inner._ensure_engine()
        self._maybe_refresh()
        record: dict[str, float] = {"step": float(self.step + 1)}
        rollout: Rollout | None = None
        ref_tok: torch.Tensor | None = None
        loss: torch.Tensor | None
        self.model.train()
        if cfg.algo == "iterative-dpo":
            loss, rollout = self._iterative_loss(record)
            if rollout is not None:
                ref_tok = rollout_token_logps(self.reference, rollout)
        else:
            prompts = self.step_prompts(self.step)
            rollout = self._sample(prompts, cfg.samples_per_prompt, self.step_seed(self.step))
            ref_tok = rollout_token_logps(self.reference, rollout)
            record["samples"] = float(len(rollout))
            if cfg.algo == "online-dpo":
                p = self._pair_preferences(rollout)
                sp = rollout.sample_prompts
                pairs, _ = self._text_pairs(sp[0::2], rollout.texts[0::2], rollout.texts[1::2],
                                            p, keep_ties="p" in self.inner.spec.parameters)
                loss = (self._pairs_loss(pairs, np.arange(len(pairs)),
                                         self._reference_pair_logps(pairs))
                        if len(pairs) else None)
            elif cfg.algo == "sppo":
                loss = self._sppo_loss(rollout, ref_tok)
            elif cfg.algo in ("rloo", "grpo"):
                loss = self._policy_gradient_loss(rollout, ref_tok, record)
            else:
                loss = step_loss_function(cfg.algo)(self, rollout, ref_tok, record)
        self._update(loss, record)
        self._diagnostics(rollout, ref_tok, record)
        record["seconds"] = time.perf_counter() - t0
        self.inner.step += 1
        self.history.append(record)
        if self.eval_pairs is not None and self.eval_every and self.step % self.eval_every == 0:
            ev = self.inner.evaluate(self.eval_pairs, reference_model=self.reference)
            for key in ("ranking_accuracy", "implicit_reward_accuracy"):
                if key in ev:
                    record[f"eval_{key}"] = float(ev[key])
        return record

    def _update(self, loss: torch.Tensor | None, record: dict[str, float]) -> None:
        cfg = self.config
        opt = self.inner.optimizer
        assert opt is not None
        lr = self.inner._lr(self.step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        record["lr"] = lr
        if loss is None:  # nothing to learn from (all ties / no pairs)
            record["loss"], record["grad_norm"] = float("nan"), float("nan")
            return
        if not torch.isfinite(loss):
            raise LabellerError(f"the {cfg.algo} loss is not finite ({float(loss)})")
        self.inner.accelerator.backward(loss)
        grad_norm = float("nan")
        if cfg.max_grad_norm is not None:
            grad_norm = self.inner._clip(list(self.inner.trainable_parameters().values()),
                                         cfg.max_grad_norm)
        opt.step()
        record["loss"], record["grad_norm"] = float(loss.detach()), grad_norm

    def _diagnostics(self, rollout: Rollout | None, ref_tok: torch.Tensor | None,
                     record: dict[str, float]) -> None:
        for key in ("reward", "gold", "kl", "sqrt_kl", "entropy", "length", "truncated",
                    "win_rate"):
            record.setdefault(key, float("nan"))
        if rollout is None or ref_tok is None:
            return
        prompts = rollout.sample_prompts
        mask = rollout.completion_mask.to(torch.float32)
        if self.labeller.scalar:
            record["reward"] = float(np.mean(self.labeller.rewards(prompts, rollout.texts)))
        if self.gold is not None:
            record["gold"] = float(np.mean(self.gold.rewards(prompts, rollout.texts)))
        kl = float(((rollout.token_logps - ref_tok) * mask).sum(-1).mean())
        record["kl"], record["sqrt_kl"] = kl, math.sqrt(max(kl, 0.0))
        if rollout.entropies.numel():
            record["entropy"] = float((rollout.entropies * mask).sum() / mask.sum().clamp(min=1))
        record["length"] = float(rollout.lengths.float().mean())
        record["truncated"] = float(rollout.truncated.float().mean())
        first = list(range(0, len(rollout), rollout.group_size))
        refs = [self._ref_text(prompts[i]) for i in first]
        p = self.labeller.preferences([prompts[i] for i in first],
                                      [rollout.texts[i] for i in first], refs)
        record["win_rate"] = float(np.mean(p))

    # ------------------------------------------------------------------ the loop
    def train(self, out_dir: str | os.PathLike[str] | None = None, *, resume: bool = False,
              max_steps: int | None = None, callback: Callable[..., Any] | None = None,
              progress: bool | None = None) -> list[dict[str, float]]:
        """Train until ``max_steps`` (default ``config.max_steps``); returns the history.

        With ``out_dir``: checkpoints every ``save_every`` steps and at the end, the final
        policy (``policy/``, ``align_config.json``) and ``online_config.json``.  ``resume``
        continues from the latest checkpoint (refused when the settings differ).  A labeller
        failure raises :class:`LabellerError` naming the step and the checkpoint kept.
        """
        cfg = self.config
        if progress is not None:
            self.progress = progress
        total = cfg.max_steps if max_steps is None else max_steps
        out = Path(out_dir) if out_dir is not None else None
        self._out = out
        checkpoint = self.inner._start_run(out, resume)
        if out is not None:
            self._check_online_config(out, checkpoint is not None)
        self.inner._ensure_engine()
        if checkpoint is not None:
            self.inner.load_checkpoint(checkpoint)
            self._restore_online_state(out)  # type: ignore[arg-type]
        elif not resume:
            torch.manual_seed(cfg.seed)
        from prefkit.core.progress import progress_bar

        with progress_bar(self.progress, max(total - self.step, 0), f"online {cfg.algo}",
                          "steps") as advance:
            while self.step < total:
                try:
                    record = self.train_step()
                except LabellerError as err:
                    raise LabellerError(self._failure(err, out)) from None
                advance(1)
                if callback is not None:
                    callback(self, record)
                if out is not None and cfg.save_every and self.step % cfg.save_every == 0:
                    self.inner.save_checkpoint(out)
        if out is not None:
            self.inner.save_checkpoint(out)
            self.inner.save(out)
        return self.history

    def _failure(self, err: LabellerError, out: Path | None) -> str:
        from prefkit.align.rundir import latest_checkpoint

        where = f"step {self.step + 1}: {err}"
        if out is None:
            return where + " (no update was made)"
        last = latest_checkpoint(out)
        kept = f"; the last checkpoint {last} is kept" if last else "; no checkpoint yet"
        return where + " (no update was made" + kept + ")"

    def _check_online_config(self, out: Path, resuming: bool) -> None:
        path = out / ONLINE_CONFIG
        if resuming and path.is_file():
            try:
                saved = json.loads(path.read_text())
            except (OSError, ValueError, RecursionError) as err:
                raise ModelFileError(f"{path}: unreadable ({err})") from None
            diffs = resume_differences(saved if isinstance(saved, dict) else {}, self.config)
            if diffs:
                raise ModelFileError(f"{path}: cannot resume with other settings ("
                                     + "; ".join(diffs) + ")")
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, self.config.to_dict())

    def _restore_online_state(self, out: Path) -> None:
        cfg = self.config
        every = cfg.refresh_every
        if every and self.step > every:
            # refreshes happen at the start of a step, after `every`, `2·every` … steps
            last = ((self.step - 1) // every) * every
            if last > 0:
                from safetensors.torch import load_file

                path = out / REFERENCE_SNAPSHOTS / f"step-{last:08d}.safetensors"
                try:
                    self.reference.load_state_dict(load_file(os.fspath(path)))
                except (OSError, RuntimeError, ValueError) as err:
                    raise ModelFileError(f"{path}: cannot restore the reference policy "
                                         f"({err})") from None
        if cfg.algo == "iterative-dpo" and self.step % cfg.steps_per_round:
            self._load_round(out, self.step // cfg.steps_per_round)


def checkpoint_dir(out: str | os.PathLike[str]) -> Path:
    return Path(out) / CHECKPOINT_DIR
