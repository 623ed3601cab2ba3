"""DPO training throughput and peak memory: prefkit's AlignTrainer vs TRL's DPOTrainer.

Same tiny local model (2-layer Llama, hidden 64, built from scratch, nothing downloaded), same
pairs, batch size, steps, learning rate, β and reference handling (reference log-probs
precomputed once in both), CPU only.  Each run is a fresh subprocess so that its peak resident
memory (``ru_maxrss``) is its own; runs alternate between the two trainers.  Throughput is
reported twice: steady-state (batch size / median optimiser-step time, first two steps skipped)
and end-to-end (pairs per second over trainer construction + ``train()``, which includes
tokenisation and the reference pass).

    .venv/bin/python benchmarks/align_dpo.py --repeats 3 --steps 30 --pairs 256

``--packing`` instead compares prefkit's padded batches with padding-free packing
(``AlignConfig(packing=True)``) on variable-length pairs: each response is its sentence repeated
1 … ``--max-repeat`` times (uniformly), so a padded batch is mostly padding:

    .venv/bin/python benchmarks/align_dpo.py --packing --repeats 3 --steps 20 --pairs 256
    .venv/bin/python benchmarks/align_dpo.py --packing --hidden 256 --layers 4 --threads 1

``--loss kto`` compares unpaired KTO instead (each pair's responses as one desirable and one
undesirable example): prefkit's trainer without a reference model (initial-policy KL log-probs
precomputed, no model copy) against TRL's ``KTOTrainer`` with ``precompute_ref_log_probs=True``
(reference and KL log-probs precomputed, no reference model kept):

    .venv/bin/python benchmarks/align_dpo.py --loss kto --repeats 3 --steps 30 --pairs 128
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


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _variable(records: list[dict[str, str]], max_repeat: int) -> list[dict[str, str]]:
    """Repeat each response 1 … ``max_repeat`` times (seeded): variable-length data."""
    if max_repeat <= 1:
        return records
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for r in records:
        k_a, k_b = (int(k) for k in rng.integers(1, max_repeat + 1, size=2))
        out.append({**r, "a_text": " ".join([r["a_text"]] * k_a),
                    "b_text": " ".join([r["b_text"]] * k_b)})
    return out


def _padding_share(base: str, args: argparse.Namespace) -> float:
    """Share of pad tokens in the padded [chosen; rejected] batches of this data."""
    from transformers import AutoTokenizer

    from prefkit.align.pairs import collate, text_pairs, tokenize_pairs
    from prefkit.align.tiny import synthetic_records
    from prefkit.data import PreferenceDataset

    tok = AutoTokenizer.from_pretrained(base)
    tok.chat_template = None
    ds = PreferenceDataset.from_records(_variable(synthetic_records(args.pairs, seed=1),
                                                  args.max_repeat))
    pairs = tokenize_pairs(tok, text_pairs(ds))
    real = total = 0
    for start in range(0, len(pairs), args.batch_size):
        mask = collate(pairs, list(range(start, min(start + args.batch_size, len(pairs)))),
                       tok.pad_token_id)["attention_mask"]
        real, total = real + int(mask.sum()), total + mask.numel()
    return 1.0 - real / total


#: the TRL settings both trainers' runs share (constant LR, no logging, saving or tqdm, CPU)
TRL_COMMON = {
    "lr_scheduler_type": "constant", "warmup_steps": 0, "max_grad_norm": 1.0,
    "logging_steps": 10_000, "save_strategy": "no", "report_to": [], "use_cpu": True,
    "dataloader_num_workers": 0, "disable_tqdm": True, "seed": 0, "max_length": 512,
}


def _step_timer(step_times: list[float]) -> object:
    """A transformers callback appending each optimiser step's wall time to ``step_times``."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def on_step_begin(self, *a: object, **k: object) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, *a: object, **k: object) -> None:
            step_times.append(time.perf_counter() - self.t)

    return Timer()


