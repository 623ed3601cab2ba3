"""``prefkit judge …``: LLM judges — analyse recorded judgments, turn verdicts into battles.

* ``prefkit judge analyze FILE [--format F] [--human DATA] --json`` — position consistency,
  first-position win rate, length bias, agreement with humans (MT-Bench definitions), Cohen's κ,
  per-category breakdown, bootstrap intervals, and a check of the file's own verdict parsing
  against prefkit's parsers (``parse_check``).  FastChat's pairwise judgment layout is read by
  ``--format auto``.
* ``prefkit judge battles FILE --out battles.jsonl [--leaderboard]`` — Arena-Hard v0.1 battles
  (strong verdict = 3 battles, A=B a tie) and their Bradley–Terry leaderboard.

* ``prefkit judge pairwise DATA --endpoint URL --model NAME --out J.jsonl`` — ask an
  OpenAI-compatible judge about every pair in both orders (Jinja2 template, SQLite cache, resume);
  ``--model hf:DIR`` reads a local causal LM's verdict-token probabilities, ``--model rm:DIR``
  asks a saved prefkit reward model; repeating ``--model`` asks a jury (``--jury-rule``); token
  usage and, with ``--price-in/--price-out``, cost are shown and summed.  The output is read by
  ``prefkit judge analyze``.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli.judge_options import (
    ApiKeyEnvOpt,
    CacheOpt,
    ConcurrencyOpt,
    MaxAttemptsOpt,
    OptionalEndpointOpt,
    ProgressOpt,
    ReaskOpt,
    TimeoutOpt,
    cache_and_progress,
    preflight_unless_cached,
    raise_if_failed,
    reply_cache_path,
)
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
from prefkit.errors import DataError

judge_app = typer.Typer(
    help="LLM judges: judge pairs over HTTP, analyse judgments, turn verdicts into battles.",
    no_args_is_help=True,
    add_completion=False,
)


class Aggregation(str, Enum):
    """How the two orders of a pair make one verdict."""

    consistent_only = "consistent-only"
    inconsistent_as_tie = "inconsistent-as-tie"
    average = "average"


class Verdicts(str, Enum):
    """Whose parse of the raw judge text to use."""

    recorded = "recorded"
    reparse = "reparse"


BootstrapOpt = Annotated[
    int, typer.Option("--bootstrap", metavar="INT", help="Bootstrap rounds (0: no intervals).")
]
#: disagreements listed in the JSON output (all are counted)
SHOWN_DISAGREEMENTS = 20


def _parse_check(dataset: Any) -> tuple[Any, dict[str, Any]]:
    from prefkit.judge.recorded import reparse

    reparsed, report = reparse(dataset)
    check = report.as_dict()
    check["disagreements"] = check["disagreements"][:SHOWN_DISAGREEMENTS]
    return reparsed, check


def _ratings_summary(dataset: Any) -> dict[str, Any]:
    import numpy as np

    scores = np.array([dict(s or {}).get("overall", np.nan) for s in dataset.column("scores")])
    values, counts = np.unique(scores[np.isfinite(scores)], return_counts=True)
    unparsed = len(dataset.metadata.get("unparsed") or [])
    return {
        "kind": "rating",
        "n": len(dataset) + unparsed,
        "unparsed": unparsed,
        "mean_score": float(np.nanmean(scores)) if np.isfinite(scores).any() else None,
        "score_counts": {f"{v:g}": int(c) for v, c in zip(values, counts, strict=True)},
        "position_consistency": None,
        "first_position_win_rate": None,
    }


def _load_judgments(file: Path, format: str) -> Any:
    """``prefkit judge pairwise`` output (``prefkit-judgment`` lines) or any reader's format."""
    from prefkit.cli._common import load
    from prefkit.judge.run import is_judgment_file, read_judgment_file

    if format == "prefkit-judgment" or (format == "auto" and is_judgment_file(file)):
        return read_judgment_file(file)
    return load(file, format)


