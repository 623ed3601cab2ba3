"""``prefkit quality``: what is wrong with preference data, and what to label next.

    prefkit quality annotators votes.jsonl --json      # per-annotator reliability (Crowd-BT η)
    prefkit quality drivers pairs.jsonl --by source     # property effects and length bias
    prefkit quality next battles.jsonl --n 20           # the pairs to label next
    prefkit quality flips battles.jsonl --out fixed.jsonl --repair drop   # flipped labels
    prefkit quality flips pairs.jsonl --method rm --heldout-splits 3  # ... by a reward ensemble
    prefkit quality drivers pairs.jsonl --method bayes --by annotator_id  # Laplace, pooled
    prefkit quality duplicates train.jsonl --against test.jsonl   # duplicates and leaks
    prefkit quality report votes.jsonl --out report/    # JSON summary + PNG figures
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli._common import about, echo_json
from prefkit.cli.options import (
    ByOpt,
    DataFileArg,
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    out_file,
)

quality_app = typer.Typer(
    help="Preference data quality: annotator reliability, what drives preferences, what to "
    "label next.\n\nExample: prefkit quality annotators votes.jsonl --json",
    no_args_is_help=True,
)


class ReliabilityModel(str, Enum):
    """Which annotator model ``quality annotators`` fits."""

    crowd_bt = "crowd-bt"
    dawid_skene = "dawid-skene"


def _read(path: Any, fmt: str, mapping: list[str] | None, label_map: list[str] | None) -> Any:
    from prefkit.cli._common import load

    ds = load(path, fmt, mapping=mapping, label_map=label_map)
    return ds if ds.kind == "pairwise" else ds.to_pairs()


@quality_app.command("annotators")
def annotators_command(
    data: DataFileArg,
    model: Annotated[ReliabilityModel, typer.Option(
        "--model", help="crowd-bt (one reliability η per annotator) or dawid-skene (a 3×3 "
        "confusion over a/b/tie per annotator).")] = ReliabilityModel.crowd_bt,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="INT", help="Crowd-BT: refits on resampled comparisons for "
        "percentile intervals (0: Beta intervals given the fitted truth).")] = 0,
    heldout: Annotated[bool, typer.Option(
        "--heldout/--no-heldout", help="Also score the model against majority vote on one "
        "held-out label per comparison.")] = True,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Per-annotator reliability η (probability of reporting the true preference; ½ = a coin).

    Example: prefkit quality annotators votes.jsonl --json
    """
    from prefkit.quality import CrowdBT, DawidSkene, heldout_agreement
    from prefkit.quality.heldout import majority_agreement

    ds = _read(data, fmt, mapping, label_map)
    with about(data):
        if ReliabilityModel(model) is ReliabilityModel.crowd_bt:
            def make() -> Any:
                return CrowdBT(n_bootstrap=bootstrap, seed=seed)
        else:
            def make() -> Any:
                return DawidSkene()
        import warnings

        from prefkit.quality._comparisons import group_comparisons
        from prefkit.quality.identification import identification

        fitted = make().fit(ds)
        ident = identification(group_comparisons(ds))
        for text in ident["warnings"]:
            warnings.warn(text, stacklevel=1)
        report: dict[str, Any] = {
            "model": ReliabilityModel(model).value,
            "records": len(ds),
            "annotators": fitted.annotator_report(),
            "identification": ident,
        }
        for name, base in majority_agreement(ds).items():
            report["annotators"][name]["majority_agreement"] = base["agreement"]
        if heldout:
            from prefkit.errors import DataError

            try:
                report["heldout"] = heldout_agreement(ds, lambda: make().set_params(
                    **({"n_bootstrap": 0} if isinstance(fitted, CrowdBT) else {})), seed)
            except DataError as err:
                report["heldout"] = {"skipped": err.reason}
    if as_json:
        echo_json(report)
        return
    typer.echo(f"{report['model']} on {len(ds):,} records")
    typer.echo(f"{'annotator':<24} {'η':>6}  {'interval':<15} {'n':>6}  {'vs maj.':>7}  flags")
    for name, row in report["annotators"].items():
        lo, hi = row["interval"]
        base = row["majority_agreement"]
        shown = "-" if base is None else f"{base:.3f}"
        typer.echo(f"{name[:24]:<24} {row['reliability']:6.3f}  [{lo:.3f}, {hi:.3f}]"
                   f" {row['n']:>6}  {shown:>7}  {','.join(row['flags'])}")
    h = report.get("heldout")
    if h and "model" in h:
        typer.echo(f"held-out label agreement ({h['n']} labels): model {h['model']:.3f}, "
                   f"majority vote {h['majority']:.3f}")


