"""The numbers of docs/quality.md on the real multi-annotator data in ../shared/data.

    .venv/bin/python benchmarks/quality_real.py > /tmp/quality_real.md

Skips a file that is absent.  Nothing is written but stdout.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import prefkit
from prefkit import PreferenceDataset
from prefkit.quality import CrowdBT, DawidSkene, drivers_report, heldout_agreement
from prefkit.quality.heldout import majority_agreement
from prefkit.quality.noisy_labels import detect_flips, repair

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PANDALM = DATA / "llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json"
PANDALM_JUDGE = DATA / "judges/WeOpenML_PandaLM__data_gpt-3.5-turbo-testset-v1.json"
TULU = DATA / ("annotators/allenai_open-instruct__human_eval_data_eval_annotations_tulu_1"
               ".converted.csv")
MQM = DATA / "annotators/google_wmt-mqm-human-evaluation__ted_ende_mqm_ted_ende.tsv"
LLMEVAL2 = DATA / ("llm-pairwise/AlibabaResearch_DAMO-ConvAI__WideDeep_evaluation_data_"
                   "LLMEval2_benchmark.json.zip")
ARENA = DATA / "llm-pairwise/lmarena_arena-hard-auto__data_arena_hard_battles.jsonl"
ICEHOCKEY = DATA / "sports/cran_BradleyTerry2__data_icehockey.converted.csv"
FOOTBALL = DATA / "sports/martj42_international_results__results.csv"


def pandalm_with_judge() -> PreferenceDataset:
    """PandaLM's three annotators plus the gpt-3.5-turbo judge as a fourth annotator."""
    human = prefkit.read(str(PANDALM))
    judge = prefkit.read(str(PANDALM_JUDGE))
    pairs = {str(p): (a, b) for p, a, b in zip(human.column("pair_id"), human.column("a"),
                                                human.column("b"), strict=True)}
    rows = []
    for p, w in zip(judge.column("pair_id"), judge.column("winner"), strict=True):
        if str(p) in pairs and w in ("a", "b", "tie"):
            a, b = pairs[str(p)]
            rows.append({"pair_id": str(p), "a": a, "b": b, "winner": w,
                         "annotator_id": "gpt-3.5-turbo (judge)"})
    slim = human.table.select(["pair_id", "a", "b", "winner", "annotator_id"]).to_pylist()
    for r in slim:
        r["pair_id"] = str(r["pair_id"])
    return PreferenceDataset.from_records(slim + rows, name="PandaLM + judge")


def reliability_table(title: str, ds: PreferenceDataset) -> None:
    crowd = CrowdBT().fit(ds).annotator_report()
    ds_model = DawidSkene().fit(ds).annotator_report()
    base = majority_agreement(ds)
    print(f"\n### {title} ({len(ds):,} records)\n")
    print("| annotator | n | Crowd-BT η [95 %] | Dawid–Skene η [95 %] | agrees with majority of "
          "others | flags (Crowd-BT) |")
    print("|---|---|---|---|---|---|")
    for name, row in crowd.items():
        d = ds_model[name]
        b = base[name]
        shown = "–" if b["agreement"] is None else f"{b['agreement']:.3f} (n={b['n']})"
        print(f"| {name} | {row['n']} | {row['reliability']:.3f} [{row['interval'][0]:.3f}, "
              f"{row['interval'][1]:.3f}] | {d['reliability']:.3f} [{d['interval'][0]:.3f}, "
              f"{d['interval'][1]:.3f}] | {shown} | {', '.join(row['flags']) or '–'} |")
    for model in (CrowdBT, DawidSkene):
        scores = [heldout_agreement(ds, model, seed) for seed in range(5)]
        m = np.mean([s["model"] for s in scores])
        v = np.mean([s["majority"] for s in scores])
        print(f"\nHeld-out label agreement, {model.__name__} vs majority vote of the others "
              f"(one label per comparison held out, {scores[0]['n']} labels, mean of 5 seeds): "
              f"**{m:.3f}** vs {v:.3f}")