@judge_app.command("analyze")
def analyze_command(
    file: DataFileArg,
    format: FormatOpt = "auto",
    human: Annotated[
        Path | None,
        typer.Option("--human", metavar="DATA",
                     help="Human labels of the same pairs (joined on pair_id), for agreement."),
    ] = None,
    human_format: Annotated[
        str, typer.Option("--human-format", metavar="FORMAT",
                          help="Reader of --human (default: auto).")
    ] = "auto",
    aggregation: Annotated[
        Aggregation, typer.Option("--aggregation", help="How two orders make one verdict.")
    ] = Aggregation.inconsistent_as_tie,
    verdicts: Annotated[
        Verdicts,
        typer.Option("--verdicts", help="The file's own verdicts, or prefkit's re-parse of "
                     "the raw judge texts."),
    ] = Verdicts.recorded,
    by: ByOpt = None,
    bootstrap: BootstrapOpt = 1000,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    self_model: Annotated[
        list[str] | None, typer.Option("--self-model", metavar="NAME",
                                       help="The judge's own model(s), for the DBG "
                                       "self-preference score (default: the judge's family).")
    ] = None,
) -> None:
    """Bias and agreement statistics of recorded judge verdicts.

    Example: prefkit judge analyze gpt-4_pair.jsonl --json
    """
    from prefkit.cli._common import echo_json, load
    from prefkit.judge.analysis import analyze

    if bootstrap < 0:
        raise DataError("--bootstrap must be ≥ 0", field="--bootstrap")
    dataset = _load_judgments(file, format)
    reparsed, check = _parse_check(dataset)
    if dataset.kind == "rating":
        result = _ratings_summary(reparsed if verdicts is Verdicts.reparse else dataset)
    else:
        human_data = load(human, human_format) if human is not None else None
        try:
            result = analyze(
                reparsed if verdicts is Verdicts.reparse else dataset,
                human=human_data, aggregation=aggregation.value, by=by,
                bootstrap=bootstrap, seed=seed, self_models=self_model or None,
            )
        except DataError as err:
            raise err.with_context(source=str(file)) from None
    result["format"] = dataset.metadata.get("format")
    result["verdicts"] = verdicts.value
    result["parse_check"] = check
    if json_out:
        echo_json(result)
        return
    _print_summary(result)