class DriversMethod(str, Enum):
    """How ``quality drivers`` puts intervals on the property effects."""

    bootstrap = "bootstrap"
    bayes = "bayes"


@quality_app.command("drivers")
def drivers_command(
    data: DataFileArg,
    by: ByOpt = None,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="INT", help="Bootstrap refits for the intervals.")] = 200,
    method: Annotated[DriversMethod, typer.Option(
        "--method", help="bootstrap (percentile intervals, labels of one pair_id resampled "
        "together) or bayes (Laplace posterior of a Bayesian logistic regression).")
    ] = DriversMethod.bootstrap,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Which response properties drive the preferences (logistic regression), and length bias.

    Example: prefkit quality drivers pairs.jsonl --by annotator_id --json
    """
    from prefkit.quality import drivers_report

    ds = _read(data, fmt, mapping, label_map)
    with about(data):
        report = drivers_report(ds, by=by, n_bootstrap=bootstrap, seed=seed,
                                method=DriversMethod(method).value)
    if as_json:
        echo_json(report)
        return
    _print_effects("all records", report["overall"])
    for value, effects in (report.get("by") or {}).get("groups", {}).items():
        _print_effects(f"{report['by']['column']} = {value}", effects)
    hier = (report.get("by") or {}).get("hierarchical")
    if hier:
        typer.echo(f"\npartially pooled per {report['by']['column']} (β_g ~ N(μ, τ²)):")
        for name, row in hier["population"].items():
            groups = "  ".join(f"{g}={b['effects'][name]['coef']:+.2f}"
                               for g, b in list(hier["groups"].items())[:8])
            typer.echo(f"  {name:<18} μ={row['coef']:+.3f} τ={row['tau']:.3f}  {groups}")
    ctrl = report.get("controlled") or {}
    if "items" in ctrl:
        typer.echo("\nstyle-controlled item strengths (properties held fixed), raw → controlled:")
        for name, row in sorted(ctrl["items"].items(), key=lambda kv: kv[1]["controlled_rank"]):
            typer.echo(f"  {name[:28]:<28} {row['raw']:+.3f} (#{row['raw_rank']}) → "
                       f"{row['controlled']:+.3f} (#{row['controlled_rank']})  "
                       f"win rate {row['win_rate']:.3f}")
    lb = report["length_bias"]
    if lb:
        lo, hi = lb["interval"]
        typer.echo(f"\nlonger response wins {lb['longer_win_rate']:.3f} [{lo:.3f}, {hi:.3f}] "
                   f"of {lb['n']:,} records with different lengths")
        for b in lb["bins"]:
            top = "∞" if b["max_diff"] is None else f"{b['max_diff']:.0f}"
            typer.echo(f"  Δtokens {b['min_diff']:.0f}–{top}: {b['longer_win_rate']:.3f} "
                       f"(n={b['n']})")


def _print_effects(title: str, block: dict[str, Any]) -> None:
    kind = {"sandwich": "; intervals: Laplace with the cluster-robust sandwich (several "
                        "labels per pair_id)"}.get(block.get("covariance", ""), "")
    typer.echo(f"{title} ({block['n']:,} records): log-odds per SD of the a − b difference"
               f"{kind}")
    rows = [("(first position)", block["intercept"]), *block["effects"].items()]
    for name, row in rows:
        iv = row.get("interval")
        text = f"[{iv[0]:+.3f}, {iv[1]:+.3f}]" if iv else ""
        typer.echo(f"  {name:<18} {row['coef']:+.3f} {text}")


@quality_app.command("next")
def next_command(
    data: DataFileArg,
    n: Annotated[int, typer.Option("--n", metavar="INT", help="How many pairs to propose.")] = 10,
    reward_model: Annotated[Path | None, typer.Option(
        "--reward-model", metavar="DIR", help="A saved reward model with head 'ensemble': "
        "propose the records of DATA (an unlabelled pool; its winner values are ignored) the "
        "members disagree about most, instead of leaderboard pairs.")] = None,
    criterion: Annotated[str, typer.Option(
        "--criterion", metavar="NAME", help="With --reward-model: spread (std of the members' "
        "reward gaps) or sign (chance the preferred side changes, Φ(−|mean gap| / spread)).")
    ] = "sign",
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """The item pairs whose labels would most sharpen the Bradley–Terry ranking (or, with
    --reward-model, the records a reward-model ensemble disagrees about most).

    Example: prefkit quality next battles.jsonl --n 20 --json
    """
    from prefkit.errors import DataError
    from prefkit.quality import propose

    if n < 1:
        raise DataError("--n must be at least 1", field="--n")
    ds = _read(data, fmt, mapping, label_map)
    if reward_model is not None:
        import prefkit
        from prefkit.quality.active_rm import propose_records

        model = prefkit.load(reward_model)
        with about(data):
            records = propose_records(model, ds, n, criterion=criterion)
        if as_json:
            echo_json({"records": len(ds), "reward_model": str(reward_model),
                       "proposals": records})
            return
        for rec in records:
            typer.echo(f"record {rec['row']}\tdisagreement={rec['disagreement']:.3f}"
                       f"\tscore={rec['score']:.3g}\tP(a≻b)={rec['p_a']:.3f}")
        return
    with about(data):
        pairs = propose(ds, n)
    if as_json:
        echo_json({"records": len(ds), "pairs": pairs})
        return
    for p in pairs:
        typer.echo(f"{p['a']}\t{p['b']}\tP(a≻b)={p['p_a']:.3f}\tsd={p['sd_diff']:.3f}"
                   f"\tgain={p['gain']:.3g}")


class Repair(str, Enum):
    """What ``quality flips --out`` does with suspected flipped labels."""

    drop = "drop"
    flip = "flip"
    soft = "soft"


class FlipMethod(str, Enum):
    """Which model ``quality flips`` judges the labels with."""

    bt = "bt"
    rm = "rm"


@quality_app.command("flips")
def flips_command(
    data: DataFileArg,
    method: Annotated[FlipMethod, typer.Option(
        "--method", help="bt: cross-fitted Bradley–Terry on item ids (leaderboards); rm: "
        "cross-fitted reward-model ensemble on the texts (MiniLM embeddings).")
    ] = FlipMethod.bt,
    repair: Annotated[Repair, typer.Option(
        "--repair", help="With --out: drop or flip the flagged records, or soft-label every "
        "record.")] = Repair.soft,
    out: Annotated[Path | None, out_file(
        "Write the repaired data here (.jsonl, .csv, .parquet).")] = None,
    folds: Annotated[int, typer.Option(
        "--folds", metavar="INT", help="Cross-fitting folds.")] = 5,
    members: Annotated[int, typer.Option(
        "--members", metavar="INT", help="--method rm: reward heads per fold (bootstrap "
        "ensemble).")] = 5,
    weight_decay: Annotated[str, typer.Option(
        "--weight-decay", metavar="FLOAT|auto", help="--method rm: the heads' weight decay, or "
        "auto (chosen per fold on its training folds).")] = "1e-3",
    features: Annotated[str, typer.Option(
        "--features", metavar="SET", help="--method rm: what the reward heads see besides the "
        "MiniLM embeddings: style+items (text properties and the one-hot model id behind each "
        "response, when the file has one), style, items or none.")] = "style+items",
    heldout: Annotated[int, typer.Option(
        "--heldout-splits", metavar="INT", help="--method rm: also measure held-out reward-model "
        "accuracy with each repair on this many 80/20 splits by prompt (0: skip).")] = 0,
    top: Annotated[int, typer.Option(
        "--top", metavar="INT", help="How many of the most suspect records to list.")] = 10,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Estimate the flip rate ε and which labels are flipped (cross-fitted, so no record judges
    itself): Bradley–Terry on item ids, or a reward-model ensemble on the texts.

    Example: prefkit quality flips pairs.jsonl --method rm --json --out repaired.jsonl
    """
    import numpy as np

    from prefkit.cli._common import output_format, write
    from prefkit.errors import DataError
    from prefkit.quality.noisy_labels import detect_flips
    from prefkit.quality.noisy_labels import repair as repair_data

    if out is not None:
        output_format(out)
    wd: float | str = weight_decay
    if weight_decay != "auto":
        try:
            wd = float(weight_decay)
        except ValueError:
            raise DataError(f"--weight-decay must be a number ≥ 0 or 'auto', not "
                            f"{weight_decay!r}", field="--weight-decay") from None
        if not wd >= 0:
            raise DataError("--weight-decay must be ≥ 0", field="--weight-decay")
    ds = _read(data, fmt, mapping, label_map)
    doc: dict[str, Any] = {"records": len(ds), "method": FlipMethod(method).value}
    with about(data):
        if FlipMethod(method) is FlipMethod.rm:
            from prefkit.quality.rm_flips import detect_flips_rm, pair_features_of

            if not (ds.has("a_text") and ds.has("b_text")):
                raise DataError("--method rm needs response texts (a_text/b_text); for "
                                "item-level data use --method bt", source=ds.name,
                                field="a_text")
            from prefkit.reward.model import require_texts

            require_texts(ds)  # as rm train: an id in place of a text is not judged as one
            feats = pair_features_of(ds, extras=features)
            report = detect_flips_rm(ds, features=feats, n_folds=folds, members=members,
                                     weight_decay=wd, seed=seed, progress=None)
            doc.update(report.summary())
            doc["features"] = features
            doc["records"] = len(ds)
            if heldout > 0:
                from prefkit.quality.repair_eval import heldout_repair_accuracy

                doc["heldout_repair"] = heldout_repair_accuracy(
                    ds, features=feats, splits=heldout, members=members,
                    weight_decay=1e-3 if wd == "auto" else float(wd), seed=seed)
        else:
            report = detect_flips(ds, n_folds=folds, seed=seed)
            doc.update({"flip_rate": report.flip_rate,
                        "flip_rate_posterior": report.flip_rate_posterior,
                        "flagged": int(report.flagged().sum())})
    order = (report.suspicion_order() if hasattr(report, "suspicion_order")
             else np.argsort(-report.flip_prob))[:max(top, 0)]
    doc["most_suspect"] = [{"row": int(r), "flip_prob": float(report.flip_prob[r]),
                            "strength": float(report.strength_mean[r]),
                            "strength_sd": float(report.strength_sd[r])} for r in order]
    if out is not None:
        write(repair_data(ds, report, Repair(repair).value), out)
        doc["written"] = str(out)
    if as_json:
        echo_json(doc)
        return
    line = f"estimated flip rate ε = {doc['flip_rate']:.3f}"
    if "flip_rate_interval" in doc:
        lo, hi = doc["flip_rate_interval"]
        line += (f" [{lo:.3f}, {hi:.3f}]; the reward ensemble disagrees with "
                 f"{doc['disagreement_rate']:.3f} of the labels (cross-fitted accuracy "
                 f"{doc['crossfit_accuracy']:.3f})")
    typer.echo(line)
    typer.echo(f"mean cross-fitted flip probability {doc['flip_rate_posterior']:.3f}; "
               f"{doc['flagged']:,} of {len(ds):,} records flagged (P(flip) > ½)")
    for row in doc["most_suspect"]:
        typer.echo(f"  record {row['row']}: P(flip) = {row['flip_prob']:.3f}, strength "
                   f"{row['strength']:+.2f} ± {row['strength_sd']:.2f}")
    for how, row in (doc.get("heldout_repair") or {}).get("repairs", {}).items():
        typer.echo(f"  held-out RM accuracy with repair {how}: {row['accuracy']:.4f}")
    if out is not None:
        typer.echo(f"repaired ({Repair(repair).value}) -> {out}")


