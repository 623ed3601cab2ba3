"""``prefkit judge grade | checklist | arena-hard``: absolute grading, TICK checklists and
Arena-Hard scores with style control (registered on ``prefkit judge`` by
:func:`register_grading_commands`).

* ``prefkit judge grade DATA --rubric FILE --endpoint URL --model NAME --out G.jsonl`` — a 1–5
  Prometheus-style rubric (``--scale 5``) or a 1–10 MT-Bench-style rating (``--scale 10``), with
  the reference answer when the data have one (``--with-reference``: required);
* ``prefkit judge checklist DATA --endpoint URL --model NAME --out C.jsonl`` — TICK: YES/NO
  questions per instruction, each answered per response, score = share of YES;
* ``prefkit judge arena-hard FILE [--rules v0.1|v2] [--style-control length,markdown]`` — win
  rates against the baseline by arena-hard-auto's published rules;
* ``prefkit judge arena-pairs QUESTIONS --answers DIR --baseline NAME --out P.jsonl`` — the pairs
  (every model against the baseline, per question) for ``prefkit judge pairwise``.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli.judge_options import (
    ApiKeyEnvOpt,
    CacheOpt,
    ConcurrencyOpt,
    EndpointOpt,
    MaxAttemptsOpt,
    ModelOpt,
    ProgressOpt,
    ReaskOpt,
    TimeoutOpt,
    cache_and_progress,
    preflight_unless_cached,
    raise_if_failed,
    reply_cache_path,
)
from prefkit.cli.options import (
    DataFileArg,
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    out_file,
)
from prefkit.errors import DataError


class Scale(str, Enum):
    """Grading scale: 1–5 rubric (Prometheus) or 1–10 rating (MT-Bench)."""

    five = "5"
    ten = "10"


class Rules(str, Enum):
    """Arena-Hard counting and scoring rules."""

    v01 = "v0.1"
    v2 = "v2"


class LengthUnit(str, Enum):
    """How answer length is measured for style control."""

    chars = "chars"
    words = "words"


def _backend(endpoint: str, model: str, api_key_env: str, concurrency: int, timeout: float,
             max_attempts: int) -> Any:
    from prefkit.judge.backends.openai_http import OpenAIChatBackend

    if concurrency < 1 or max_attempts < 1 or not timeout > 0:
        raise DataError("--concurrency and --max-attempts must be ≥ 1, --timeout > 0",
                        field="options")
    return OpenAIChatBackend(endpoint, model, api_key_env=api_key_env, concurrency=concurrency,
                             timeout=timeout, max_attempts=max_attempts)


def _items(file: Path, format: str, mapping: Any = None, label_map: Any = None) -> Any:
    """(responses to grade, the pairwise dataset they came from or None): a JSONL of items,
    or any reader's rating / pairwise data (both answers of each pair graded)."""
    from prefkit.judge.grading import items_from_dataset, read_items_jsonl

    if format == "auto" and not mapping and file.suffix == ".jsonl" and file.is_file():
        from prefkit.core.limits import LIMITS, parse_json_line

        with file.open("rb") as handle:
            first = handle.readline(LIMITS.max_record_bytes + 1)
        try:
            keys = set(parse_json_line(first, str(file), 1)) if first.strip() else set()
        except (ValueError, TypeError):  # DataError included: the full read reports it
            keys = set()
        if keys & {"response", "answer", "output", "text"} and not keys & {"a_text", "winner"}:
            return read_items_jsonl(file), None
    from prefkit.cli._common import load

    data = load(file, format, mapping=mapping, label_map=label_map)
    return items_from_dataset(data), (data if data.kind == "pairwise" else None)


def _add_scores(result: dict[str, Any], pairs: Any, read: Any, out: Path) -> None:
    """The score summary of the graded output ``out`` (and agreement with the pairs' labels)."""
    from prefkit.judge.grading import grade_summary

    try:
        scored = read(out)
        result.update(grade_summary(scored))
        result.update(_pairwise_result(pairs, scored))
    except DataError:
        result["mean_score"] = None  # nothing scored


def _pairwise_result(pairs: Any, scored: Any) -> dict[str, Any]:
    """For pairwise input: verdicts from the two answers' scores and their agreement with the
    pairs' labels (TICK's exact agreement)."""
    from prefkit.judge.grading import agreement_with_labels, pairwise_verdicts

    if pairs is None:
        return {}
    return {"pairwise": agreement_with_labels(pairs, pairwise_verdicts(pairs, scored))}