def _fmt(value: Any, ci: Any = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


def _print_summary(result: dict[str, Any]) -> None:
    lines = [f"format: {result.get('format')}  verdicts: {result['verdicts']}"]
    keys = ("n", "unparsed", "position_consistency", "first_position_win_rate", "tie_rate",
            "longer_win_rate", "length_coef", "agreement_with_ties", "agreement_without_ties",
            "cohen_kappa", "dbg", "ece", "mean_score")
    for key in keys:
        if key in result:
            lines.append(f"{key:26s} {_fmt(result[key], result.get(f'{key}_ci'))}")
    check = result["parse_check"]
    lines.append(
        f"{'parse_check':26s} prefkit agrees with the file on {check['agree']}/{check['total']}"
    )
    for name, entry in (result.get("by_category") or {}).items():
        consistency = _fmt(entry.get("position_consistency"))
        first = _fmt(entry.get("first_position_win_rate"))
        lines.append(
            f"  {result['by']}={name}: n={entry['n']} consistency={consistency} first={first}"
        )
    sys.stdout.write("\n".join(lines) + "\n")


@judge_app.command("battles")
def battles_command(
    file: DataFileArg,
    out: Annotated[Path, out_file("Battles file to write (.jsonl, .csv, .parquet).")],
    format: FormatOpt = "auto",
    weight: Annotated[
        int, typer.Option("--weight", metavar="INT", help="Battles per strong verdict (v0.1: 3).")
    ] = 3,
    first_game_only: Annotated[
        bool, typer.Option("--first-game-only", help="Use game 1 (baseline shown first) only.")
    ] = False,
    show_leaderboard: Annotated[
        bool, typer.Option("--leaderboard", help="Also fit and print a Bradley–Terry leaderboard.")
    ] = False,
    bootstrap: BootstrapOpt = 0,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Turn recorded verdicts into Arena-Hard battles (v0.1 rules) and optionally rank them.

    Example: prefkit judge battles judgments.jsonl --out battles.jsonl --leaderboard
    """
    from prefkit.cli._common import echo_json, load, output_format, write
    from prefkit.judge.arena_hard import arena_leaderboard, battles

    fmt = output_format(out)
    if bootstrap < 0:
        raise DataError("--bootstrap must be ≥ 0", field="--bootstrap")
    dataset = load(file, format)
    result = battles(dataset, weight=weight, first_game_only=first_game_only)
    board = arena_leaderboard(result, bootstrap=bootstrap, seed=seed) if show_leaderboard else None
    write(result, out, fmt)
    counts = result.metadata["battles"]
    if json_out:
        echo_json({**counts, "out": str(out),
                   "leaderboard": board.to_dict() if board is not None else None})
        return
    sys.stdout.write(
        f"{counts['battles']} battles from {counts['games']} games "
        f"({counts['strong']} strong, {counts['unparsed']} unparsed) -> {out}\n"
    )
    if board is not None:
        sys.stdout.write(board.to_markdown())


class JuryRule(str, Enum):
    """How several judges make one verdict."""

    mean = "mean"
    majority = "majority"


class Orders(str, Enum):
    """Which orders to show each pair in."""

    both = "both"
    ab = "ab"
    ba = "ba"


@judge_app.command("pairwise")
def pairwise_command(
    file: DataFileArg,
    model: Annotated[
        list[str],
        typer.Option("--model", metavar="NAME",
                     help="Judge: a model NAME at --endpoint, hf:DIR (local causal LM, verdict "
                     "from next-token log-probabilities) or rm:DIR (a saved prefkit reward "
                     "model). Repeat for a jury."),
    ],
    out: Annotated[Path, out_file("Judgments JSONL (appended to: a rerun resumes).")],
    endpoint: OptionalEndpointOpt = None,
    format: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    template: Annotated[
        str, typer.Option("--template", metavar="T",
                          help="Built-in template name (pairwise) or a .jinja file.")
    ] = "pairwise",
    orders: Annotated[Orders, typer.Option("--orders", help="Orders to ask.")] = Orders.both,
    aggregation: Annotated[
        Aggregation, typer.Option("--aggregation",
                                  help="How two orders make one verdict (jury summary).")
    ] = Aggregation.average,
    jury_rule: Annotated[
        JuryRule, typer.Option("--jury-rule", help="How several --model judges make one.")
    ] = JuryRule.mean,
    concurrency: ConcurrencyOpt = 16,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    timeout: TimeoutOpt = 60.0,
    rpm: Annotated[
        float | None, typer.Option("--rpm", metavar="N", help="Requests per minute at most.")
    ] = None,
    max_attempts: MaxAttemptsOpt = 6,
    reask: ReaskOpt = 0,
    temperature: Annotated[float, typer.Option("--temperature", metavar="T")] = 0.0,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", metavar="N", help="Reply length limit.")
    ] = None,
    price_in: Annotated[
        float | None, typer.Option("--price-in", metavar="P",
                                   help="Price per 1,000 prompt tokens (HTTP judges).")
    ] = None,
    price_out: Annotated[
        float | None, typer.Option("--price-out", metavar="P",
                                   help="Price per 1,000 completion tokens (HTTP judges).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", metavar="N", help="Prompts per forward pass (hf:).")
    ] = 8,
    device: Annotated[
        str, typer.Option("--device", metavar="D", help="hf: device (auto, cpu, cuda).")
    ] = "auto",
    cache: CacheOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Ask a judge (or a jury) about every pair, in both orders.

    Example: prefkit judge pairwise pairs.jsonl --endpoint URL --model m --out j.jsonl
    """
    from prefkit.cli._common import echo_json, load
    from prefkit.judge.backends.openai_http import OpenAIChatBackend
    from prefkit.judge.live import make_backend
    from prefkit.judge.run import (
        Pricing,
        RunSummary,
        check_pairs,
        read_pairs_jsonl,
        run_pairwise,
    )
    from prefkit.judge.templates import load_template

    for name, value in (("--concurrency", concurrency), ("--max-attempts", max_attempts),
                        ("--batch-size", batch_size)):
        if value < 1:
            raise DataError(f"{name} must be ≥ 1", field=name)
    if reask < 0 or not timeout > 0 or (rpm is not None and not rpm > 0):
        raise DataError("--reask must be ≥ 0, --timeout and --rpm > 0", field="options")
    if any(p is not None and (p < 0 or p != p) for p in (price_in, price_out)):
        raise DataError("--price-in and --price-out must be ≥ 0", field="--price-in")
    if len(set(model)) != len(model):
        raise DataError("the same --model is given twice", field="--model")
    tmpl = load_template(template)
    if format == "auto" and not mapping and file.suffix == ".jsonl" and file.is_file():
        dataset: Any = read_pairs_jsonl(file)  # unlabelled pairs: no winner needed
    else:
        dataset = load(file, format, mapping=mapping, label_map=label_map)
    backends = [
        make_backend(spec, endpoint=endpoint, api_key_env=api_key_env, temperature=temperature,
                     max_tokens=max_tokens, concurrency=concurrency, timeout=timeout, rpm=rpm,
                     max_attempts=max_attempts, batch_size=batch_size, device=device)
        for spec in model
    ]
    priced = price_in is not None or price_out is not None
    pricing = {str(b.name): Pricing(price_in or 0.0, price_out or 0.0)
               for b in backends if priced and isinstance(b, OpenAIChatBackend)}
    cache_path = reply_cache_path(out, cache)
    orders_used = ("ab", "ba") if orders is Orders.both else (orders.value,)
    pending = len(dataset) * len(orders_used) * len(backends)
    check_pairs(dataset)  # bad data is one line before any request
    preflight_unless_cached(backends, cache_path)
    summary = RunSummary()
    with cache_and_progress(cache_path, progress, pending, "judge", "judgments",
                            status=summary.status) as (reply_cache, advance):
        run_pairwise(dataset, backends if len(backends) > 1 else backends[0], out,
                     template=tmpl, orders=orders_used, cache=reply_cache, reask=reask,
                     advance=advance, pricing=pricing, summary=summary)
    requests = sum(getattr(b, "requests_sent", 0) for b in backends)
    retries = sum(getattr(b, "retries", 0) for b in backends)
    result = {**summary.as_dict(), "out": str(out), "cache": str(cache_path),
              "template": tmpl.name, "template_hash": tmpl.hash,
              "requests_sent": requests, "retries": retries}
    for name, entry in result["judges"].items():
        backend = next(b for b in backends if str(b.name) == name)
        entry["requests_sent"] = getattr(backend, "requests_sent", 0)
        entry["retries"] = getattr(backend, "retries", 0)
    if len(backends) > 1 and out.exists():
        result["jury"] = _jury_summary(out, aggregation.value, jury_rule.value,
                                       [str(b.name) for b in backends])
    if json_out:
        echo_json(result)
    else:
        cost = f", cost {summary.cost:.4f}" if summary.cost is not None else ""
        sys.stderr.write(
            f"{summary.written} judgments -> {out} ({summary.already_done} already there, "
            f"{summary.asked} asked, {summary.cached} cached), {summary.unparsed} unparsed, "
            f"{summary.errors} failed, {retries} retries, {summary.tokens} tokens{cost}\n"
        )
        if len(backends) > 1:
            for name, entry in result["judges"].items():
                agree = result.get("jury", {}).get("agreement_with_jury", {}).get(name)
                shown = "—" if agree is None else f"{agree:.3f}"
                sys.stderr.write(f"  {name}: {entry['written']} written, {entry['unparsed']} "
                                 f"unparsed, {entry['tokens']} tokens, agrees with the jury "
                                 f"on {shown}\n")
    raise_if_failed(summary.errors, summary.error_examples,
                    summary.already_done + summary.written, out, "judgments")


def _jury_summary(out: Path, aggregation: str, rule: str, names: list[str]) -> dict[str, Any]:
    """The jury's verdicts over the judgments in ``out``: each judge's two orders folded by
    ``aggregation``, judges combined by ``rule``; how often each judge's vote is the jury's."""
    import numpy as np

    from prefkit.judge.judgments import aggregate_probabilities, pair_table
    from prefkit.judge.jury import combine
    from prefkit.judge.run import read_judgment_file

    try:
        table = pair_table(read_judgment_file(out))
    except DataError:  # no verdict at all
        return {"rule": rule, "aggregation": aggregation, "pairs": 0, "decided": 0,
                "agreement_with_jury": {}}
    assert table.prob is not None
    p = aggregate_probabilities(table.outcome, table.prob, aggregation)
    pairs = sorted(set(table.pair_id))
    row = {pid: k for k, pid in enumerate(pairs)}
    by_judge = np.full((len(names), len(pairs)), np.nan)
    for pid, judge, value in zip(table.pair_id, table.judge, p, strict=True):
        if judge in names:
            by_judge[names.index(judge), row[pid]] = value
    jury = combine(by_judge, rule)
    agreement: dict[str, float | None] = {}
    for name, values in zip(names, by_judge, strict=True):
        both = ~np.isnan(values) & ~np.isnan(jury)
        same = np.sign(values[both] - 0.5) == np.sign(jury[both] - 0.5)
        agreement[name] = float(same.mean()) if both.any() else None
    decided = jury[~np.isnan(jury)]
    return {"rule": rule, "aggregation": aggregation, "pairs": len(pairs),
            "decided": len(decided),
            "a_win_rate": float((decided > 0.5).mean()) if len(decided) else None,
            "agreement_with_jury": agreement}


from prefkit.cli.judge_grading import register_grading_commands  # noqa: E402

register_grading_commands(judge_app)  # grade, checklist, arena-hard, arena-pairs
