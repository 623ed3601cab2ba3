"""``prefkit align online`` and ``prefkit align overopt``: online preference optimisation and
over-optimisation curves (registered on the ``align`` group by :func:`register`).

Labellers on the command line: ``rm:DIR`` (a saved prefkit reward model or ensemble; ``--aggregation
wco|uwo|mean`` for ensembles), ``pm:DIR`` (a saved pairwise preference model, e.g. GPM),
``judge:URL`` (an OpenAI-compatible chat endpoint judging both orders with the MT-Bench pairwise
template; ``--judge-model``), ``remote:URL`` (OpenRLHF ``/get_reward``, e.g. ``prefkit serve``),
``gold:NAME`` (a readable synthetic reward of the tiny model: politeness, politeness_brevity,
politeness_no_repeats).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from prefkit.cli._common import echo_json, guard
from prefkit.cli.options import ForceOpt, SeedOpt, json_flag, out_dir
from prefkit.errors import DataError

ALGO_HELP = ("online-dpo (any pairwise --loss on 2 fresh samples per prompt), iterative-dpo "
             "(rounds of generate → label → train, --refresh-every to refresh the reference), "
             "sppo (self-play against a pairwise preference model), rloo (leave-one-out "
             "REINFORCE, KL k1 in the reward), grpo (group-normalised advantages, KL k3 in the "
             "loss); p3o (pairwise clipped policy gradient on reward differences), pf-ppo "
             "(policy filtration: best/worst/random samples by reward), fine-grained (dense "
             "segment rewards; Clip/Delta shaping), constrained (reward − λ·cost, λ by dual "
             "ascent), brain (self-normalised posterior distillation); hypo (offline DPO on "
             "--algo-param pairs=FILE + lam·KL on fresh samples), gpo (SPPO square loss on GPM "
             "scores), nash-md (policy gradient vs the policy/reference geometric mixture, "
             "--algo-param mixture=β), spo (self-play win rate as the reward), apo (Nesterov-"
             "extrapolated reference, --algo-param alpha=, base=sppo|dpo), egpo (extragradient "
             "online IPO on mixture samples); spa (SPA/Selfie: DPO on a human seed, then "
             "rounds self-labelled by the implicit reward, --algo-param seed=FILE).")
LABELLER_HELP = ("rm:DIR (prefkit reward model or ensemble), pm:DIR (pairwise preference model, "
                 "e.g. GPM), judge:URL (OpenAI-compatible judge), remote:URL (OpenRLHF "
                 "/get_reward, e.g. prefkit serve), gold:NAME (synthetic, tiny model: politeness, "
                 "politeness_brevity, politeness_no_repeats).")


class _JudgePreferences:
    """An OpenAI-compatible LLM judge as a pairwise preference model: both orders are asked
    with the MT-Bench pairwise template; P(a ≻ b) = mean of the two verdicts (tie = ½).  The
    endpoint is checked once before training (``GET /models``: reachable, model known).  A
    request that still fails after its retries (server down, 5xx) stops the step with one line
    naming the URL and the first failure; an answer with no verdict gives NaN, which the labeller
    check turns into one line too."""

    def __init__(self, url: str, model: str, *, preflight: bool = True) -> None:
        from prefkit.judge.backends.openai_http import OpenAIChatBackend
        from prefkit.judge.templates import load_template

        self.url = url
        self.backend = OpenAIChatBackend(url, model, max_attempts=2, max_backoff=1.0)
        self.template = load_template("pairwise")
        if preflight:
            self.backend.preflight()

    def predict_proba(self, dataset: Any) -> np.ndarray:
        from prefkit.judge.backends.base import JudgeRequest
        from prefkit.judge.parsing import parse_pairwise_abc

        prompts = dataset.column("prompt")
        a, b = dataset.column("a_text"), dataset.column("b_text")
        requests = []
        for i in range(len(dataset)):
            for order, (x, y) in (("ab", (a[i], b[i])), ("ba", (b[i], a[i]))):
                messages = self.template.render(question=str(prompts[i]), answer_a=str(x),
                                                answer_b=str(y))
                requests.append(JudgeRequest(pair_id=str(i), order=order, messages=messages))
        replies = self.backend.complete(requests)
        failed = [r.error for r in replies if r.text is None and r.error]
        if failed:
            from prefkit.judge.backends.openai_http import JudgeBackendError

            raise JudgeBackendError(f"{len(failed)} of {len(replies)} judge requests failed "
                                    f"(first: {failed[0]})")
        score = {"A": 1.0, "B": 0.0, "tie": 0.5}
        out = []
        for i in range(len(dataset)):
            first, second = replies[2 * i], replies[2 * i + 1]
            v1 = score.get(parse_pairwise_abc(first.text).value) if first.text else None
            v2 = score.get(parse_pairwise_abc(second.text).value) if second.text else None
            out.append(float("nan") if v1 is None or v2 is None else (v1 + 1.0 - v2) / 2)
        return np.asarray(out)


def make_labeller(spec: str, *, aggregation: str | None = None, lam: float = 1.0,
                  judge_model: str = "judge") -> Any:
    """A labeller from ``KIND:WHERE`` (see the module docstring)."""
    from prefkit.align.online.labellers import PreferenceModelLabeller, RewardModelLabeller
    from prefkit.align.online.remote import RemoteRewardLabeller

    kind, sep, where = spec.partition(":")
    if not sep or not where:
        raise typer.BadParameter(f"{spec!r}: expected rm:DIR, pm:DIR, judge:URL, remote:URL or "
                                 "gold:politeness", param_hint="--labeller")
    if kind in ("rm", "pm"):
        import prefkit

        if not Path(where).is_dir():
            raise DataError(f"{where}: --labeller {kind}: needs a saved model directory")
        model = prefkit.load(where)
        if kind == "pm":
            return PreferenceModelLabeller(model, name=f"pm:{where}")
        return RewardModelLabeller(model, aggregation=aggregation, lam=lam, name=f"rm:{where}")
    if kind == "remote":
        return RemoteRewardLabeller(where)
    if kind == "judge":
        return PreferenceModelLabeller(_JudgePreferences(where, judge_model),
                                       name=f"judge:{where}")
    if kind == "gold":
        from prefkit.align.online import gold
        from prefkit.align.online.labellers import FunctionLabeller

        fn = getattr(gold, where, None)
        if where not in gold.GOLD_REWARDS or fn is None:
            raise typer.BadParameter(f"gold:{where}: known gold rewards are "
                                     f"{', '.join(gold.GOLD_REWARDS)}", param_hint="--labeller")
        return FunctionLabeller(fn, name=f"gold:{where}")
    raise typer.BadParameter(f"{spec!r}: unknown labeller kind {kind!r} (rm, pm, judge, remote, "
                             "gold)", param_hint="--labeller")


def _gold(name: str | None) -> Any:
    if name is None:
        return None
    from prefkit.align.online import gold

    if name not in gold.GOLD_REWARDS:
        raise typer.BadParameter(f"{name!r}: known gold rewards are "
                                 f"{', '.join(gold.GOLD_REWARDS)}", param_hint="--gold")
    return getattr(gold, name)


def online_command(
    policy: Annotated[str, typer.Argument(help="Local causal-LM directory, or 'tiny'.")],
    labeller: Annotated[str, typer.Option("--labeller", help=LABELLER_HELP)],
    prompts: Annotated[Path, typer.Option("--prompts", help="Prompts: JSON lines with 'prompt' "
                                          "(or chat 'messages'), or one prompt per text line.")],
    out: Annotated[Path, out_dir("Run directory (policy, checkpoints, history).")],
    algo: Annotated[str, typer.Option("--algo", help=ALGO_HELP)] = "grpo",
    max_steps: Annotated[int, typer.Option("--max-steps", help="Optimiser steps.")] = 100,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 1e-5,
    beta: Annotated[float, typer.Option(
        "--beta", help="KL coefficient (rloo, grpo) or β of the DPO loss.")] = 0.05,
    loss: Annotated[str, typer.Option("--loss", help="Pairwise loss of online/iterative "
                                      "DPO (dpo, ipo, …).")] = "dpo",
    group_size: Annotated[int, typer.Option("--group-size", help="Completions per prompt "
                                            "(online-dpo: 2).")] = 4,
    prompts_per_step: Annotated[int, typer.Option("--prompts-per-step")] = 4,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 32,
    temperature: Annotated[float, typer.Option("--temperature")] = 1.0,
    kl_estimator: Annotated[str | None, typer.Option(
        "--kl-estimator", help="k1 or k3 (default: rloo k1, grpo k3).")] = None,
    kl_in: Annotated[str | None, typer.Option(
        "--kl-in", help="reward or loss (default: rloo reward, grpo loss).")] = None,
    transform: Annotated[str, typer.Option(
        "--transform", help="Reward transform: none, lsc (log-sigmoid centring), par "
        "(preference as reward).")] = "none",
    per_prompt_norm: Annotated[bool, typer.Option("--per-prompt-norm")] = False,
    length_penalty: Annotated[float, typer.Option(
        "--length-penalty", help="Subtract this per completion token.")] = 0.0,
    eta: Annotated[float, typer.Option("--eta", help="SPPO step size η.")] = 1.0,
    refresh_every: Annotated[int, typer.Option(
        "--refresh-every", help="Refresh the reference to the policy every N steps (sppo, "
        "iterative-dpo; 0: never).")] = 0,
    steps_per_round: Annotated[int, typer.Option("--steps-per-round",
                                                 help="iterative-dpo: steps per round.")] = 8,
    aggregation: Annotated[str | None, typer.Option(
        "--aggregation", help="Ensembles: mean, wco (worst case), uwo (uncertainty-weighted).")
    ] = None,
    judge_model: Annotated[str, typer.Option("--judge-model")] = "judge",
    gold: Annotated[str | None, typer.Option(
        "--gold", help="Record a gold reward too: politeness, politeness_brevity or "
        "politeness_no_repeats.")] = None,
    save_every: Annotated[int, typer.Option("--save-every")] = 0,
    sampler: Annotated[str, typer.Option(
        "--sampler", help="Generate with hf (transformers, default) or vllm (a CUDA GPU and "
        "pip install 'prefkit[vllm]'; the policy's weights are loaded into vLLM every step).")
    ] = "hf",
    algo_param: Annotated[list[str] | None, typer.Option(
        "--algo-param", help="A setting of the chosen method as KEY=VALUE (VALUE as JSON), "
        "repeatable (e.g. --algo-param mixture=0.125 for nash-md).")] = None,
    seed: SeedOpt = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue OUT's run.")] = False,
    force: ForceOpt = False,
    as_json: Annotated[bool, json_flag("Print the last step's record as JSON.")] = False,
) -> None:
    """Online preference optimisation: the policy samples, the labeller scores, the policy
    learns (algorithms: online-dpo, iterative-dpo, sppo, rloo, grpo).

    Example: prefkit align online tiny --labeller remote:http://127.0.0.1:8000 --algo grpo
    --prompts prompts.jsonl --out run --max-steps 200 --lr 3e-3
    """
    from prefkit.align.online.config import OnlineConfig
    from prefkit.align.online.prompts import read_prompts

    cfg = OnlineConfig(
        algo=algo, loss=loss, beta=beta, group_size=group_size,
        prompts_per_step=prompts_per_step, max_new_tokens=max_new_tokens,
        temperature=temperature, learning_rate=lr, max_steps=max_steps, seed=seed,
        kl_estimator=kl_estimator, kl_in=kl_in, transform=transform,
        per_prompt_norm=per_prompt_norm, length_penalty=length_penalty, eta=eta,
        refresh_every=refresh_every, steps_per_round=steps_per_round, save_every=save_every,
        algo_params=_algo_params(algo_param or []))
    try:
        cfg.check()
    except DataError:
        raise  # --algo-param problems: one `error:` line, exit 2
    except (ValueError, KeyError) as err:
        raise typer.BadParameter(str(err.args[0] if err.args else err)) from None
    if sampler not in ("hf", "vllm"):
        raise typer.BadParameter(f"{sampler!r}: expected hf or vllm", param_hint="--sampler")
    if sampler == "vllm":
        from prefkit.align.online.vllm_sampler import require_vllm

        require_vllm()  # one line naming the extra, before any work
    texts = read_prompts(prompts)
    gold_fn = _gold(gold)
    lab = make_labeller(labeller, aggregation=aggregation, judge_model=judge_model)
    _prepare_out(out, resume=resume, force=force)
    from prefkit.align.online.trainer import OnlineTrainer
    from prefkit.cli.align import _load_base, _quiet

    _quiet()
    model, tokenizer, base = _load_base(policy, out, seed)
    trainer = OnlineTrainer(model, tokenizer, lab, texts, cfg, gold=gold_fn, base=base)
    if sampler == "vllm":  # after the reference copy: the engine is not copied
        from prefkit.align.online.vllm_sampler import VLLMSampler, attach_sampler

        attach_sampler(trainer.model, VLLMSampler(base, seed=seed))
    history = trainer.train(out, resume=resume)
    last = history[-1] if history else {}
    if as_json:
        echo_json(last)
    else:
        shown = ", ".join(f"{k} {last[k] + 0.0:.4g}" for k in ("loss", "reward", "gold", "kl",
                                                          "win_rate")
                          if k in last and last[k] == last[k])
        typer.echo(f"trained {trainer.step} steps ({algo}); {shown} → {out}")


def _algo_params(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options → the method's settings (VALUE read as JSON, else a string)."""
    params: dict[str, Any] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--algo-param")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


