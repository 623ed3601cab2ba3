"""FLR (follow-up likelihood as reward) ranks preference pairs without preference training
(seed row 13).

The FLR paper (Zhang et al. 2024) scores a response by how likely a language model finds a
positive user follow-up ("thanks, that helps") rather than a negative one after it, and reports
that this label-free reward matches trained reward models.  The CPU version: a tiny causal LM
(built locally, nothing downloaded) is pre-trained on *unlabelled* dialogues — prompt, a polite
or rude response, and a follow-up that thanks a polite answer and complains about a rude one
with probability ``--agree`` (the rest are the opposite follow-up: noisy, natural feedback).  It
never sees a preference pair.  :class:`prefkit.reward.flr.FollowUpLikelihoodReward` then ranks
held-out synthetic preference pairs (polite ≻ rude).  Controls: the same architecture and
tokenizer pre-trained on (1) the same dialogues with the follow-ups *reversed* (users thank the
rude answers with probability ``--agree``) — if FLR reads the follow-up statistics its ranking
must flip below chance — and (2) the dialogues without any follow-up; and chance (0.5).

    .venv/bin/python benchmarks/seeds_flr.py --seeds 2

Prints pairwise accuracy per seed and the medians (docs/seeds.md quotes this command).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

THANKS = ("thank you , that is helpful .", "thanks , great answer .")
COMPLAINTS = ("that is not what i asked .", "no , that is wrong .")


def dialogues(n: int, seed: int, agree: float, follow_ups: bool) -> list[str]:
    from prefkit.align import tiny

    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        subject = str(rng.choice(tiny._SUBJECTS))
        prompt = f"{rng.choice(tiny._ASKS)} {subject} ?"
        good = bool(rng.random() < 0.5)
        resp = tiny._response(rng, subject, good)
        pool = THANKS if good == bool(rng.random() < agree) else COMPLAINTS
        tail = f" <|user|> {rng.choice(pool)}" if follow_ups else ""
        texts.append(f"<|user|> {prompt} <|assistant|> {resp}{tail} </s>")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--agree", type=float, default=0.8)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=100)
    args = parser.parse_args()

    from prefkit.align import tiny
    from prefkit.reward.flr import FollowUpLikelihoodReward

    t0 = time.perf_counter()
    acc: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        with_fu = dialogues(400, seed + 1, args.agree, True)
        tok = tiny.build_tokenizer(with_fu)
        test = tiny.synthetic_preferences(args.pairs, seed=seed + 500)
        y = test.outcomes() > 0.5
        line = []
        for name, corpus in (("follow-up dialogues", with_fu),
                             ("reversed follow-ups (control)",
                              dialogues(400, seed + 1, 1 - args.agree, True)),
                             ("no follow-ups (control)",
                              dialogues(400, seed + 1, args.agree, False))):
            model = tiny.build_model(tok, seed=seed)
            tiny.pretrain(model, tok, corpus, steps=args.steps, seed=seed)
            for variant, neg in (("F+ − F−", COMPLAINTS), ("F+ only", ())):
                p = FollowUpLikelihoodReward(model, tok, positive=THANKS,
                                             negative=neg).predict_proba(test)
                a = float(np.mean((p > 0.5) == y))
                acc.setdefault(f"{name}, {variant}", []).append(a)
                line.append(f"{name} {variant}: {a:.2f}")
        print(f"seed {seed}: " + " | ".join(line), flush=True)
    print(f"median pairwise accuracy over {args.seeds} seeds ({args.pairs} held-out pairs each; "
          f"chance 0.50):")
    for k, v in acc.items():
        print(f"  {k:40s} {statistics.median(v):.2f}  (min {min(v):.2f})")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
