"""The int8 ONNX Runtime encoder vs sentence-transformers: throughput at equal thread count and
agreement (cosine per text) on the same packed prompt+response texts.

    .venv/bin/python benchmarks/scale_onnx_encoder.py [--n 256] [--threads 2] [--repeats 3]
        [--all-int8] [--attention-variants] [--st-batch-sizes 1,8]

Texts: real responses (LLMEval², PandaLM in ../shared/data) packed with their prompts, as a
reward model sees them.  sentence-transformers runs as shipped (sorted by length, batches of 32,
``--threads`` torch threads); the ONNX encoder as prefkit runs it (one text per pass, no padding,
``--threads`` passes at once).  ``--st-batch-sizes`` adds sentence-transformers rows with other
batch sizes, to show what padding-free passes alone are worth to torch.  Runs alternate and the
median of ``--repeats`` is reported (the machine is shared: read the ratio, not the seconds).
Goal (issue 18): ≥ 2× throughput, cosine ≥ 0.99 per text.  ``--attention-variants`` adds the
other attention fusions (``OnnxSettings.attention_fusion``: ``multi_head``, ``none``) and a float
(unquantized) fused ``Attention``; the column "per-run" is the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reward_encode import corpus

from prefkit.encode import SentenceEncoder, pack_batch
from prefkit.encode.onnx_encoder import OnnxEncoder
from prefkit.encode.onnx_export import OnnxSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--all-int8", action="store_true",
                        help="also time int8 everywhere, no smoothing (the fast, inexact one)")
    parser.add_argument("--attention-variants", action="store_true",
                        help="also time the other attention fusions (OnnxSettings)")
    parser.add_argument("--st-batch-sizes", default="",
                        help="comma-separated extra sentence-transformers batch sizes")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch_encoder = SentenceEncoder(batch_size=32, progress=False)
    prompts, responses = corpus(args.n)
    texts = pack_batch(prompts, responses, torch_encoder.tokenizer, 256)
    tokens = [len(torch_encoder.tokenizer(t)["input_ids"]) for t in texts]
    print(f"{len(texts)} packed texts, median {int(np.median(tokens))} tokens, "
          f"{args.threads} threads for both")
    with tempfile.TemporaryDirectory() as cache:
        variants = {"onnx int8 (default)": OnnxSettings()}
        if args.all_int8:
            variants["onnx int8, all ops, no smoothing"] = OnnxSettings(
                smooth_alpha=None, float_ffn_out_layers=(), float_max_tokens=0)
        if args.attention_variants:
            variants["int8, MultiHeadAttention"] = OnnxSettings(attention_fusion="multi_head")
            variants["int8, attention unfused"] = OnnxSettings(attention_fusion="none")
            variants["int8, float Attention op"] = OnnxSettings(quantize_attention=False)
        variants["onnx float32 (fused)"] = OnnxSettings(quantize=False)
        encoders = {}
        for name, settings in variants.items():
            start = time.perf_counter()
            enc = OnnxEncoder(settings=settings, threads=args.threads, cache_dir=cache,
                              progress=False)
            enc.session  # noqa: B018 - first use exports
            encoders[name] = enc
            print(f"{name}: export + load {time.perf_counter() - start:.1f} s (once per machine)")
        reference = torch_encoder.encode(texts)
        others = {f"sentence-transformers, batch {b}": SentenceEncoder(batch_size=int(b),
                                                                        progress=False)
                  for b in filter(None, args.st_batch_sizes.split(","))}
        runs: dict[str, list[float]] = {"sentence-transformers (torch)": []}
        runs.update({name: [] for name in others})
        runs.update({name: [] for name in encoders})
        cosines = {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            torch_encoder.encode(texts)
            runs["sentence-transformers (torch)"].append(time.perf_counter() - start)
            for name, other in others.items():
                start = time.perf_counter()
                cosines[name] = (other.encode(texts) * reference).sum(axis=1)
                runs[name].append(time.perf_counter() - start)
            for name, enc in encoders.items():
                start = time.perf_counter()
                got = enc.encode(texts)
                runs[name].append(time.perf_counter() - start)
                cosines[name] = (got * reference).sum(axis=1)
    base = statistics.median(runs["sentence-transformers (torch)"])
    print(f"{'encoder':36s} {'median s':>9s} {'texts/s':>8s} {'speed-up':>8s} {'per-run':>7s} "
          f"{'cos min':>8s} {'cos p1':>7s} {'cos mean':>8s}")
    torch_times = runs["sentence-transformers (torch)"]
    for name, times in runs.items():
        med = statistics.median(times)
        per_run = statistics.median(t / m for t, m in zip(torch_times, times, strict=True))
        cos = cosines.get(name)
        stats = ("" if cos is None else
                 f"{cos.min():8.4f} {np.percentile(cos, 1):7.4f} {cos.mean():8.5f}")
        print(f"{name:36s} {med:9.2f} {len(texts) / med:8.1f} {base / med:7.2f}× "
              f"{per_run:6.2f}× {stats}")


if __name__ == "__main__":
    main()