def _prepare(file: Path, format: str, mapping: Any, label_map: Any, *, endpoint: str,
             model: str, api_key_env: str, concurrency: int, timeout: float, max_attempts: int,
             out: Path, cache: Path | None, require_reference: bool = False
             ) -> tuple[Any, Any, Any, Path]:
    """(items, pairs or None, backend, reply cache path): bad data, bad options and a dead
    endpoint are one line here, before any request and before any file exists."""
    items, pairs = _items(file, format, mapping, label_map)
    items.check(require_reference=require_reference)
    backend = _backend(endpoint, model, api_key_env, concurrency, timeout, max_attempts)
    cache_path = reply_cache_path(out, cache)
    preflight_unless_cached([backend], cache_path)
    return items, pairs, backend, cache_path


def _report(result: dict[str, Any], summary: Any, pairs: Any, read: Any, out: Path,
            json_out: bool, counts: str, mean: str) -> None:
    """Print the run's result (JSON, or the ``counts`` line on stderr and the ``mean`` line,
    formatted with the result, on stdout), then fail if requests failed."""
    _add_scores(result, pairs, read, out)
    if json_out:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        sys.stderr.write(counts)
        if result.get("mean_score") is not None:
            sys.stdout.write(mean.format(**result))
    raise_if_failed(summary.stats.errors, summary.stats.error_examples,
                    summary.already_done + summary.written, out, "results")


def _check_reask(reask: int) -> None:
    if reask < 0:
        raise DataError("--reask must be ≥ 0", field="--reask")


