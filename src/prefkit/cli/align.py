"""``prefkit align …``: train a policy on preference pairs, evaluate it, best-of-N sample.

Registered by the CLI package as ``app.add_typer(align_app, name="align")``.  Thin on purpose:
parse arguments, call :mod:`prefkit.align`, print or write results.  Bad input ends as one
``error:`` line with exit status 2 (see :func:`~prefkit.cli._common.guard`).
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from prefkit.cli._common import about, echo_json, guard, load, out_console
from prefkit.cli._eval import DEFAULT_MIN_GROUP_SIZE, ByOption, MinGroupSizeOption
from prefkit.cli.options import (
    ForceOpt,
    FormatOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    json_flag,
    out_dir,
    out_file,
)
from prefkit.errors import DataError, ModelFileError

align_app = typer.Typer(
    name="align",
    help="Align a causal LM to preference data (DPO family), evaluate it, sample best-of-N.",
    no_args_is_help=True,
)

EVAL_JSON_KEYS = ("implicit_reward_accuracy", "ranking_accuracy", "loss", "n")

DataArg = Annotated[Path, typer.Argument(help="Pairwise preference file (prompt, a_text, b_text, "
                                         "winner or p_a), or ranking file with texts.")]


class SampleMethod(str, Enum):
    """How ``align bon`` picks among the samples."""

    bon = "bon"
    rso = "rso"


def _quiet() -> None:
    """No progress bars from transformers on stderr (keeps ``--json`` output clean)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _loss_name(name: str) -> str:
    from prefkit.align.losses import get_loss
    from prefkit.cli._common import fail

    try:
        spec = get_loss(name)
    except KeyError as err:  # one line (exit 2) listing every registered name (issue 19)
        fail(f"--loss: {err.args[0]}")
    if spec.kind not in ("pairwise", "listwise"):
        raise typer.BadParameter(f"{name!r} is a {spec.kind} loss; the trainer takes pairwise "
                                 "and listwise ones", param_hint="--loss")
    return spec.name


def _loss_params(name: str, pairs: list[str]) -> dict[str, float]:
    """``NAME=VALUE`` options → the loss's hyper-parameters (numbers), checked against it."""
    from prefkit.align.losses import INPUT_NAMES, get_loss

    known = sorted(get_loss(name).parameters - INPUT_NAMES - {"beta"})
    params: dict[str, float] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise typer.BadParameter(
                f"{item!r}: expected NAME=VALUE with NAME one of {', '.join(known) or '(none)'}",
                param_hint="--loss-param")
        try:
            params[key] = float(value)
        except ValueError:
            raise typer.BadParameter(f"{item!r}: {value!r} is not a number",
                                     param_hint="--loss-param") from None
    return params


def _process() -> Any:
    """accelerate's process state under ``accelerate launch`` / ``torchrun``, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState(cpu=not _cuda())


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _load_base(base: str, out: Path, seed: int) -> tuple[Any, Any, str]:
    """(model, tokenizer, base path); ``tiny`` builds the local tiny model into OUT/base."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if base == "tiny":
        from prefkit.align.tiny import build_tiny

        path = out / "base"
        state = _process()  # several processes: the main one builds, the others wait
        if not (path / "config.json").exists() and (state is None or state.is_main_process):
            build_tiny(path, seed=seed)
        if state is not None:
            state.wait_for_everyone()
        base = os.fspath(path)
    elif not Path(base).is_dir():
        raise ModelFileError(f"{base}: --base must be a local model directory or 'tiny'")
    try:
        model = AutoModelForCausalLM.from_pretrained(base)
        tokenizer = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError, RecursionError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelFileError(f"{base}: cannot load a causal LM ({first})") from None
    return model, tokenizer, os.fspath(Path(base).resolve())


