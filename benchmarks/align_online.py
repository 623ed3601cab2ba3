"""Online training throughput and peak memory: prefkit's OnlineTrainer vs TRL's trainers.

Same tiny local model (2-layer Llama, hidden 64, built from scratch, nothing downloaded), same
prompts, same reward (the readable politeness score of :mod:`prefkit.align.online.gold`, a
Python function in both), same prompts per step, completions per prompt, generation length,
learning rate and KL coefficient; CPU only.  Pairs compared:

* ``online-dpo``: prefkit ``--algo online-dpo`` vs TRL's ``trl.experimental.OnlineDPOTrainer``
  (2 completions per prompt, DPO β = 0.1);
* ``grpo``: prefkit vs TRL's ``GRPOTrainer`` (4 completions per prompt, β = 0.05, k3 in the
  loss);
* ``rloo``: prefkit vs TRL's ``RLOOTrainer`` (4 completions per prompt, β = 0.05, k1 in the
  reward).

Each run is a fresh subprocess (its own peak RSS, ``ru_maxrss``); runs alternate between the two
trainers.  Samples/s = completions per optimiser step / median step time, the first two steps
skipped (steady state).

    .venv/bin/python benchmarks/align_online.py --repeats 3 --steps 12

``--demo`` instead trains each of the five built-in methods for ``--steps`` steps on the tiny
model with the politeness score as labeller and gold reward, for ``--seeds`` seeds, and prints
the mean gold reward of the starting and the trained policy (4 samples on each prompt, a fixed
sampling seed) — the CPU demo of docs/align.md:

    .venv/bin/python benchmarks/align_online.py --demo --steps 50 --seeds 3 --n-prompts 40

``--overopt OUT`` runs the over-optimisation demo (best-of-N and GRPO against proxies trained on
64 gold-labelled pairs; ``prefkit align overopt tiny --seeds 3`` does the same):

    .venv/bin/python benchmarks/align_online.py --overopt overopt --seeds 3 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALGOS = ("online-dpo", "grpo", "rloo")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prompts(n: int) -> list[str]:
    from prefkit.align.tiny import synthetic_records

    return sorted({r["prompt"] for r in synthetic_records(400)})[:n]


def _reward(prompts, completions, **kwargs):  # TRL's reward-function signature
    from prefkit.align.online.gold import politeness

    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    return politeness(prompts, texts).tolist()


def run_prefkit(args: argparse.Namespace) -> dict[str, float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefkit.align.online.config import OnlineConfig
    from prefkit.align.online.gold import politeness
    from prefkit.align.online.trainer import OnlineTrainer

    rss0 = _rss_mib()
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tok = AutoTokenizer.from_pretrained(args.model)
    k = 2 if args.algo == "online-dpo" else args.generations
    cfg = OnlineConfig(algo=args.algo, beta=0.1 if args.algo == "online-dpo" else args.beta,
                       group_size=k, prompts_per_step=args.prompts_per_step,
                       max_new_tokens=args.max_new_tokens, learning_rate=args.lr,
                       max_steps=args.steps, seed=0)
    times: list[float] = []
    t0 = time.perf_counter()
    trainer = OnlineTrainer(model, tok, politeness, _prompts(args.n_prompts), cfg)
    last = [time.perf_counter()]

    def tick(_trainer, _record):
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    trainer.train(callback=tick, progress=False)
    total = time.perf_counter() - t0
    return _result(times, k * args.prompts_per_step, total, rss0, args)


def run_trl(args: argparse.Namespace) -> dict[str, float]:
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    rss0 = _rss_mib()
    model = AutoModelForCausalLM.from_pretrained(args.model)
    tok = AutoTokenizer.from_pretrained(args.model)
    prompts = [[{"role": "user", "content": p}] for p in _prompts(args.n_prompts)]
    data = datasets.Dataset.from_dict({"prompt": prompts * 50})
    times: list[float] = []

    class Tick(TrainerCallback):
        last = 0.0

        def on_step_begin(self, *a, **k):
            if not self.last:
                self.last = time.perf_counter()

        def on_step_end(self, *a, **k):
            now = time.perf_counter()
            times.append(now - self.last)
            self.last = now

    common = dict(output_dir=args.tmp, max_steps=args.steps, learning_rate=args.lr,
                  logging_steps=10_000, save_strategy="no", report_to=[], use_cpu=True,
                  seed=0, gradient_accumulation_steps=1, dataloader_num_workers=0)
    k = 2 if args.algo == "online-dpo" else args.generations
    t0 = time.perf_counter()
    if args.algo == "online-dpo":
        from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

        cfg = OnlineDPOConfig(**common, per_device_train_batch_size=args.prompts_per_step,
                              max_new_tokens=args.max_new_tokens, beta=0.1, temperature=1.0)
        trainer = OnlineDPOTrainer(model=model, reward_funcs=_reward, args=cfg,
                                   train_dataset=data, processing_class=tok, callbacks=[Tick()])
    else:
        if args.algo == "grpo":
            from trl import GRPOConfig as Config
            from trl import GRPOTrainer as Trainer
        else:
            from trl import RLOOConfig as Config
            from trl import RLOOTrainer as Trainer
        cfg = Config(**common, per_device_train_batch_size=k * args.prompts_per_step,
                     num_generations=k, max_completion_length=args.max_new_tokens,
                     beta=args.beta, temperature=1.0)
        trainer = Trainer(model=model, reward_funcs=_reward, args=cfg, train_dataset=data,
                          processing_class=tok, callbacks=[Tick()])
    trainer.train()
    total = time.perf_counter() - t0
    return _result(times, k * args.prompts_per_step, total, rss0, args)


def _result(times: list[float], samples: int, total: float, rss0: float,
            args: argparse.Namespace) -> dict[str, float]:
    steady = times[2:] if len(times) > 3 else times
    return {"samples_per_s": samples / statistics.median(steady),
            "end_to_end_samples_per_s": samples * len(times) / total,
            "peak_rss_mib": _rss_mib(), "delta_rss_mib": _rss_mib() - rss0,
            "steps": len(times)}


#: the five built-in methods and the settings of the CPU demo (labeller = gold = politeness)
DEMO_ALGOS = ("online-dpo", "iterative-dpo", "sppo", "rloo", "grpo")
DEMO_SETTINGS = {
    "online-dpo": {"beta": 0.1},
    "iterative-dpo": {"beta": 0.1, "steps_per_round": 10, "round_prompts": 16},
    "sppo": {"eta": 10.0, "refresh_every": 10},
    "rloo": {"beta": 0.05},
    "grpo": {"beta": 0.05},
}


def mean_gold(model, tok, prompts, gold, *, n: int = 4, seed: int = 12345) -> float:
    """Mean gold reward of ``n`` samples per prompt (fixed sampling seed)."""
    from prefkit.align.online.sampling import sample_rollout

    r = sample_rollout(model, tok, prompts, n=n, max_new_tokens=24, seed=seed, logps=False)
    return float(gold(r.sample_prompts, r.texts).mean())


def demo(args: argparse.Namespace) -> None:
    """Gold reward of the starting policy and after ``--steps`` steps of each built-in method
    (labeller = gold = politeness), for ``--seeds`` seeds; evaluated on every prompt with a
    fixed sampling seed (4 samples per prompt)."""
    import copy

    import numpy as np
    import torch

    from prefkit.align.online.config import OnlineConfig
    from prefkit.align.online.gold import politeness
    from prefkit.align.online.trainer import OnlineTrainer
    from prefkit.align.tiny import build_tiny

    torch.set_num_threads(args.threads)
    base, tok = build_tiny()
    prompts = _prompts(args.n_prompts)
    start = mean_gold(base, tok, prompts, politeness)
    print(f"starting policy: mean gold {start:.2f} ({len(prompts)} prompts × 4 samples)")
    print("| algo | settings | seed | gold start | gold end | KL to π_0 (last 5) | seconds |")
    print("|---|---|---|---|---|---|---|")
    rows = {}
    for algo in [a for a in args.demo_algos.split(",") if a]:
        extra = DEMO_SETTINGS.get(algo, {})
        for seed in range(args.seeds):
            cfg = OnlineConfig(algo=algo, max_steps=args.steps, prompts_per_step=8,
                               group_size=4, max_new_tokens=24, learning_rate=3e-3, seed=seed,
                               **extra)
            t0 = time.perf_counter()
            policy = copy.deepcopy(base)  # the trainer's reference is its own copy (SPPO and
            begin = mean_gold(policy, tok, prompts, politeness)  # refreshes overwrite it)
            trainer = OnlineTrainer(policy, tok, politeness, prompts, cfg, gold=politeness)
            hist = trainer.train(progress=False)
            end = mean_gold(trainer.model, tok, prompts, politeness)
            kl = float(np.mean([h["kl"] for h in hist[-5:] if np.isfinite(h["kl"])] or [np.nan]))
            rows.setdefault(algo, []).append(end)
            settings = ", ".join(f"{k} {v}" for k, v in extra.items())
            print(f"| {algo} | {settings} | {seed} | {begin:.2f} | {end:.2f} | {kl:.1f} | "
                  f"{time.perf_counter() - t0:.0f} |", flush=True)
    for algo, ends in rows.items():
        print(f"{algo}: gold {start:.2f} → {np.mean(ends):.2f} (mean of {len(ends)} seeds, "
              f"min {min(ends):.2f})")


def overopt(args: argparse.Namespace) -> None:
    """The over-optimisation demo of docs/align.md (= ``prefkit align overopt tiny --seeds N``):
    best-of-N and GRPO against a single and an ensemble bag-of-words proxy trained on 64
    gold-labelled pairs; prints the mean over seeds of each curve's gold start/peak/end."""
    import torch

    from prefkit.align.online.gold import politeness_no_repeats
    from prefkit.align.online.overopt import run_overopt
    from prefkit.align.tiny import build_tiny

    torch.set_num_threads(args.threads)
    model, tok = build_tiny()
    t0 = time.perf_counter()
    result = run_overopt(model, tok, args.overopt, gold=politeness_no_repeats,
                         seeds=range(args.seeds), progress=None)
    print("| curve | gold start | gold peak | √KL at peak | gold end | √KL end | "
          "peak later than single (seeds) |")
    print("|---|---|---|---|---|---|---|")
    for key, v in result["over_seeds"].items():
        later = (f"{int(v['later_peak_seeds'])} of {int(v['seeds'])}"
                 if "later_peak_seeds" in v else "—")
        print(f"| {key} | {v['gold_start']:.2f} | {v['gold_peak']:.2f} | "
              f"{v['sqrt_kl_at_peak']:.2f} | {v['gold_end']:.2f} | {v['sqrt_kl_end']:.2f} | "
              f"{later} |")
    print(f"{time.perf_counter() - t0:.0f} s; curves in {args.overopt}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--n-prompts", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--beta", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--algo", default="grpo", help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--seeds", type=int, default=3, help="--demo: seeds per method")
    parser.add_argument("--demo-algos", default=",".join(DEMO_ALGOS))
    parser.add_argument("--overopt", default=None, metavar="OUT",
                        help="run the over-optimisation demo into OUT (--seeds seeds)")
    args = parser.parse_args()
    if args.demo:
        demo(args)
        return
    if args.overopt:
        overopt(args)
        return
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        fn = run_prefkit if args.worker == "prefkit" else run_trl
        print("RESULT " + json.dumps(fn(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        from prefkit.align.tiny import build_tiny

        model_dir = os.path.join(tmp, "tiny")
        build_tiny(model_dir)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(args.threads)}
        rows = {}
        for algo in args.algos.split(","):
            results: dict[str, list[dict[str, float]]] = {"prefkit": [], "trl": []}
            errors: dict[str, str] = {}
            for _ in range(args.repeats):
                for who in ("prefkit", "trl"):
                    cmd = [sys.executable, __file__, "--worker", who, "--algo", algo,
                           "--model", model_dir, "--tmp", os.path.join(tmp, f"out-{who}"),
                           "--steps", str(args.steps), "--prompts-per-step",
                           str(args.prompts_per_step), "--generations", str(args.generations),
                           "--max-new-tokens", str(args.max_new_tokens), "--n-prompts",
                           str(args.n_prompts), "--lr", str(args.lr), "--beta", str(args.beta),
                           "--threads", str(args.threads)]
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                    if proc.returncode or not line:
                        errors[who] = (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
                        print(f"{algo} {who}: failed: {errors[who]}", flush=True)
                        continue
                    results[who].append(json.loads(line[0][7:]))
                    print(f"{algo} {who}: {line[0][7:]}", flush=True)
            rows[algo] = (results, errors)
        print(f"\nCPU, {args.threads} threads, {args.steps} steps, {args.prompts_per_step} "
              f"prompts/step, {args.generations} generations (online-dpo: 2), "
              f"{args.max_new_tokens} new tokens; medians of {args.repeats}")
        print("| method | trainer | samples/s (steady) | samples/s (end-to-end) | peak RSS MiB |"
              " Δ RSS MiB |")
        print("|---|---|---|---|---|---|")
        for algo, (results, errors) in rows.items():
            med = {}
            for who in ("prefkit", "trl"):
                if not results[who]:
                    print(f"| {algo} | {who} | failed: {errors.get(who, '?')} | | | |")
                    continue
                med[who] = {k: statistics.median(r[k] for r in results[who])
                            for k in results[who][0]}
                m = med[who]
                print(f"| {algo} | {who} | {m['samples_per_s']:.1f} | "
                      f"{m['end_to_end_samples_per_s']:.1f} | {m['peak_rss_mib']:.1f} | "
                      f"{m['delta_rss_mib']:.1f} |")
            if len(med) == 2:
                p, t = med["prefkit"], med["trl"]
                print(f"| {algo} | **ratio** | **{p['samples_per_s'] / t['samples_per_s']:.2f}×**"
                      f" | **{p['end_to_end_samples_per_s'] / t['end_to_end_samples_per_s']:.2f}×"
                      f"** | **{p['peak_rss_mib'] / t['peak_rss_mib']:.2f}×** | "
                      f"**{p['delta_rss_mib'] / max(t['delta_rss_mib'], 1e-9):.2f}×** |")


if __name__ == "__main__":
    Path(__file__)  # keep the path import used when run as a script
    main()