@quality_app.command("duplicates")
def duplicates_command(
    data: DataFileArg,
    against: Annotated[Path | None, typer.Option(
        "--against", metavar="FILE", help="A test file: report its prompts and responses that "
        "also occur (exactly or nearly) in DATA.")] = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", metavar="FLOAT", help="Near duplicate: Jaccard similarity of character "
        "5-grams at least this (1: identical 5-gram sets).")] = 0.9,
    top: Annotated[int, typer.Option(
        "--top", metavar="INT", help="How many groups / leaks to list per field.")] = 20,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Exact and near-duplicate prompts and responses (MinHash + LSH), and train/test leaks.

    Example: prefkit quality duplicates train.jsonl --against test.jsonl --json
    """
    from prefkit.cli._common import load
    from prefkit.quality.duplicates import find_duplicates

    ds = load(data, fmt, mapping=mapping, label_map=label_map)
    test = None
    if against is not None:
        test = load(against, fmt, mapping=mapping, label_map=label_map)
    with about(data):
        report = find_duplicates(ds, against=test, threshold=threshold, top=max(top, 0))
    if against is not None:
        report["against"]["file"] = str(against)
    if as_json:
        echo_json(report)
        return
    typer.echo(f"{len(ds):,} records; near duplicate = Jaccard of character 5-grams ≥ "
               f"{threshold}")
    for field, block in report["fields"].items():
        if "skipped" in block:
            typer.echo(f"{field}: skipped ({block['skipped']})")
            continue
        typer.echo(f"{field}: {block['texts']:,} texts, {block['distinct']:,} distinct; "
                   f"{block['exact_groups']:,} repeated verbatim, {block['near_groups']:,} "
                   f"near-duplicate groups")
        for g in block["groups"][:5]:
            if g["kind"] == "near":
                typer.echo(f"  near (J ≥ {g['similarity']:.3f}, {g['distinct']} variants, "
                           f"{g['occurrences']} records): {g['example']}")
    dup = report["duplicate_records"]
    if "skipped" not in dup:
        typer.echo(f"records repeating prompt and both responses: {dup['records']:,} in "
                   f"{dup['groups']:,} groups")
    if against is not None:
        cross = report["against"]
        for field, block in cross["fields"].items():
            if "skipped" in block:
                typer.echo(f"leak {field}: skipped ({block['skipped']})")
                continue
            typer.echo(f"leak {field}: {block['exact']:,} exact and {block['near']:,} near of "
                       f"{block['test_distinct']:,} distinct test texts ({block['test_rows']:,} "
                       f"test records)")
        for by, block in cross["split_leakage"].items():
            typer.echo(f"split leakage check by {by}: {block['leaked']:,} shared values")


@quality_app.command("wimhf")
def wimhf_command(
    data: DataFileArg,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Directory for wimhf.json (features, effects, "
        "examples) and sae.npz (SAE weights, pair features).")],
    features: Annotated[int, typer.Option(
        "--features", metavar="INT", help="SAE latents.")] = 32,
    k: Annotated[int, typer.Option("--k", metavar="INT", help="Active latents per pair.")] = 4,
    epochs: Annotated[int, typer.Option("--epochs", metavar="INT", help="SAE epochs.")] = 300,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier prefkit output at --out.")] = False,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """WIMHF: a sparse autoencoder over response-embedding differences (MiniLM), and which of
    its features predict the preferences, with intervals and top-activating examples.

    Example: prefkit quality wimhf pairs.jsonl --out wimhf/ --features 32 --k 4
    """
    from prefkit.core.atomic import atomic_write_json, check_output_dir, publish_dir
    from prefkit.quality.wimhf import wimhf

    check_output_dir(out, overwrite=force)
    ds = _read(data, fmt, mapping, label_map)
    with about(data):
        report = wimhf(ds, n_features=features, k=k, epochs=epochs, seed=seed)
    arrays = report.pop("_arrays")

    def build(tmp: Path) -> None:
        import numpy as np

        atomic_write_json(tmp / "wimhf.json", report)
        np.savez(tmp / "sae.npz", **arrays)

    publish_dir(build, out, overwrite=force)
    sig = report["signal"]
    if as_json:
        echo_json({"out": str(out), "n_pairs": report["n_pairs"], "signal": sig,
                   "top_features": [{k_: f[k_] for k_ in ("feature", "coef", "interval",
                                                          "win_rate")}
                                    for f in report["features"][:5]]})
        return
    typer.echo(f"{report['n_pairs']:,} pairs; {report['sae']['measurable']} measurable features; "
               f"cross-validated AUC: top {sig['top_m']} features {sig['auc_top_features']:.3f}, "
               f"all {sig['auc_all_features']:.3f}, black box {sig['auc_black_box']:.3f}")
    for f in report["features"][:10]:
        ex = (f["examples"] or [{}])[0].get("more_text", "")
        typer.echo(f"  feature {f['feature']:>3}  β={f['coef']:+.3f} "
                   f"[{f['interval'][0]:+.3f}, {f['interval'][1]:+.3f}]  "
                   f"more-of-it wins {f['win_rate']:.3f}  e.g. {ex[:60]!r}")
    typer.echo(f"wrote wimhf.json, sae.npz -> {out}")


@quality_app.command("report")
def report_command(
    data: DataFileArg,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Directory for quality.json and the PNG figures "
        "(written all or nothing; other files in it are left alone).")],
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="INT", help="Bootstrap refits for the property intervals.")] = 100,
    threshold: Annotated[float, typer.Option(
        "--threshold", metavar="FLOAT", help="Near-duplicate Jaccard threshold.")] = 0.9,
    figures: Annotated[bool, typer.Option(
        "--figures/--no-figures", help="Also draw the PNG figures (matplotlib).")] = True,
    rm_flips: Annotated[bool, typer.Option(
        "--rm-flips/--no-rm-flips", help="Also detect flipped labels with a cross-fitted "
        "reward-model ensemble on the texts (encodes every text with MiniLM).")] = False,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """One data-quality report: annotators, drivers, length bias, flips, duplicates + figures.

    Example: prefkit quality report votes.jsonl --out quality-report/
    """
    from prefkit.cli._common import load
    from prefkit.quality.report import build_report, write_report

    ds = load(data, fmt, mapping=mapping, label_map=label_map)
    with about(data):
        doc = build_report(ds, n_bootstrap=max(bootstrap, 0), threshold=threshold, seed=seed,
                           rm_flips=rm_flips)
    written = write_report(doc, out, figures=figures)
    if as_json:
        echo_json({"out": str(out), "files": [p.name for p in written],
                   "skipped": sorted(k for k, v in doc.items()
                                     if isinstance(v, dict) and "skipped" in v),
                   "notes": doc["notes"]})
        return
    for key in ("annotators", "drivers", "length_bias", "flips", "duplicates", "rm_flips"):
        if key not in doc:
            continue
        block = doc[key]
        typer.echo(f"{key}: " + (f"skipped ({block['skipped']})" if "skipped" in block else "ok"))
    for note in doc["notes"]:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {', '.join(p.name for p in written)} -> {out}")