def _prepare_out(out: Path, *, resume: bool, force: bool) -> None:
    """OUT must be new/empty, hold an online run (--resume / --force), nothing else."""
    from prefkit.align.online.trainer import ONLINE_CONFIG

    if not out.exists() or not any(out.iterdir()):
        return
    if not (out / ONLINE_CONFIG).is_file():
        raise DataError(f"{out}: not empty and not a prefkit online run; choose a new --out")
    if resume:
        return
    if not force:
        raise DataError(f"{out}: holds an online run; --resume continues it, --force replaces "
                        "it")
    import shutil

    from prefkit.align.online.trainer import REFERENCE_SNAPSHOTS, ROUND_FILE

    folders = [out / name for name in ("checkpoints", "policy", REFERENCE_SNAPSHOTS, "base")]
    stranger = next((f for f in map(_foreign_in_run, folders) if f is not None), None)
    if stranger is not None:
        raise DataError(f"{out}: --force would delete {stranger}, which prefkit did not write; "
                        "move it out of the run directory first")
    for folder in folders:
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder)
    for name in (ONLINE_CONFIG, ROUND_FILE, "align_config.json"):
        if (out / name).is_file():
            (out / name).unlink()


def _foreign_in_run(folder: Path) -> Path | None:
    """A file under an online run's ``folder`` that prefkit did not write (None if none):
    the offline trainer's ownership rule, plus the reference snapshots ``step-N.safetensors``."""
    import re

    from prefkit.align.checks import _foreign_file
    from prefkit.align.online.trainer import REFERENCE_SNAPSHOTS

    if not folder.is_dir() or folder.is_symlink():
        return None
    if folder.name != REFERENCE_SNAPSHOTS:
        return _foreign_file(folder)
    snapshot = re.compile(r"step-\d{8}\.safetensors|\.prefkit-tmp-.*\.safetensors")
    return next((c for c in sorted(folder.iterdir())
                 if c.is_symlink() or not c.is_file() or not snapshot.fullmatch(c.name)), None)


