"""``weight_decay="auto"`` against the old fixed default (1e-4) on a small training set.

Train the default reward model (linear head, packed+cosine MiniLM features) on a ~500-pair
training split of PandaLM (annotator majority, ties dropped; three random splits by prompt) and
test on the rest of PandaLM and on HHH (helpful / honest / harmless, BIG-bench; the
harmlessness-style set in ``../shared/data``).  Prints mean accuracy / log-loss per decay over
the splits, and what ``auto`` chose.

    .venv/bin/python benchmarks/reward_wd_auto.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reward_real import _load, _text_pairs, test_sets

from prefkit.reward import RewardModel
from prefkit.reward.model import fit_metrics


def split(panda, seed: int):
    """~60 % of PandaLM's prompts for training (≈ 500 pairs), the rest held out."""
    prompts = np.array([str(p) for p in panda.column("prompt")])
    rng = np.random.default_rng(seed)
    uniq = rng.permutation(np.unique(prompts))
    train_prompts = set(uniq[: int(0.6 * len(uniq))].tolist())
    is_train = np.array([p in train_prompts for p in prompts])
    return panda.filter(is_train), panda.filter(~is_train)


def main() -> None:
    panda = _text_pairs(_load("*PandaLM*").aggregate_annotators("majority"))
    hhh = test_sets()["HHH"]
    decays: list[float | str] = [1e-4, 1e-3, 1e-2, 1e-1, "auto"]
    rows: dict[str, list[list[float]]] = {str(d): [] for d in decays}
    chosen: list[float] = []
    for seed in range(3):
        train, rest = split(panda, seed)
        sets = {"PandaLM held-out": rest, "HHH": hhh}
        print(f"split {seed}: train {len(train)} pairs; "
              + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
        for wd in decays:
            model = RewardModel(weight_decay=wd).fit(train)
            cells = []
            for ds in sets.values():
                m = fit_metrics(model.predict_proba(ds), ds.outcomes(), ds.weights())
                cells += [m["accuracy"], m["log_loss"]]
            rows[str(wd)].append(cells)
            if wd == "auto":
                chosen.append(model.fit_report_["weight_decay"])
                search = model.fit_report_["weight_decay_search"]
                print("   auto chose", chosen[-1], "CV log-loss", search["held_out_log_loss"])
    print("\n| weight decay | PandaLM held-out acc | log-loss | HHH acc | log-loss |")
    print("|---|---:|---:|---:|---:|")
    for wd, cells in rows.items():
        mean = np.mean(cells, axis=0)
        label = f"auto (chose {', '.join(f'{c:g}' for c in chosen)})" if wd == "auto" else wd
        print(f"| {label} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | {mean[3]:.3f} |")


if __name__ == "__main__":
    main()
