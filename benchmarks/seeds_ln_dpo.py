"""LN-DPO vs DPO on data where the chosen response is the longer one (seed row 44).

The LN-DPO paper (Ahrabian et al. 2024) finds that DPO drifts toward long responses and that the
length-normalised loss gives more concise answers at equal quality.  Here: the tiny local causal
LM (:mod:`prefkit.align.tiny`, nothing downloaded) is trained with ``--loss dpo`` and
``--loss ln_dpo`` on synthetic pairs whose chosen response is polite *and* long (the good
sentence plus a restatement) and whose rejected response is rude and short, so length and
quality are confounded as in real preference data.  Then each policy samples responses to
held-out prompts and we measure their length (tokens before EOS) and quality (share of the
sentence's adjectives that are polite ones).  β is set per loss so that the two start with the
same implicit-reward scale (LN-DPO divides the log-ratio by the length: β_LN = β·mean length);
``--ln-beta`` sets β_LN directly.

    .venv/bin/python benchmarks/seeds_ln_dpo.py --seeds 2

Prints per seed and the medians; the numbers in docs/seeds.md come from this command.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np


def confounded_records(n: int, seed: int) -> list[dict[str, str]]:
    """Chosen = polite and long (the sentence, then a restatement); rejected = rude and short."""
    from prefkit.align import tiny

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        subject = str(rng.choice(tiny._SUBJECTS))
        prompt = f"{rng.choice(tiny._ASKS)} {subject} ?"
        good = tiny._response(rng, subject, True)
        long_good = f"{good} {tiny._response(rng, subject, True)}"
        bad = tiny._response(rng, subject, False)
        first = bool(rng.random() < 0.5)
        out.append({"prompt": prompt, "a_text": long_good if first else bad,
                    "b_text": bad if first else long_good, "winner": "a" if first else "b"})
    return out


def measure(model, tok, prompts, samples: int, seed: int) -> dict[str, float]:
    from prefkit.align import tiny
    from prefkit.align.sampling import generate_candidates

    texts = [t for group in generate_candidates(model, tok, prompts, n=samples,
                                                max_new_tokens=48, seed=seed) for t in group]
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    good = bad = 0
    for t in texts:
        words = t.split()
        good += sum(w in tiny._GOOD for w in words)
        bad += sum(w in tiny._BAD for w in words)
    return {"length": float(np.mean(lengths)), "polite_share": good / max(good + bad, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--ln-beta", type=float, default=None,
                        help="β of LN-DPO (default: DPO's β × the mean response length)")
    args = parser.parse_args()

    from prefkit.align.pairs import text_pairs, tokenize_pairs
    from prefkit.align.tiny import build_tiny
    from prefkit.align.trainer import AlignConfig, AlignTrainer
    from prefkit.data import PreferenceDataset

    rows = []
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        base, tok = build_tiny(seed=seed, steps=60)
        data = PreferenceDataset.from_records(confounded_records(args.pairs, seed + 100),
                                              kind="pairwise")
        pairs = tokenize_pairs(tok, text_pairs(data))
        chosen_len = float(np.mean([len(c) for c in pairs.chosen_ids]))
        rejected_len = float(np.mean([len(r) for r in pairs.rejected_ids]))
        mean_len = (chosen_len + rejected_len) / 2
        prompts = [r["prompt"] for r in confounded_records(args.prompts, seed + 999)]
        row = {"seed": seed, "chosen_len": chosen_len, "rejected_len": rejected_len,
               "reference": measure(base, tok, prompts, args.samples, seed)}
        ln_beta = 0.1 * mean_len if args.ln_beta is None else args.ln_beta
        for loss, beta in (("dpo", 0.1), ("ln_dpo", ln_beta)):
            policy = copy.deepcopy(base)
            cfg = AlignConfig(loss=loss, beta=beta, learning_rate=2e-3, max_steps=args.steps,
                              batch_size=8, seed=seed)
            AlignTrainer(policy, tok, cfg, reference_model=copy.deepcopy(base)).train(data)
            row[loss] = measure(policy, tok, prompts, args.samples, seed)
        rows.append(row)
        print(f"seed {seed}: chosen {chosen_len:.1f} / rejected {rejected_len:.1f} tokens | "
              + " | ".join(f"{k}: length {row[k]['length']:.1f}, polite "
                           f"{row[k]['polite_share']:.2f}" for k in ("reference", "dpo",
                                                                     "ln_dpo")), flush=True)
    med = {k: {m: statistics.median(r[k][m] for r in rows) for m in ("length", "polite_share")}
           for k in ("reference", "dpo", "ln_dpo")}
    print(f"median over {len(rows)} seeds: " + " | ".join(
        f"{k}: length {v['length']:.1f} tokens, polite share {v['polite_share']:.2f}"
        for k, v in med.items()))
    ratio = med["ln_dpo"]["length"] / med["dpo"]["length"]
    print(f"LN-DPO / DPO length ratio (median): {ratio:.2f}   "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
