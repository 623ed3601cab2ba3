"""Reward-model accuracy with ONNX int8 embeddings vs torch (sentence-transformers) embeddings.

The default reward model (linear head, packed + cosine MiniLM features, weight decay chosen by
cross-validation) is trained twice on the same PandaLM training split (annotator majority, ties
dropped, ~60 % of the prompts): once on the torch encoder, once on ``--encoder-backend onnx``.
Both are tested on the held-out PandaLM prompts and on HHH (BIG-bench helpful / honest /
harmless) from ``../shared/data``: accuracy with a 95 % Wilson interval, the share of records on
which the two models pick the same winner, and an exact paired sign test (McNemar) of the
accuracy difference.  Goal (issue 18): accuracy unchanged within its interval.

    .venv/bin/python benchmarks/scale_onnx_rm.py [--splits 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_real import _load, _text_pairs, test_sets, wilson
from reward_wd_auto import split

from prefkit.encode.onnx_encoder import cached_encoder
from prefkit.reward import RewardModel


def correct(model: RewardModel, ds) -> tuple[np.ndarray, np.ndarray]:
    """(right or wrong per record, predicted winner is a) on the records without ties."""
    p_a = np.asarray(model.predict_proba(ds), dtype=float)
    a_won = np.asarray(ds.outcomes()) == 1.0
    return (p_a > 0.5) == a_won, p_a > 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    args = parser.parse_args()
    panda = _text_pairs(_load("*PandaLM*").aggregate_annotators("majority"))
    hhh = test_sets()["HHH"]
    encoders = {"torch": cached_encoder(None, "torch"), "onnx int8": cached_encoder(None, "onnx")}
    for name, enc in encoders.items():  # encode everything once (cached for the fits)
        start = time.perf_counter()
        for ds in (panda, hhh):
            RewardModel(encoder=enc).features(ds)
        print(f"{name}: warm-up {time.perf_counter() - start:.1f} s", flush=True)
    print("| split | test set | n | torch acc [95 % CI] | onnx acc [95 % CI] | same winner | "
          "McNemar p |")
    print("|---|---|---:|---|---|---:|---:|")
    for seed in range(args.splits):
        train, rest = split(panda, seed)
        models = {name: RewardModel(encoder=enc).fit(train) for name, enc in encoders.items()}
        for label, ds in (("PandaLM held-out", rest), ("HHH", hhh)):
            right_t, pick_t = correct(models["torch"], ds)
            right_o, pick_o = correct(models["onnx int8"], ds)
            n = len(right_t)
            cells = []
            for right in (right_t, right_o):
                lo, hi = wilson(right.sum(), n)
                cells.append(f"{right.mean():.3f} [{lo:.3f}, {hi:.3f}]")
            only_t, only_o = int((right_t & ~right_o).sum()), int((right_o & ~right_t).sum())
            p = binomtest(only_t, only_t + only_o).pvalue if only_t + only_o else 1.0
            print(f"| {seed} | {label} | {n} | {cells[0]} | {cells[1]} | "
                  f"{(pick_t == pick_o).mean():.3f} | {p:.2f} |", flush=True)


if __name__ == "__main__":
    main()