def flips_table(title: str, path: Path) -> None:
    ds = prefkit.read(str(path))
    report = detect_flips(ds)
    print(f"\n### Flip rate, {title} ({len(ds):,} records, {len(ds.items())} items)\n")
    print(f"ε = {report.flip_rate:.3f} (mean cross-fitted flip probability "
          f"{report.flip_rate_posterior:.3f}); {int(report.flagged().sum())} records flagged.\n")
    from prefkit.choice import BradleyTerry

    rng = np.random.default_rng(0)
    print("| repair | held-out BT accuracy (mean of 5 random 80/20 splits) |")
    print("|---|---|")
    results: dict[str, list[float]] = {"none": [], "drop": [], "flip": [], "soft": []}
    for _ in range(5):
        test = rng.random(len(ds)) < 0.2
        train, held = ds.filter(~test), ds.filter(test)
        y = held.outcomes()
        decisive = y != 0.5
        flips = detect_flips(train)
        for how in results:
            data = train if how == "none" else repair(train, flips, how)
            p = BradleyTerry().fit(data).predict_proba(held)
            results[how].append(float(np.mean((p > 0.5)[decisive] == (y > 0.5)[decisive])))
    for how, accs in results.items():
        print(f"| {how} | {np.mean(accs):.4f} |")


def drivers_table(title: str, ds: PreferenceDataset) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = drivers_report(ds, n_bootstrap=200)
    print(f"\n### Property effects, {title} ({len(ds):,} records)\n")
    print("| property | log-odds per SD of a − b [95 % bootstrap] | records where it differs |")
    print("|---|---|---|")
    ic = rep["overall"]["intercept"]
    print(f"| (first position) | {ic['coef']:+.3f} [{ic['interval'][0]:+.3f}, "
          f"{ic['interval'][1]:+.3f}] | – |")
    for name, e in rep["overall"]["effects"].items():
        print(f"| {name} | {e['coef']:+.3f} [{e['interval'][0]:+.3f}, {e['interval'][1]:+.3f}] "
              f"| {e['nonzero']} |")
    lb = rep["length_bias"]
    if lb:
        print(f"\nLonger response wins {lb['longer_win_rate']:.3f} [{lb['interval'][0]:.3f}, "
              f"{lb['interval'][1]:.3f}] of {lb['n']:,} records (raw win rate, ties ½); by "
              "token difference:\n")
        print("| Δ tokens | n | longer wins [95 % Wilson] |")
        print("|---|---|---|")
        for b in lb["bins"]:
            top = "∞" if b["max_diff"] is None else f"{b['max_diff']:.0f}"
            print(f"| {b['min_diff']:.0f}–{top} | {b['n']} | {b['longer_win_rate']:.3f} "
                  f"[{b['interval'][0]:.3f}, {b['interval'][1]:.3f}] |")


def main() -> None:
    warnings.simplefilter("ignore")
    if PANDALM.exists():
        reliability_table("PandaLM test set, three annotators", prefkit.read(str(PANDALM)))
        if PANDALM_JUDGE.exists():
            reliability_table("PandaLM, three annotators + gpt-3.5-turbo judge",
                              pandalm_with_judge())
    if TULU.exists():
        reliability_table("Tulu-1 human evaluation", prefkit.read(str(TULU)))
    if MQM.exists():
        reliability_table("WMT MQM TED en-de raters (ratings → pairs within rater)",
                          prefkit.read(str(MQM)).to_pairs())
    for title, path in (("arena-hard battles (GPT-4 judge)", ARENA),
                        ("ice hockey (BradleyTerry2)", ICEHOCKEY),
                        ("international football results", FOOTBALL)):
        if path.exists():
            flips_table(title, path)
    if PANDALM.exists():
        drivers_table("PandaLM (all annotator labels)", prefkit.read(str(PANDALM)))
    if LLMEVAL2.exists():
        drivers_table("LLMEval²", prefkit.read(str(LLMEVAL2)))
    if TULU.exists():
        drivers_table("Tulu-1 human evaluation", prefkit.read(str(TULU)))


if __name__ == "__main__":
    main()