def _summary(step_times: list[float], elapsed: float, before: float,
             args: argparse.Namespace) -> dict[str, float]:
    """Steady-state and end-to-end throughput, time and peak RSS of one worker run."""
    peak = _rss_mib()
    steady = statistics.median(step_times[2:] or step_times)
    return {
        "step_pairs_per_s": args.batch_size / steady,
        "pairs_per_s": args.steps * args.batch_size / elapsed,
        "seconds": elapsed,
        "peak_rss_mib": peak,
        "peak_rss_delta_mib": peak - before,
    }


def worker(kind: str, base: str, args: argparse.Namespace) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from prefkit.align.tiny import synthetic_records

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    os.environ["TQDM_DISABLE"] = "1"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base)
    tok = AutoTokenizer.from_pretrained(base)
    tok.chat_template = None  # plain prompt + response in both trainers
    records = _variable(synthetic_records(args.pairs, seed=1), args.max_repeat)
    rows = [
        {"prompt": r["prompt"],
         "chosen": r["a_text"] if r["winner"] == "a" else r["b_text"],
         "rejected": r["b_text"] if r["winner"] == "a" else r["a_text"]}
        for r in records
    ]
    before = _rss_mib()
    if args.loss == "kto":
        return _kto_worker(kind, model, tok, rows, args, before)
    if kind in ("prefkit", "packed"):
        from prefkit.align.trainer import AlignConfig, AlignTrainer
        from prefkit.data import PreferenceDataset

        ds = PreferenceDataset.from_records(
            [{"prompt": r["prompt"], "a_text": r["chosen"], "b_text": r["rejected"],
              "winner": "a"} for r in rows])
        t0 = time.perf_counter()
        trainer = AlignTrainer(model, tok, AlignConfig(
            loss="dpo", beta=0.1, learning_rate=1e-3, max_steps=args.steps,
            batch_size=args.batch_size, max_grad_norm=1.0, device="cpu",
            packing=kind == "packed"))
        trainer.train(ds)
        elapsed = time.perf_counter() - t0
        step_times = [h["seconds"] for h in trainer.history]
    else:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer

        step_times: list[float] = []
        ds = Dataset.from_list(rows)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            cfg = DPOConfig(
                output_dir=out, per_device_train_batch_size=args.batch_size,
                max_steps=args.steps, learning_rate=1e-3, beta=0.1, loss_type=["sigmoid"],
                precompute_ref_log_probs=True, precompute_ref_batch_size=32,
                **TRL_COMMON,
            )
            trainer = DPOTrainer(model=model, args=cfg, train_dataset=ds,
                                 processing_class=tok, callbacks=[_step_timer(step_times)])
            trainer.train()
            elapsed = time.perf_counter() - t0
    return _summary(step_times, elapsed, before, args)


