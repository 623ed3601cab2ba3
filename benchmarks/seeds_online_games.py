"""CPU demo: do the game-theoretic / hybrid online methods (HyPO, GPO, Nash-MD, SPO, APO, EGPO)
raise a readable gold reward on the tiny model?

Same setup as ``benchmarks/align_online.py --demo``: the tiny model, its synthetic prompts, the
labeller and the gold reward both ``gold.politeness`` (polite minus rude words), 8 prompts per
step, 4 completions per prompt, 24 new tokens, lr 3e-3; the gold reward of the starting and the
final policy is measured on every prompt with a fixed sampling seed (4 samples per prompt).

    .venv/bin/python benchmarks/seeds_online_games.py --steps 30 --n-prompts 40
"""

from __future__ import annotations

import argparse
import copy
import time

#: per-method settings of the demo (OnlineConfig fields; algo_params under "params")
SETTINGS: dict[str, dict] = {
    "hypo": {"beta": 0.1, "params": {"lam": 0.1}},
    "gpo": {"eta": 0.5, "refresh_every": 10},
    "nash-md": {"beta": 0.05, "params": {"mixture": 0.125}},
    "spo": {"beta": 0.05},
    "apo": {"eta": 10.0, "refresh_every": 10, "params": {"alpha": 0.3}},
    "egpo": {"beta": 0.1, "params": {"mixture": 0.125}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--n-prompts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--algos", default=",".join(SETTINGS))
    args = parser.parse_args()

    import numpy as np
    import torch

    from prefkit.align.online.config import OnlineConfig
    from prefkit.align.online.gold import politeness
    from prefkit.align.online.sampling import sample_rollout
    from prefkit.align.online.trainer import OnlineTrainer
    from prefkit.align.tiny import build_tiny, synthetic_records

    def mean_gold(model, tok, prompts) -> float:
        r = sample_rollout(model, tok, prompts, n=4, max_new_tokens=24, seed=12345, logps=False)
        return float(politeness(r.sample_prompts, r.texts).mean())

    torch.set_num_threads(args.threads)
    base, tok = build_tiny()
    prompts = sorted({r["prompt"] for r in synthetic_records(10 * args.n_prompts)})
    prompts = prompts[: args.n_prompts]
    start = mean_gold(base, tok, prompts)
    print(f"starting policy: mean gold {start:.2f} ({len(prompts)} prompts × 4 samples), "
          f"{args.steps} steps, seed {args.seed}")
    print("| algo | settings | gold start | gold end | KL to π_ref (last 5) | seconds |")
    print("|---|---|---|---|---|---|")
    for algo in [a for a in args.algos.split(",") if a]:
        extra = dict(SETTINGS[algo])
        params = extra.pop("params", {})
        cfg = OnlineConfig(algo=algo, max_steps=args.steps, prompts_per_step=8, group_size=4,
                           max_new_tokens=24, learning_rate=3e-3, seed=args.seed,
                           algo_params=params, **extra)
        t0 = time.perf_counter()
        trainer = OnlineTrainer(copy.deepcopy(base), tok, politeness, prompts, cfg,
                                reference_model=copy.deepcopy(base), gold=politeness)
        hist = trainer.train(progress=False)
        end = mean_gold(trainer.model, tok, prompts)
        # the trainer's KL is to its reference, which gpo and apo refresh every 10 steps
        kl = float(np.mean([h["kl"] for h in hist[-5:] if np.isfinite(h["kl"])] or [np.nan]))
        shown = ", ".join(f"{k} {v}" for k, v in {**extra, **params}.items())
        print(f"| {algo} | {shown} | {start:.2f} | {end:.2f} | {kl:.1f} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
