"""Bayesian (Laplace) property effects beside the bootstrap, hierarchical per-annotator effects,
the Arena-style controlled comparison, and annotator reliability on Polis (docs/quality.md).

    .venv/bin/python benchmarks/quality_bayes_drivers.py [--bootstrap 200]

Times the Laplace fit against the bootstrap on the same records (medians of 3 runs; the machine
is noisy).  Skips absent files; writes nothing but stdout.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import prefkit
from prefkit.quality import CrowdBT
from prefkit.quality._comparisons import group_comparisons
from prefkit.quality.controlled import controlled_comparison
from prefkit.quality.drivers import property_effects
from prefkit.quality.heldout import majority_agreement
from prefkit.quality.hierarchical import hierarchical_effects
from prefkit.quality.identification import identification
from prefkit.quality.properties import property_differences

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = {
    "PandaLM": "llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json",
    "LLMEval²": ("llm-pairwise/AlibabaResearch_DAMO-ConvAI__WideDeep_evaluation_data_"
                 "LLMEval2_benchmark.json.zip"),
    "Tulu-1": ("annotators/allenai_open-instruct__human_eval_data_eval_annotations_tulu_1"
               ".converted.csv"),
}
POLIS = "annotators/compdemocracy_openData__brexit-consensus_votes.csv"


def median_time(fn, runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def fmt(row: dict) -> str:
    lo, hi = row["interval"]
    return f"{row['coef']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def effects_side_by_side(name: str, ds, n_boot: int) -> None:
    diffs = property_differences(ds)
    tb, boot = median_time(lambda: property_effects(ds, diffs=diffs, n_bootstrap=n_boot), 1)
    tl, bayes = median_time(lambda: property_effects(ds, diffs=diffs, method="bayes"))
    print(f"\n### {name}: Laplace vs bootstrap ({len(ds):,} records; Laplace {tl:.3f} s, "
          f"bootstrap ×{n_boot} {tb:.1f} s, ratio {tb / tl:.0f}×)\n")
    kind = "Laplace" if bayes["covariance"] == "laplace" else "Laplace, sandwich covariance,"
    print(f"| property | {kind} β [95 %] | P(β > 0) | bootstrap β [95 %] |")
    print("|---|---|---|---|")
    rows = [("(first position)", bayes["intercept"], boot["intercept"])]
    rows += [(k, v, boot["effects"][k]) for k, v in bayes["effects"].items()]
    for prop, b, s in rows:
        print(f"| {prop} | {fmt(b)} | {b['prob_positive']:.3f} | {fmt(s)} |")
    if bayes["collinear"]:
        print(f"\ncollinear, skipped: {bayes['collinear']}")


def hierarchical_table(name: str, ds) -> None:
    diffs = property_differences(ds)
    labels = np.asarray([str(v) for v in ds.column("annotator_id")], dtype=object)
    t = time.perf_counter()
    hier = hierarchical_effects(ds, labels, diffs)
    took = time.perf_counter() - t
    props = [p for p in hier["population"] if p in ("(first position)", "length",
                                                     "readability", "prompt_overlap")]
    print(f"\n### {name}: per-annotator effects, partially pooled ({took:.1f} s, "
          f"{hier['iterations']} EM iterations)\n")
    print("| annotator | n | " + " | ".join(f"{p} pooled (unpooled)" for p in props) + " |")
    print("|---|---|" + "---|" * len(props))
    for g, block in hier["groups"].items():
        cells = [f"{block['effects'][p]['coef']:+.2f} ({block['effects'][p]['unpooled']:+.2f})"
                 for p in props]
        print(f"| {g} | {block['n']} | " + " | ".join(cells) + " |")
    pop = hier["population"]
    print("| **population μ [95 %]; τ** | – | " + " | ".join(
        f"{fmt(pop[p])}; τ = {pop[p]['tau']:.2f}" for p in props) + " |")


def controlled_table(name: str, ds) -> None:
    ctrl = controlled_comparison(ds, property_differences(ds))
    if "skipped" in ctrl:
        print(f"\n{name}: controlled comparison skipped ({ctrl['skipped']})")
        return
    print(f"\n### {name}: item strengths raw and with the properties held fixed "
          f"({ctrl['records']:,} records; {ctrl['rank_changes']} rank changes)\n")
    print("| item | raw win rate | raw θ (rank) | controlled θ (rank) |")
    print("|---|---|---|---|")
    for item, r in sorted(ctrl["items"].items(), key=lambda kv: kv[1]["raw_rank"]):
        print(f"| {item} | {r['win_rate']:.3f} | {r['raw']:+.3f} ({r['raw_rank']}) | "
              f"{r['controlled']:+.3f} ({r['controlled_rank']}) |")
    print("\nproperty effects with the items held fixed: " + "; ".join(
        f"{k} {fmt(v)}" for k, v in ctrl["properties"].items()))


def polis() -> None:
    path = DATA / POLIS
    if not path.exists():
        return
    ds = prefkit.read(str(path)).to_pairs()
    t = time.perf_counter()
    rep = CrowdBT().fit(ds).annotator_report()
    took = time.perf_counter() - t
    maj = majority_agreement(ds)
    ident = identification(group_comparisons(ds))
    eta = np.array([r["reliability"] for r in rep.values()])
    ma = np.array([maj[k]["agreement"] if maj.get(k) and maj[k]["agreement"] is not None
                   else np.nan for k in rep])
    flags: dict[str, int] = {}
    for r in rep.values():
        for f in r["flags"]:
            flags[f] = flags.get(f, 0) + 1
    ok = ~np.isnan(ma)
    q = np.percentile(eta, [10, 50, 90])
    qm = np.nanpercentile(ma, [10, 50, 90])
    print(f"\n### Polis brexit-consensus (votes → pairs within voter: {len(ds):,} pairs, "
          f"{len(rep)} voters, {ident['labels_per_comparison']:.0f} labels per statement pair; "
          f"Crowd-BT {took:.1f} s)\n")
    print("| | 10 % | median | 90 % |")
    print("|---|---|---|---|")
    print(f"| Crowd-BT η | {q[0]:.3f} | {q[1]:.3f} | {q[2]:.3f} |")
    print(f"| agreement with the majority of other voters | {qm[0]:.3f} | {qm[1]:.3f} | "
          f"{qm[2]:.3f} |")
    print(f"\nflags: {flags}; correlation of η with majority agreement across voters: "
          f"{np.corrcoef(eta[ok], ma[ok])[0, 1]:.3f}")


IDENT = {
    "PandaLM (3 annotators)": "llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json",
    "Tulu-1 human evaluation": FILES["Tulu-1"],
    "WMT MQM TED en-de (ratings → pairs)": ("annotators/google_wmt-mqm-human-evaluation__ted_"
                                            "ende_mqm_ted_ende.tsv"),
    "Polis brexit-consensus (votes → pairs)": POLIS,
    "LLMEval²": FILES["LLMEval²"],
    "arena-hard battles (GPT-4 judge)": ("llm-pairwise/lmarena_arena-hard-auto__data_arena_"
                                         "hard_battles.jsonl"),
    "MT-Bench GPT-4 pair judgments": ("judges/Stefanstud_FastChat__fastchat_llm_judge_data_"
                                      "mt_bench_model_judgment_gpt-4_pair.jsonl"),
}


def identification_table() -> None:
    """How well each real file identifies η (the `identification` block of the CLI)."""
    from prefkit.errors import DataError

    print("\n| data | records | annotators | comparisons (shared by ≥ 2 labels) | labels per "
          "comparison | what η rests on |")
    print("|---|---|---|---|---|---|")
    for name, rel in IDENT.items():
        path = DATA / rel
        if not path.exists():
            continue
        ds = prefkit.read(str(path))
        ds = ds if ds.kind == "pairwise" else ds.to_pairs()
        try:
            ident = identification(group_comparisons(ds))
        except DataError as err:
            print(f"| {name} | {len(ds):,} | – | – | – | not identified: {err.reason} |")
            continue
        why = "; ".join(ident["warnings"]) or "other annotators of the same comparisons"
        print(f"| {name} | {len(ds):,} | {ident['annotators']} | {ident['comparisons']:,} "
              f"({ident['shared_comparisons']:,}) | {ident['labels_per_comparison']:.2f} | "
              f"{why} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--only-identification", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    identification_table()
    if args.only_identification:
        return
    for name, rel in FILES.items():
        path = DATA / rel
        if not path.exists():
            print(f"({name} absent)")
            continue
        ds = prefkit.read(str(path))
        ds = ds if ds.kind == "pairwise" else ds.to_pairs()
        effects_side_by_side(name, ds, args.bootstrap)
        if ds.has("annotator_id"):
            hierarchical_table(name, ds)
        controlled_table(name, ds)
    polis()


if __name__ == "__main__":
    main()
