"""Plural models on the real data in ../shared/data and on the 3-group simulator.

Run:  .venv/bin/python benchmarks/plural_real.py [--json out.json]

Prints the markdown tables of docs/plural.md: each model beside its population baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests" / "plural"))

from prefkit.choice import BradleyTerry, PlackettLuce  # noqa: E402
from prefkit.data import read  # noqa: E402
from prefkit.evaluate import evaluate  # noqa: E402
from prefkit.plural import (  # noqa: E402
    PALA,
    PALB,
    VPL,
    BradleyTerryMixture,
    CovariateBradleyTerry,
    MaxMinRLHF,
    MiCRo,
    PlackettLuceMixture,
    disagreement_calibration,
    few_shot_curve,
    group_recovery,
    worst_group_accuracy,
)

warnings.filterwarnings("ignore")
ROWS: list[dict] = []


def row(data: str, metric: str, baseline: str, base: float, model: str, value: float,
        note: str = "") -> None:
    ROWS.append({"data": data, "metric": metric, "baseline": baseline, "baseline_value": base,
                 "model": model, "value": value, "note": note})
    print(f"| {data} | {metric} | {baseline}: {base:.4f} | {model}: {value:.4f} | {note} |",
          flush=True)


def file(sub: str, prefix: str) -> str:
    return str(sorted((DATA / sub).glob(prefix + "*"))[0])


def sushi() -> None:
    ds = read(file("rankings", "cran_BayesMallows__data_sushi_rankings"))
    train, test = ds.split(by="user", test_size=0.3, seed=0)
    single = PlackettLuce().fit(train)
    t = time.perf_counter()
    mix = PlackettLuceMixture("auto", max_components=6, n_init=1, max_iter=100).fit(train)
    seconds = time.perf_counter() - t
    n = len(test)
    row("sushi (5,000 rankings, 30% of people held out)", "held-out log-lik / person",
        "PL", single.log_likelihood(test) / n, f"PL mixture K={mix.n_components_} (BIC)",
        mix.log_likelihood(test) / n,
        "BIC by K: " + ", ".join(f"{k}: {v:.0f}" for k, v in mix.selection_scores_.items())
        + f"; K = 1..6 fitted in {seconds:.1f}s")


def beach() -> None:
    ds = read(file("annotators", "cran_BayesMallows__data_beach_preferences"))
    train, test = ds.split(by="random", test_size=0.25, seed=0)
    bt = evaluate(BradleyTerry().fit(train), test)
    mix = BradleyTerryMixture("auto", n_init=2).fit(train)
    m = evaluate(mix, test)
    note = f"K={mix.n_components_}; log-loss {bt['log_loss']:.3f} → {m['log_loss']:.3f}"
    row("beach (60 assessors, 25% of pairs held out)", "accuracy", "BT", bt["accuracy"],
        "BT mixture (BIC)", m["accuracy"], note)


def covariates(prefix: str, name: str) -> None:
    ds = read(file("annotators", prefix))
    plain_all = CovariateBradleyTerry([]).fit(ds)
    cov_all = CovariateBradleyTerry().fit(ds)
    train, test = ds.split(by="user", test_size=0.3, seed=0)
    held = {}
    for l2 in (1.0, 20.0):
        held[l2] = CovariateBradleyTerry(l2=l2).fit(train).log_likelihood(test)
    plain = CovariateBradleyTerry([]).fit(train).log_likelihood(test)
    cv = CovariateBradleyTerry().fit(train)  # default: λ by cross-validation over people
    row(name, "AIC (all data)", "BT", plain_all.aic_,
        f"BT + user covariates (λ by CV = {cov_all.l2_:g})", cov_all.aic_,
        ", ".join(cov_all.covariate_names_))
    row(name, "held-out log-lik (30% of people)", "BT", plain,
        f"BT + covariates (λ by CV = {cv.l2_:g}, the default)", cv.log_likelihood(test),
        f"λ=1: {held[1.0]:.1f}; λ=20: {held[20.0]:.1f}")


def polis() -> None:
    ds = read(file("annotators", "compdemocracy_openData__brexit-consensus_votes"))
    pairs = ds.to_pairs()
    pairs = pairs.filter(~pairs.is_tie())
    train, test = pairs.split(by="random", test_size=0.25, seed=0)
    bt = evaluate(BradleyTerry(prior_var=10.0).fit(train), test)
    mix = BradleyTerryMixture("auto", max_components=5, n_init=1, max_iter=60).fit(train)
    m = evaluate(mix, test)
    row(f"Polis Brexit ({len(pairs):,} within-voter pairs, 204 voters)", "accuracy", "BT",
        bt["accuracy"], f"BT mixture K={mix.n_components_} (BIC)", m["accuracy"],
        f"log-loss {bt['log_loss']:.3f} → {m['log_loss']:.3f}")


def annotators(sub: str, prefix: str, name: str) -> None:
    ds = read(file(sub, prefix))
    ds = ds.filter(~np.isnan(ds.outcomes()))
    bt = BradleyTerry().fit(ds)
    base = disagreement_calibration(bt, ds)
    for k in (2, 3):
        mix = BradleyTerryMixture(k, n_init=2).fit(ds)
        res = disagreement_calibration(mix, ds)
        row(name, "log-loss vs annotators' label shares", "BT", base["log_loss"],
            f"BT mixture K={k} (marginal)", res["log_loss"],
            f"entropy floor {res['entropy']:.3f}; {res['n']} comparisons")


def simulator() -> None:
    from plural_helpers import item_groups, text_groups, true_groups

    sim, train, test, new = item_groups()
    bt = evaluate(BradleyTerry().fit(train), test)["accuracy"]
    mix = BradleyTerryMixture("auto", n_init=1).fit(train)
    ari = group_recovery(mix, sim.truth["users"], sim.truth["user_group"])
    wg = worst_group_accuracy(mix, test, true_groups(sim, test))
    row("simulator, items (3 groups)", "accuracy", "BT", bt, f"BT mixture K={mix.n_components_}",
        evaluate(mix, test)["accuracy"], f"worst group {wg:.3f}; ARI {ari:.2f}")
    curve = few_shot_curve(mix, new)
    print("few-shot (BT mixture):", json.dumps(curve))
    ROWS.append({"data": "simulator items few-shot", "curve": curve})
    sim, train, test, new = text_groups()
    pop = evaluate(MaxMinRLHF(1).fit(train), test)["accuracy"]
    for name, model in [("MaxMin-RLHF K=3", MaxMinRLHF(3)), ("PAL-A K=3", PALA(3)),
                        ("PAL-B K=3", PALB(3)), ("VPL", VPL()), ("MiCRo K=3", MiCRo(3))]:
        t = time.time()
        model.fit(train)
        acc = evaluate(model, test)["accuracy"]
        wg = worst_group_accuracy(model, test, true_groups(sim, test))
        curve = few_shot_curve(model, new)
        ROWS.append({"data": "simulator texts few-shot", "model": name, "curve": curve})
        row("simulator, texts (3 groups, 5 attributes)", "accuracy", "single reward head", pop,
            name, acc, f"worst group {wg:.3f}; new user k=1/4/8/16: "
            + "/".join(f"{curve[k]['accuracy']:.2f}" for k in (1, 4, 8, 16))
            + f"; {time.time() - t:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print("| data | metric | population baseline | plural model | note |")
    print("|---|---|---|---|---|")
    simulator()
    if DATA.is_dir():
        sushi()
        beach()
        covariates("cran_psychotree__data_Topmodel2007", "Topmodel2007 (192 subjects)")
        covariates("cran_psychotree__data_CEMSChoice", "CEMS (303 students)")
        polis()
        annotators("llm-pairwise", "WeOpenML_PandaLM", "PandaLM (999 pairs × 3 annotators)")
        annotators("annotators", "allenai_open-instruct__human_eval_data_eval_annotations_tulu_1",
                   "Tulu-1 human eval (16 evaluators)")
    else:
        print(f"(no real data at {DATA})")
    if args.json:
        args.json.write_text(json.dumps(ROWS, indent=2))


if __name__ == "__main__":
    main()