def grade_command(
    file: DataFileArg,
    endpoint: EndpointOpt,
    model: ModelOpt,
    out: Annotated[Path, out_file("Grades JSONL (appended to: a rerun resumes).")],
    rubric: Annotated[
        Path | None, typer.Option("--rubric", metavar="FILE",
                                  help="Rubric: text/markdown, or Prometheus JSON/YAML "
                                  "(criteria, score1_description …).")
    ] = None,
    scale: Annotated[Scale, typer.Option("--scale", help="1–5 rubric or 1–10 rating.")] = Scale.ten,
    template: Annotated[
        str | None, typer.Option("--template", metavar="T",
                                 help="A .jinja file replacing the built-in template.")
    ] = None,
    with_reference: Annotated[
        bool, typer.Option("--with-reference", help="Every item must have a reference answer.")
    ] = False,
    format: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    reask: ReaskOpt = 1,
    concurrency: ConcurrencyOpt = 16,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    timeout: TimeoutOpt = 60.0,
    max_attempts: MaxAttemptsOpt = 6,
    cache: CacheOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Grade every response on a rubric (1–5 Prometheus or 1–10 MT-Bench), unparsed re-asked.

    Example: prefkit judge grade a.jsonl --rubric r.md --endpoint URL --model m --out g.jsonl
    """
    from prefkit.judge.grading import (
        grade,
        grading_template,
        load_rubric,
        read_grades,
    )

    _check_reask(reask)
    top = int(scale.value)
    tmpl, _, _ = grading_template(top, template)
    rubric_text = load_rubric(rubric, top)
    items, pairs, backend, cache_path = _prepare(
        file, format, mapping, label_map, endpoint=endpoint, model=model,
        api_key_env=api_key_env, concurrency=concurrency, timeout=timeout,
        max_attempts=max_attempts, out=out, cache=cache, require_reference=with_reference)
    with cache_and_progress(cache_path, progress, len(items), "grade",
                            "responses") as (reply_cache, advance):
        summary = grade(items, backend, out, scale=top, rubric=rubric_text, template=tmpl,
                        cache=reply_cache, reask=reask, require_reference=with_reference,
                        advance=advance)
    result = {**summary.as_dict(), "out": str(out), "template": tmpl.name,
              "template_hash": tmpl.hash, "scale": top}
    _report(result, summary, pairs, read_grades, out, json_out,
            f"{summary.written} grades -> {out} ({summary.already_done} already there, "
            f"{summary.stats.asked} asked, {summary.stats.cached} cached), "
            f"{summary.stats.unparsed} unparsed after {summary.stats.reasks} re-asks, "
            f"{summary.stats.errors} failed\n",
            "mean score {mean_score:.3f} over {graded} graded ({unparsed} unparsed)\n")


def checklist_command(
    file: DataFileArg,
    endpoint: EndpointOpt,
    model: ModelOpt,
    out: Annotated[Path, out_file("Checklist results JSONL (appended to: a rerun resumes).")],
    checklists: Annotated[
        Path | None, typer.Option("--checklists", metavar="FILE",
                                  help="Given checklists (JSON prompt → questions, or JSONL "
                                  "prompt/checklist) instead of generating them.")
    ] = None,
    generate_template: Annotated[
        str | None, typer.Option("--generate-template", metavar="T",
                                 help="A .jinja file writing the checklist.")
    ] = None,
    answer_template: Annotated[
        str | None, typer.Option("--answer-template", metavar="T",
                                 help="A .jinja file answering one checklist question.")
    ] = None,
    format: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    reask: ReaskOpt = 1,
    concurrency: ConcurrencyOpt = 16,
    api_key_env: ApiKeyEnvOpt = "OPENAI_API_KEY",
    timeout: TimeoutOpt = 60.0,
    max_attempts: MaxAttemptsOpt = 6,
    cache: CacheOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """TICK checklists: YES/NO questions per instruction, answered per response; share of YES.

    Every checklist item is kept in the output with its answer and raw reply.

    Example: prefkit judge checklist answers.jsonl --endpoint URL --model m --out c.jsonl
    """
    from prefkit.judge.checklist import checklist, load_checklists, read_checklists
    from prefkit.judge.templates import load_template

    _check_reask(reask)
    gen = load_template(generate_template or "checklist_generate",
                        protocol="checklist-questions")
    ans = load_template(answer_template or "checklist_answer", protocol="yes-no")
    given = load_checklists(checklists) if checklists is not None else None
    items, pairs, backend, cache_path = _prepare(
        file, format, mapping, label_map, endpoint=endpoint, model=model,
        api_key_env=api_key_env, concurrency=concurrency, timeout=timeout,
        max_attempts=max_attempts, out=out, cache=cache)
    prompts = len({p for p in items.prompts} - set(given or {}))
    with cache_and_progress(cache_path, progress, prompts + len(items), "checklist",
                            "steps") as (reply_cache, advance):
        summary = checklist(items, backend, out, generate_template=gen, answer_template=ans,
                            checklists=given, cache=reply_cache, reask=reask, advance=advance)
    result = {**summary.as_dict(), "out": str(out),
              "template_hash": {"generate": gen.hash, "answer": ans.hash}}
    _report(result, summary, pairs, read_checklists, out, json_out,
            f"{summary.written} responses -> {out} ({summary.already_done} already there), "
            f"{summary.checklists} checklists ({summary.checklists_unparsed} unparsed), "
            f"{summary.stats.asked} asked, {summary.stats.cached} cached, "
            f"{summary.stats.unparsed} unparsed answers, {summary.stats.errors} failed\n",
            "mean pass rate {mean_score:.3f} over {graded} scored ({unparsed} unscored)\n")


def _answer_styles(path: Path, length: str) -> dict[tuple[str, str], Any]:
    """Style per (model, question id) from arena-hard-auto answer files (a file or a directory
    of ``*.jsonl``): ``metadata`` / ``conv_metadata`` when present, else measured on the answer
    text (v2 ``messages[-1].content.answer``, v0.1 ``choices[0].turns[0].content``)."""
    from prefkit.judge.style_control import answer_style, style_from_metadata

    styles: dict[tuple[str, str], Any] = {}
    for f, number, rec in _jsonl_records(path, "answer"):
        try:
            model = rec.get("model") or rec.get("model_id")
            qid = rec.get("uid", rec.get("question_id"))
            meta = rec.get("metadata") or rec.get("conv_metadata")
            if meta:
                style = style_from_metadata(meta)
            else:
                text = (rec["messages"][-1]["content"]["answer"] if "messages" in rec
                        else rec["choices"][0]["turns"][0]["content"])
                style = answer_style(text, length=length)
        except DataError as err:
            raise err.with_context(source=str(f), line=number) from None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise DataError("not an arena-hard answer line (model, uid/question_id, "
                            "metadata or answer text)", source=str(f), line=number) from None
        styles[(str(model), str(qid))] = style
    return styles


def arena_hard_command(
    file: DataFileArg,
    format: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    rules: Annotated[Rules, typer.Option("--rules", help="Published rules to follow.")] = Rules.v01,
    weight: Annotated[
        int, typer.Option("--weight", metavar="INT", help="Battles per strong verdict.")
    ] = 3,
    baseline: Annotated[
        str | None, typer.Option("--baseline", metavar="NAME",
                                 help="Baseline model (default: the one first model).")
    ] = None,
    style_control: Annotated[
        str | None, typer.Option("--style-control", metavar="FEATURES",
                                 help="Covariates: length, markdown or length,markdown.")
    ] = None,
    answers: Annotated[
        Path | None, typer.Option("--answers", metavar="PATH",
                                  help="arena-hard-auto answer file(s) with style metadata, "
                                  "when the judgments carry no answer texts.")
    ] = None,
    length: Annotated[
        LengthUnit, typer.Option("--length", help="Length unit measured on texts.")
    ] = LengthUnit.chars,
    category: Annotated[
        str | None, typer.Option("--category", metavar="NAME",
                                 help="Score the questions of one category (v2 files).")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", metavar="INT", help="Bootstrap rounds (0: none).")
    ] = 100,
    seed: SeedOpt = 0,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Arena-Hard win rates against the baseline (v0.1 or v2 rules), optionally style-controlled.

    Example: prefkit judge arena-hard judgments.jsonl --rules v2 --style-control length,markdown
    """
    from prefkit.cli._common import load
    from prefkit.core.progress import progress_bar
    from prefkit.judge.arena_hard import arena_hard_scores
    from prefkit.judge.run import is_judgment_file, read_judgment_file

    if bootstrap < 0 or weight < 1:
        raise DataError("--bootstrap must be ≥ 0 and --weight ≥ 1", field="options")
    features = [f.strip() for f in (style_control or "").split(",") if f.strip()]
    if format == "auto" and not mapping and is_judgment_file(file):
        data = read_judgment_file(file)
    else:
        data = load(file, format, mapping=mapping, label_map=label_map)
    styles = _answer_styles(answers, length.value) if answers is not None else None
    with progress_bar(progress and bool(features), bootstrap, "bootstrap", unit="fits") as adv:
        try:
            result = arena_hard_scores(data, rules=rules.value, weight=weight, baseline=baseline,
                                       style_control=features, styles=styles,
                                       length=length.value, bootstrap=bootstrap, seed=seed,
                                       category=category, advance=adv)
        except DataError as err:
            raise err.with_context(source=str(file)) from None
    if json_out:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False))
        return
    sys.stdout.write(result.to_markdown())


