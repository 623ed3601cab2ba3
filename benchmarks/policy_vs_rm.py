"""A reward model and a DPO policy ranked side by side by one ``evaluate()`` on the same data.

Both answer the model contract (``predict_proba(ds)`` = P(a ≻ b) per pairwise record), so
:func:`prefkit.evaluate.evaluate` scores them the same way.  Data: the tiny model's synthetic
preference pairs (:func:`prefkit.align.tiny.synthetic_records`: polite, on-topic responses
preferred to rude ones), with a share ``--noise`` of labels flipped in training *and* test data,
so the best achievable accuracy is about 1 − noise and calibration matters.  Nothing is
downloaded; CPU only.

Models:

* **reward model** — :class:`prefkit.reward.RewardModel`, linear Bradley–Terry head over frozen
  all-MiniLM-L6-v2 embeddings (the bundled encoder), trained on the training pairs;
* **DPO policy** — the tiny 2-layer Llama (built and pre-trained locally,
  :func:`prefkit.align.tiny.build_tiny`) trained with DPO by :class:`AlignTrainer` on the same
  pairs, opened with ``prefkit.load(RUN_DIR)`` (:class:`prefkit.align.policy.DPOPolicy`:
  σ(β·Δ implicit reward), reference = the base model inside the run directory);
* **DPO policy, reference-free** — the same policy scored by β·average log-prob (SimPO-style);
* **base model, reference-free** — the untrained tiny model scored the same way (a baseline).

    .venv/bin/python benchmarks/policy_vs_rm.py --train 256 --test 512 --noise 0.1 --steps 60 \
        --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

METRICS = ("accuracy", "log_loss", "brier", "ece")


def _row(name: str, model: Any, test: Any, seconds: float) -> dict[str, Any]:
    from prefkit.evaluate import evaluate

    t0 = time.perf_counter()
    report = evaluate(model, test)
    return {"model": name, **{k: float(report[k]) for k in METRICS}, "n": int(report["n"]),
            "fit_s": seconds, "predict_s": time.perf_counter() - t0}


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    """The four models trained and scored on one seed's data."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import prefkit
    from prefkit.align.policy import DPOPolicy
    from prefkit.align.tiny import build_tiny, synthetic_preferences
    from prefkit.align.trainer import AlignConfig, AlignTrainer
    from prefkit.encode.encoders import default_encoder
    from prefkit.reward.model import RewardModel

    train = synthetic_preferences(args.train, seed=seed, noise=args.noise)
    test = synthetic_preferences(args.test, seed=seed + 1000, noise=args.noise)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        rm = RewardModel(default_encoder(tmp / "cache"), head="linear")
        rm.fit(train)
        rows.append(_row("reward model (MiniLM + linear BT head)", rm, test,
                         time.perf_counter() - t0))

        run = tmp / "run"
        t0 = time.perf_counter()
        build_tiny(run / "base", seed=seed)
        model = AutoModelForCausalLM.from_pretrained(run / "base")
        tok = AutoTokenizer.from_pretrained(run / "base")
        cfg = AlignConfig(loss="dpo", beta=args.beta, learning_rate=args.lr,
                          max_steps=args.steps, batch_size=8, seed=seed, device="cpu")
        AlignTrainer(model, tok, cfg, base=str((run / "base").resolve())).train(
            train, out_dir=run, progress=False)
        seconds = time.perf_counter() - t0
        policy = prefkit.load(run)
        assert isinstance(policy, DPOPolicy) and policy.reference_ is not None
        rows.append(_row(f"DPO policy (tiny Llama, β={args.beta}, {args.steps} steps)", policy,
                         test, seconds))
        free = prefkit.load(run, reward_type="average")
        rows.append(_row("DPO policy, reference-free (β·mean log π)", free, test, seconds))
        base = DPOPolicy.from_models(AutoModelForCausalLM.from_pretrained(run / "base"), tok,
                                     beta=args.beta, reward_type="average")
        rows.append(_row("base model, reference-free (untrained)", base, test, 0.0))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=256, help="training pairs")
    ap.add_argument("--test", type=int, default=512, help="test pairs")
    ap.add_argument("--noise", type=float, default=0.1, help="share of flipped labels")
    ap.add_argument("--steps", type=int, default=60, help="DPO optimiser steps")
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="one data set, reward model and policy per seed")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args()

    import warnings

    import numpy as np
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning, module="transformers")
    torch.set_num_threads(args.threads)
    per_seed = {seed: run_seed(args, seed) for seed in args.seeds}
    names = [r["model"] for r in per_seed[args.seeds[0]]]
    summary = []
    for name in names:
        rows = [r for seed in args.seeds for r in per_seed[seed] if r["model"] == name]
        entry: dict[str, Any] = {"model": name}
        for key in (*METRICS, "fit_s"):
            values = np.array([r[key] for r in rows])
            entry[key], entry[f"{key}_sd"] = float(values.mean()), float(values.std(ddof=0))
        summary.append(entry)
    summary.sort(key=lambda r: (-r["accuracy"], r["log_loss"]))
    if args.json:
        print(json.dumps({"args": vars(args), "summary": summary, "per_seed": per_seed},
                         indent=2))
        return
    print(f"{args.train} training / {args.test} test pairs, {args.noise:.0%} flipped labels "
          f"(best achievable accuracy ≈ {1 - args.noise:.2f}); mean ± sd over seeds "
          f"{', '.join(map(str, args.seeds))}\n")
    print("| rank | model | accuracy | log-loss | Brier | ECE | fit (s) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for k, r in enumerate(summary, 1):
        cells = " | ".join(f"{r[m]:.3f} ± {r[m + '_sd']:.3f}" for m in METRICS)
        print(f"| {k} | {r['model']} | {cells} | {r['fit_s']:.1f} |")
    print("\nper seed (accuracy / log-loss):")
    for seed in args.seeds:
        print(f"  seed {seed}: " + "; ".join(f"{r['model'].split(' (')[0]} "
                                             f"{r['accuracy']:.3f} / {r['log_loss']:.3f}"
                                             for r in per_seed[seed]))


if __name__ == "__main__":
    main()
