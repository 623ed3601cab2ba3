"""Near-duplicate search on a planted corpus: precision and recall of MinHash LSH + verified
Jaccard (``prefkit.quality.duplicates``) by number of character edits and threshold.

    .venv/bin/python benchmarks/quality_duplicates.py [--distinct 2000] [--seeds 3]

Corpus: random 40-word texts (letters a–z, words of 3–8 letters, ~240 characters); for each edit
count, 200 near copies with that many letters replaced.  A pair is "should be found" when its
exact Jaccard of character 5-grams is ≥ the threshold (so recall measures the LSH step only) —
and "planted" recall counts all planted copies.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from prefkit.quality.duplicates import jaccard, near_pairs, normalise, shingles

ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def corpus(rng: np.random.Generator, n: int, edits: int, n_near: int):
    texts = [" ".join("".join(rng.choice(ALPHABET, size=rng.integers(3, 9))) for _ in range(40))
             for _ in range(n)]
    planted = set()
    for src in rng.choice(n, size=n_near, replace=False):
        chars = list(texts[src])
        for pos in rng.choice(len(chars), size=edits, replace=False):
            chars[pos] = "#"
        texts.append("".join(chars))
        planted.add((int(src), len(texts) - 1))
    return [normalise(t) for t in texts], planted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--distinct", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print("| threshold | edits | mean J of planted | planted found | recall (J ≥ t) | "
          "precision | seconds |")
    print("|---|---|---|---|---|---|---|")
    for threshold in (0.9, 0.8):
        for edits in (1, 3, 6):
            found_pl, found_true, n_true, n_pl, n_found, tp, secs, sims = 0, 0, 0, 0, 0, 0, 0.0, []
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                keys, planted = corpus(rng, args.distinct, edits, 200)
                start = time.perf_counter()
                found = {(i, j) for i, j, _ in near_pairs(keys, threshold)}
                secs += time.perf_counter() - start
                truth = {p for p in planted
                         if jaccard(shingles(keys[p[0]]), shingles(keys[p[1]])) >= threshold}
                sims += [jaccard(shingles(keys[i]), shingles(keys[j])) for i, j in planted]
                n_pl += len(planted)
                found_pl += len(found & planted)
                n_true += len(truth)
                found_true += len(found & truth)
                n_found += len(found)
                tp += sum(jaccard(shingles(keys[i]), shingles(keys[j])) >= threshold
                          for i, j in found)
            recall = f"{found_true / n_true:.3f}" if n_true else "–"
            print(f"| {threshold} | {edits} | {np.mean(sims):.3f} | {found_pl / n_pl:.3f} | "
                  f"{recall} (of {n_true}) | "
                  f"{f'{tp / n_found:.3f}' if n_found else '–'} | {secs / args.seeds:.2f} |")


if __name__ == "__main__":
    main()