def _jsonl_records(path: Path, what: str) -> list[tuple[Path, int, dict[str, Any]]]:
    """(file, line, record) of a JSON-lines file or of every ``*.jsonl`` in a directory, read
    through the data layer's bounded reader (size, nesting, one-line errors)."""
    from prefkit.data.readers._common import load_json_records

    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"no {what} file(s) (*.jsonl)", source=str(path))
    out = []
    for f in files:
        records, lines = load_json_records(str(f))
        out.extend((f, int(n), rec) for n, rec in zip(lines, records, strict=True))
    return out


def _jsonl_lines(path: Path, what: str) -> list[dict[str, Any]]:
    return [rec for _, _, rec in _jsonl_records(path, what)]


def arena_pairs_command(
    questions: Annotated[
        Path, typer.Argument(metavar="QUESTIONS", help="arena-hard-auto question.jsonl.")
    ],
    answers: Annotated[
        Path, typer.Option("--answers", metavar="PATH",
                           help="arena-hard-auto model_answer directory (or one .jsonl).")
    ],
    baseline: Annotated[str, typer.Option("--baseline", metavar="NAME", help="Baseline model.")],
    out: Annotated[Path, out_file("Pairs JSONL for 'prefkit judge pairwise'.")],
    json_out: JsonOpt = False,
) -> None:
    """Pairs of every model against the baseline, per question, ready for judge pairwise.

    Example: prefkit judge arena-pairs q.jsonl --answers answers/ --baseline base --out p.jsonl
    """
    from prefkit.core.atomic import atomic_write_text
    from prefkit.judge.arena_hard import pairs_against_baseline

    pairs = pairs_against_baseline(_jsonl_lines(questions, "question"),
                                   _jsonl_lines(answers, "answer"), baseline)
    atomic_write_text(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    models = sorted({p["b"] for p in pairs})
    if json_out:
        typer.echo(json.dumps({"pairs": len(pairs), "models": models, "baseline": baseline,
                               "out": str(out)}))
    else:
        sys.stderr.write(f"{len(pairs)} pairs ({len(models)} models against {baseline}) -> "
                         f"{out}\n")


def register_grading_commands(app: typer.Typer) -> None:
    """Add ``grade``, ``checklist`` and ``arena-hard`` to the ``prefkit judge`` group."""
    app.command("grade")(grade_command)
    app.command("checklist")(checklist_command)
    app.command("arena-hard")(arena_hard_command)
    app.command("arena-pairs")(arena_pairs_command)