@align_app.command("train")
@guard
def train_command(
    data: DataArg,
    base: Annotated[str, typer.Option("--base", help="Local model directory, or 'tiny'.")],
    out: Annotated[Path, out_dir("Run directory (policy, checkpoints).")],
    loss: Annotated[str, typer.Option(
        "--loss", help="Loss name (dpo, ipo, simpo, …; plackett_luce or lipo train on ranked "
        "lists: ranking data with texts, or pairs grouped by prompt).")] = "dpo",
    beta: Annotated[float, typer.Option("--beta", help="β (τ for IPO).")] = 0.1,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Optimiser steps.")] = 100,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 1e-5,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per micro-batch.")] = 8,
    grad_accum: Annotated[int, typer.Option("--grad-accum", help="Micro-batches per step.")] = 1,
    lora: Annotated[bool, typer.Option("--lora", help="Train LoRA adapters (peft).")] = False,
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast (GPU).")] = False,
    nll_coef: Annotated[
        float | None, typer.Option("--nll-coef", help="Add α·NLL of chosen (RPO).")
    ] = None,
    save_every: Annotated[int, typer.Option("--save-every", help="Checkpoint every N steps.")] = 0,
    packing: Annotated[bool, typer.Option(
        "--packing", help="Pack each micro-batch into one row without padding.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from OUT's checkpoint.")
    ] = False,
    force: ForceOpt = False,
    curriculum: Annotated[int | None, typer.Option(
        "--curriculum", help="Curry-DPO: N stages, easy → hard, each anchored to the previous "
        "stage's policy (rating data: best response vs each other one; pairwise data: its "
        "'stage' column); --max-steps counts per stage.")] = None,
    seed: SeedOpt = 0,
    loss_param: Annotated[list[str] | None, typer.Option(
        "--loss-param", help="A loss hyper-parameter as NAME=VALUE, repeatable (e.g. kto "
        "desirable_weight=1.33, cdpo label_smoothing=0.1).")] = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    as_json: Annotated[bool, json_flag("Print the final step as JSON.")] = False,
) -> None:
    """Train a policy on DATA with a direct preference loss; write it to OUT/policy.

    KTO (--loss kto) also trains on unpaired data: rating records with a desirable label, such
    as TRL's {"prompt", "completion", "label": true|false} layout.

    OUT must be new or empty, or hold an earlier align run: --resume continues it, --force
    replaces it; a non-empty directory prefkit did not write is refused.

    Example: prefkit align train pairs.jsonl --base tiny --out runs/dpo --max-steps 50"""
    from prefkit.align.checks import check_distributed_env, check_run_directory, check_vocabulary
    from prefkit.align.trainer import AlignConfig, AlignTrainer

    name = _loss_name(loss)
    world = check_distributed_env()
    _quiet()
    if max_steps < 1 or batch_size < 1 or grad_accum < 1:
        raise typer.BadParameter("--max-steps, --batch-size and --grad-accum must be ≥ 1")
    if batch_size < world:
        raise typer.BadParameter(f"--batch-size must be ≥ the {world} processes (each takes a "
                                 "share of every micro-batch)", param_hint="--batch-size")
    if beta <= 0:
        raise typer.BadParameter("--beta must be > 0", param_hint="--beta")
    dataset = load(data, fmt, mapping=mapping, label_map=label_map)
    main_process = os.environ.get("RANK", "0") in ("", "0")
    if main_process:  # one process checks (and with --force clears) OUT
        check_run_directory(out, resume=resume, force=force,
                            keep=[] if base == "tiny" else [Path(base)])
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer, base_path = _load_base(base, out, seed)
    config = AlignConfig(loss=name, beta=beta, learning_rate=lr, max_steps=max_steps,
                         batch_size=batch_size, grad_accum=grad_accum, lora=lora, bf16=bf16,
                         nll_coef=nll_coef, save_every=save_every, seed=seed, packing=packing,
                         loss_params=_loss_params(name, loss_param or []))
    with about(data):
        if curriculum is None:  # the data's shape first (on a sample: cheap), then its text
            sample = dataset.filter(np.arange(len(dataset)) < 64)
            AlignTrainer(model, tokenizer, config, base=base_path).prepare(sample)
        warning = check_vocabulary(tokenizer, dataset, source=os.fspath(data))
    if warning and main_process:
        typer.echo(f"warning: {data}: {warning}", err=True)
    if curriculum is not None:
        _train_curriculum(dataset, model, tokenizer, config, base_path, out, curriculum,
                          resume=resume, data=data, as_json=as_json)
        return
    trainer = AlignTrainer(model, tokenizer, config, base=base_path)
    with about(data):
        history = trainer.train(dataset, out_dir=out, resume=resume)
    if trainer.accelerator.num_processes > 1:  # leave the process group together
        trainer.accelerator.wait_for_everyone()
        trainer.accelerator.state.destroy_process_group()
        if not trainer.accelerator.is_main_process:
            return
    last = history[-1] if history else {}
    if as_json:
        echo_json({"out": os.fspath(out), "steps": trainer.step, **last})
    else:
        loss_v, acc = last.get("loss", float("nan")), last.get("reward_accuracy", float("nan"))
        typer.echo(f"trained {trainer.step} steps ({name}); loss {loss_v:.4f}, "
                   f"reward accuracy {acc:.3f} → {out}")