def _kto_worker(kind: str, model: object, tok: object, rows: list[dict[str, str]],
                args: argparse.Namespace, before: float) -> dict[str, float]:
    """Unpaired KTO: every pair's chosen response desirable, its rejected one undesirable."""
    examples = ([{"prompt": r["prompt"], "completion": r["chosen"], "label": True} for r in rows]
                + [{"prompt": r["prompt"], "completion": r["rejected"], "label": False}
                   for r in rows])
    if kind == "prefkit":
        from prefkit.align.trainer import AlignConfig, AlignTrainer
        from prefkit.data import PreferenceDataset

        ds = PreferenceDataset.from_records(
            [{"prompt": e["prompt"], "text": e["completion"],
              "scores": {"label": float(e["label"])}} for e in examples], kind="rating")
        t0 = time.perf_counter()
        trainer = AlignTrainer(model, tok, AlignConfig(
            loss="kto", beta=0.1, learning_rate=1e-3, max_steps=args.steps,
            batch_size=args.batch_size, max_grad_norm=1.0, device="cpu"))
        trainer.train(ds, progress=False)
        elapsed = time.perf_counter() - t0
        step_times = [h["seconds"] for h in trainer.history]
    else:
        from datasets import Dataset
        from trl import KTOConfig, KTOTrainer

        step_times: list[float] = []
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            cfg = KTOConfig(
                output_dir=out, per_device_train_batch_size=args.batch_size,
                max_steps=args.steps, learning_rate=1e-3, beta=0.1,
                precompute_ref_log_probs=True, precompute_ref_batch_size=32,
                **TRL_COMMON,
            )
            trainer = KTOTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(examples),
                                 processing_class=tok, callbacks=[_step_timer(step_times)])
            trainer.train()
            elapsed = time.perf_counter() - t0
    return _summary(step_times, elapsed, before, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--packing", action="store_true",
                        help="compare padded and packed prefkit batches (not TRL)")
    parser.add_argument("--max-repeat", type=int, default=None,
                        help="responses repeated 1..N times (default 8 with --packing, else 1)")
    parser.add_argument("--hidden", type=int, default=64, help="tiny model hidden size")
    parser.add_argument("--layers", type=int, default=2, help="tiny model layers")
    parser.add_argument("--loss", choices=["dpo", "kto"], default="dpo",
                        help="kto: unpaired KTO in both trainers")
    parser.add_argument("--worker", choices=["prefkit", "packed", "trl"])
    parser.add_argument("--base")
    args = parser.parse_args()
    if args.max_repeat is None:
        args.max_repeat = 8 if args.packing else 1
    kinds = ("prefkit", "packed") if args.packing else ("prefkit", "trl")
    if args.worker:
        print(json.dumps(worker(args.worker, args.base, args)))
        return
    from prefkit.align.tiny import build_tiny

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "tiny"
        build_tiny(base, hidden_size=args.hidden, layers=args.layers)
        pad_share = _padding_share(str(base), args)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for _ in range(args.repeats):
            for kind in kinds:
                cmd = [sys.executable, __file__, "--worker", kind, "--base", str(base),
                       "--steps", str(args.steps), "--pairs", str(args.pairs),
                       "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                       "--max-repeat", str(args.max_repeat), "--loss", args.loss]
                res = subprocess.run(cmd, check=True, capture_output=True, text=True)
                runs[kind].append(json.loads(res.stdout.strip().splitlines()[-1]))
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    what = "unpaired KTO (examples/s)" if args.loss == "kto" else "DPO"
    print(f"{what}, tiny Llama ({args.layers}x{args.hidden}), CPU, {args.threads} threads, "
          f"batch {args.batch_size}, "
          f"{args.steps} steps, {args.pairs} pairs, responses x1..{args.max_repeat}, "
          f"padding {pad_share:.0%} of padded tokens, medians of {args.repeats}")
    print(f"{'':10s} {'step pairs/s':>12s} {'e2e pairs/s':>11s} {'seconds':>8s} "
          f"{'peak RSS MiB':>13s} {'Δ RSS MiB':>10s}")
    for kind, m in med.items():
        print(f"{kind:10s} {m['step_pairs_per_s']:12.1f} {m['pairs_per_s']:11.1f} "
              f"{m['seconds']:8.2f} "
              f"{m['peak_rss_mib']:13.1f} {m['peak_rss_delta_mib']:10.1f}")
    if args.packing:
        p, q = med["packed"], med["prefkit"]
        print(f"ratio packed/padded: step throughput "
              f"{p['step_pairs_per_s'] / q['step_pairs_per_s']:.2f}x, "
              f"end-to-end {p['pairs_per_s'] / q['pairs_per_s']:.2f}x, "
              f"peak RSS {p['peak_rss_mib'] / q['peak_rss_mib']:.2f}x")
        print(json.dumps({"runs": runs, "medians": med, "padding_share": pad_share}))
        return
    p, t = med["prefkit"], med["trl"]
    print(f"ratio prefkit/trl: step throughput "
          f"{p['step_pairs_per_s'] / t['step_pairs_per_s']:.2f}x, "
          f"end-to-end {p['pairs_per_s'] / t['pairs_per_s']:.2f}x, "
          f"peak RSS {p['peak_rss_mib'] / t['peak_rss_mib']:.2f}x, "
          f"Δ RSS {p['peak_rss_delta_mib'] / max(t['peak_rss_delta_mib'], 1e-9):.2f}x")
    print(json.dumps({"runs": runs, "medians": med}))


if __name__ == "__main__":
    main()