def overopt_command(
    policy: Annotated[str, typer.Argument(help="Local causal-LM directory, or 'tiny'.")],
    out: Annotated[Path, out_dir("Output directory (curves.json, curves.csv, curves.png).")],
    gold: Annotated[str, typer.Option(
        "--gold", help="Gold reward: politeness_no_repeats (default: each polite word counts "
        "once, a repeated word costs 2), politeness_brevity or politeness.")
    ] = "politeness_no_repeats",
    algos: Annotated[str, typer.Option(
        "--algos", help="Online methods to trace besides best-of-N, comma-separated "
        "(online-dpo, rloo, grpo …; empty: best-of-N only).")] = "grpo",
    gold_pairs: Annotated[int, typer.Option(
        "--gold-pairs", help="Gold-labelled pairs the proxy reward model is trained on.")] = 64,
    members: Annotated[int, typer.Option(
        "--members", help="Ensemble size of the second proxy (1: single proxy only).")] = 4,
    lam: Annotated[float, typer.Option("--lam", help="UWO: mean − λ·variance.")] = 1.0,
    n_max: Annotated[int, typer.Option("--n-max", help="Largest best-of-N (also the samples "
                                       "per prompt).")] = 512,
    bon_prompts: Annotated[int, typer.Option("--bon-prompts",
                                             help="Prompts of the best-of-N curve.")] = 16,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Steps of each online run.")
                         ] = 60,
    lr: Annotated[float, typer.Option("--lr")] = 1e-3,
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat with seeds SEED, SEED+1, … "
                                       "(proxy pairs, samples, online run).")] = 1,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> None:
    """Over-optimisation curves: gold vs proxy reward against √KL for best-of-N and online
    methods, with a proxy reward model trained on a few gold-labelled pairs (single and
    ensemble).

    Example: prefkit align overopt tiny --out overopt --algos grpo --gold-pairs 64 --seeds 3
    """
    from prefkit.align.online.overopt import run_overopt
    from prefkit.cli.align import _load_base, _quiet

    if out.exists() and any(out.iterdir()):
        if not (out / "curves.json").is_file():
            raise DataError(f"{out}: not empty and not a prefkit overopt output; choose a new "
                            "--out")
        if not force:
            raise DataError(f"{out}: holds overopt curves; --force replaces them")
    _quiet()
    model, tokenizer, _ = _load_base(policy, out, seed)
    if seeds < 1 or n_max < 1 or bon_prompts < 1 or gold_pairs < 2:
        raise typer.BadParameter("--seeds, --n-max and --bon-prompts must be ≥ 1, "
                                 "--gold-pairs ≥ 2")
    result = run_overopt(model, tokenizer, out, gold=_gold(gold),
                         algos=[a for a in algos.split(",") if a], gold_pairs=gold_pairs,
                         members=members, lam=lam, n_max=n_max, bon_prompts=bon_prompts,
                         max_steps=max_steps, lr=lr, seeds=range(seed, seed + seeds),
                         progress=None)
    typer.echo(json.dumps(result["over_seeds"], indent=2))
    typer.echo(f"wrote {os.fspath(out)}/curves.json, curves.csv, curves.png")


def register(app: typer.Typer) -> None:
    """Add ``online`` and ``overopt`` to the ``align`` group."""
    app.command("online")(guard(online_command))
    app.command("overopt")(guard(overopt_command))