def _train_curriculum(dataset: Any, model: Any, tokenizer: Any, config: Any, base_path: str,
                      out: Path, n_stages: int, *, resume: bool, data: Path,
                      as_json: bool) -> None:
    """Curry-DPO stages under OUT/stages/stage-s; the last stage's policy becomes OUT/policy."""
    from prefkit.align.curriculum import curriculum_pairs
    from prefkit.align.curriculum_train import train_curriculum
    from prefkit.align.rundir import adopt_run, check_run_dir

    if n_stages < 1:
        raise typer.BadParameter("--curriculum must be ≥ 1", param_hint="--curriculum")
    if resume:
        raise typer.BadParameter("--resume does not apply to --curriculum runs",
                                 param_hint="--resume")
    check_run_dir(out)  # OUT/policy is replaced at the end only if prefkit wrote it
    with about(data):
        if dataset.kind == "rating":
            dataset = curriculum_pairs(dataset, n_stages=n_stages)
        _, stages = train_curriculum(model, tokenizer, dataset, config, out_dir=out / "stages",
                                     base=base_path)
    last = stages[-1].out_dir
    assert last is not None
    adopt_run(last, out)
    summary = [{"stage": r.stage, "pairs": r.n_pairs, "first_loss": r.history[0]["loss"],
                "last_loss": r.history[-1]["loss"]} for r in stages]
    if as_json:
        echo_json({"out": os.fspath(out), "stages": summary})
    else:
        for r in summary:
            typer.echo(f"stage {r['stage']}: {r['pairs']} pairs, loss {r['first_loss']:.4f} → "
                       f"{r['last_loss']:.4f}")
        typer.echo(f"trained {len(summary)} curriculum stages → {out}")


def _load_run(
    run: Path, reference_dir: Path | None = None
) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(policy, tokenizer, reference model or None, run info) of a run directory.

    The reference is ``reference_dir`` when given; else the base recorded in the run, followed
    only when it lies inside the run directory (``--base tiny`` puts it there): a path named in a
    file is not followed out of the run unless the user passes it (``--reference``).
    """
    from transformers import AutoModelForCausalLM

    from prefkit.align.trainer import load_policy
    from prefkit.core.limits import check_inside

    _quiet()
    model, tokenizer, info = load_policy(run)
    base = reference_dir
    if base is None and info.get("base"):
        recorded = info["base"]
        if not isinstance(recorded, str):
            raise ModelFileError(f"{run}: 'base' in its align_config.json is not a path")
        try:
            base = check_inside(recorded, run)
        except ModelFileError:
            raise ModelFileError(
                f"{run}: its reference model {recorded} lies outside the run directory; pass "
                f"--reference {recorded} if you trust it"
            ) from None
    if base is None:
        return model, tokenizer, None, info
    if not Path(base).is_dir():
        raise ModelFileError(f"{base}: reference model directory is gone")
    try:
        reference = AutoModelForCausalLM.from_pretrained(os.fspath(base), local_files_only=True,
                                                         trust_remote_code=False)
    except (OSError, ValueError, RecursionError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{base}: cannot load the reference model ({first})") from None
    return model, tokenizer, reference, info


ReferenceOpt = Annotated[Path | None, typer.Option(
    "--reference", metavar="DIR",
    help="Reference model directory (default: the run's base, if it lies inside the run).")]


@align_app.command("eval")
@guard
def eval_command(
    run: Annotated[Path, typer.Argument(help="Run directory written by 'prefkit align train'.")],
    data: DataArg,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: "
                                          + ", ".join(EVAL_JSON_KEYS))] = False,
    by: ByOption = None,
    min_group_size: MinGroupSizeOption = DEFAULT_MIN_GROUP_SIZE,
    reference_dir: ReferenceOpt = None,
) -> None:
    """Implicit-reward accuracy, ranking accuracy and loss of a trained policy on DATA.

    Example: prefkit align eval run/ test.jsonl --by source --json
    """
    from prefkit.align.diagnostics import evaluate_policy
    from prefkit.cli._eval import group_column, grouped_report

    model, tokenizer, reference, info = _load_run(run, reference_dir)
    dataset = load(data, fmt, mapping=mapping, label_map=label_map)
    if by is not None:
        group_column(dataset, by, os.fspath(data))
    cfg = info["config"]

    def metrics(records: Any) -> dict[str, Any]:
        # a listwise run is judged by its own listwise loss (accuracies over each list's pairs)
        return evaluate_policy(model, tokenizer, records, reference_model=reference,
                               loss=cfg["loss"], beta=cfg["beta"],
                               loss_params=cfg.get("loss_params") or {},
                               max_length=cfg["max_length"],
                               max_prompt_length=cfg["max_prompt_length"])

    with about(data):
        result = grouped_report(metrics, dataset, by=by, min_group_size=min_group_size,
                                keys=EVAL_JSON_KEYS if as_json else None, source=os.fspath(data))
    if as_json:
        echo_json(result)
        return
    console = out_console()
    for key, value in result.items():
        if key == "by":
            for group, row in value.items():
                console.print(f"  {by}={group}: " + ", ".join(
                    f"{k.replace('_', ' ')} {v:.4f}" if isinstance(v, float)
                    else f"{k.replace('_', ' ')} {v}" for k, v in row.items()))
            continue
        console.print(f"{key.replace('_', ' ')}: {value:.4f}" if isinstance(value, float)
                      else f"{key.replace('_', ' ')}: {value}")


@align_app.command("bon")
@guard
def bon_command(
    run: Annotated[Path, typer.Argument(help="Run directory written by 'prefkit align train'.")],
    data: Annotated[Path, typer.Argument(help="Preference (or any) file with a prompt column.")],
    n: Annotated[int, typer.Option("--n", help="Samples per prompt.")] = 4,
    method: Annotated[SampleMethod, typer.Option(
        "--method", help="bon: keep the best sample; rso: statistical rejection sampling.")
    ] = SampleMethod.bon,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 32,
    max_prompts: Annotated[int, typer.Option("--max-prompts", help="0: all.")] = 0,
    seed: SeedOpt = 0,
    out: Annotated[Path | None, out_file("JSONL file (default stdout).")] = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    reference_dir: ReferenceOpt = None,
) -> None:
    """Sample N responses per prompt from the policy and keep the best by implicit reward
    β·log π/π_ref (best-of-N), or accept by statistical rejection sampling (rso).

    Example: prefkit align bon runs/dpo prompts.jsonl --n 8 --method rso -o best.jsonl"""
    from prefkit.align.sampling import (
        best_of_n,
        generate_candidates,
        implicit_reward_scorer,
        kl_bon,
        rejection_sample,
    )
    from prefkit.data.io import atomic_path

    if n < 1:
        raise typer.BadParameter("--n must be ≥ 1", param_hint="--n")
    model, tokenizer, reference, info = _load_run(run, reference_dir)
    if reference is None:
        raise ModelFileError(f"{run}: no reference model recorded; cannot score")
    dataset = load(data, fmt, mapping=mapping, label_map=label_map)
    if not dataset.has("prompt"):
        raise DataError("no prompts", source=os.fspath(data), field="prompt")
    prompts = list(dict.fromkeys(p for p in dataset.column("prompt") if p is not None))
    if max_prompts:
        prompts = prompts[:max_prompts]
    beta = float(info["config"]["beta"])
    scorer = implicit_reward_scorer(model, reference, tokenizer, beta=beta)
    candidates = generate_candidates(model, tokenizer, prompts, n=n,
                                     max_new_tokens=max_new_tokens, seed=seed)
    results = best_of_n(prompts, candidates, scorer)
    lines = []
    for k, (res, cands) in enumerate(zip(results, candidates, strict=True)):
        rec = {**res, "candidates": cands, "kl_bon": kl_bon(n)}
        if method == "rso":
            idx = rejection_sample(res["scores"], beta=beta, k=1, seed=seed + k)
            rec.update({"method": "rso", "best": cands[idx[0]], "index": idx[0],
                        "score": res["scores"][idx[0]]})
        lines.append(json.dumps(rec, ensure_ascii=False))
    if out is None:
        for line in lines:
            typer.echo(line)
        return
    with atomic_path(os.fspath(out)) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    typer.echo(f"wrote {len(lines)} prompts → {out}")


# ``prefkit align online`` / ``prefkit align overopt`` (issue 17) live in their own module
from prefkit.cli.align_online import register as _register_online  # noqa: E402

_register_online(align_app)

# ``prefkit align dpa`` / ``prefkit align rps`` (directional preference alignment, seeds 73–74)
from prefkit.cli.align_dpa import register as _register_dpa  # noqa: E402

_register_dpa(align_app)
