"""Turn report inputs (data files, saved results, model directories) into report sections.

What each input is, decided from what it holds:

=====================================  ======================================================
input                                  section
=====================================  ======================================================
directory with ``quality.json``        data quality (:mod:`prefkit.report.quality`; also
                                       ``wimhf.json`` of ``prefkit quality wimhf --out``)
directory with ``align_config.json``   alignment run (:mod:`prefkit.report.align`)
directory with ``leaderboard.json``    saved leaderboard (``prefkit leaderboard --out``)
saved prefkit model (``config.json``)  reward / pluralistic / choice model, evaluated on every
                                       data file given with it (:mod:`prefkit.report.model`)
``.json`` file of a saved result       leaderboard (``model`` + ``items``), judge analysis
                                       (``position_consistency``) or the JSON of a
                                       ``prefkit quality`` command
judgments (``pair_id`` + ``order``)    judge bias and agreement (:mod:`prefkit.report.judge`)
any other preference data file         the default leaderboard (Bradley–Terry, ties as half
                                       wins, bootstrap intervals; style control beside it when
                                       style columns exist) — or, when a model is given, the
                                       model's test data
=====================================  ======================================================
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefkit.errors import DataError, ModelFileError
from prefkit.report.html import Section
from prefkit.report.provenance import provenance

#: Style columns picked up without ``--style-control`` (numeric ``X_a``/``X_b`` or
#: ``a_X``/``b_X`` pairs of these names; LMArena's style features and response length).
STYLE_NAMES = ("len", "length", "tokens", "sum_assistant_tokens", "header_count", "list_count",
               "bold_count", "markdown")
#: Largest saved-result JSON read whole (bytes).
MAX_JSON = 64 << 20


@dataclass
class ReportOptions:
    """Settings shared by every section."""

    bootstrap: int = 200
    seed: int = 0
    model: str = "bt"
    style_control: list[str] | None = None
    by: str | None = None
    human: Path | None = None
    read_data: Callable[[Path], Any] | None = None
    notes: list[str] = field(default_factory=list)


def _read(path: Path, options: ReportOptions) -> Any:
    if options.read_data is not None:
        return options.read_data(path)
    from prefkit.data import read

    return read(str(path))


def style_columns(dataset: Any) -> list[str]:
    """The style covariates present in ``dataset`` (see :data:`STYLE_NAMES`)."""
    cols = set(dataset.columns)
    found = []
    for name in STYLE_NAMES:
        for a, b in ((f"{name}_a", f"{name}_b"), (f"a_{name}", f"b_{name}")):
            if a in cols and b in cols:
                try:
                    import numpy as np

                    np.asarray(dataset.column(a), dtype=float)
                    np.asarray(dataset.column(b), dtype=float)
                except (TypeError, ValueError):
                    continue
                found.append(name)
                break
    return found


def leaderboard_section(dataset: Any, path: Path, options: ReportOptions) -> Section:
    """The default leaderboard of a data file (module notes)."""
    from prefkit.choice.leaderboard import leaderboard
    from prefkit.report.leaderboard import render_leaderboard_section

    board = leaderboard(dataset, model=options.model, bootstrap=options.bootstrap,
                        ci="bootstrap" if options.bootstrap > 0 else None, seed=options.seed)
    style = options.style_control if options.style_control is not None else (
        style_columns(dataset) if dataset.kind == "pairwise" else [])
    style_board = None
    if style:
        style_board = leaderboard(dataset, model=options.model, bootstrap=options.bootstrap,
                                  ci="bootstrap" if options.bootstrap > 0 else None,
                                  style_control=style, seed=options.seed)
    body = render_leaderboard_section(board, dataset, style_board=style_board)
    return Section(f"Leaderboard: {path.name}", body, "leaderboard",
                   provenance(data=path, model=f"{board.model} (prefkit.choice.leaderboard)",
                              seed=options.seed, bootstrap=options.bootstrap or None,
                              style_control=", ".join(style) or None))


def saved_leaderboard_section(doc: dict[str, Any], path: Path) -> Section:
    from prefkit.report.leaderboard import render_leaderboard_section

    rows = doc.get("items")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "name" in r
                                             and "rank" in r and "rating" in r for r in rows):
        raise DataError("a saved leaderboard needs 'items' with name, rank and rating",
                        source=str(path), field="items")
    body = render_leaderboard_section(doc)
    return Section(f"Leaderboard: {path.name}", body, "leaderboard",
                   provenance(data=path, model=str(doc.get("model"))))


def judge_section(analysis: dict[str, Any], path: Path, *, seed: int | None,
                  template_hash: str | None = None) -> Section:
    from prefkit.report.judge import render_judge_section

    judges = ", ".join(map(str, analysis.get("judges") or [])) or None
    return Section(f"Judge: {path.name}", render_judge_section(analysis), "judge",
                   provenance(data=path, model=judges, template_hash=template_hash, seed=seed))


def _template_hash(dataset: Any) -> str | None:
    if not dataset.has("template_hash"):
        return "recorded (no template)"
    values = sorted({str(v) for v in dataset.column("template_hash") if v is not None})
    return ", ".join(values) if values else "recorded (no template)"


def judgments_section(dataset: Any, path: Path, options: ReportOptions) -> Section:
    from prefkit.judge.analysis import analyze

    human = _read(options.human, options) if options.human is not None else None
    analysis = analyze(dataset, human=human, by=options.by, bootstrap=options.bootstrap or 1000,
                       seed=options.seed)
    return judge_section(analysis, path, seed=options.seed,
                         template_hash=_template_hash(dataset))


def is_judgments(dataset: Any) -> bool:
    return dataset.kind == "pairwise" and dataset.has("pair_id") and dataset.has("order")


def model_sections(directory: Path, data: list[tuple[Path, Any]],
                   options: ReportOptions) -> list[Section]:
    """One section per (model, test file) — or one without data."""
    import prefkit
    from prefkit.report.model import render_model_section

    model = prefkit.load(directory)
    tag = _class_tag(directory)
    plural = tag.startswith("plural.")
    kind = "plural" if plural else ("reward" if tag.startswith("reward.") else "model")
    title = {"plural": "Pluralistic model", "reward": "Reward model"}.get(kind, "Model")
    out = []
    for path, dataset in data or [(None, None)]:
        body = render_model_section(model, dataset, by=options.by, plural=plural,
                                    rewardbench=kind == "reward")
        name = f"{directory.name}" + ("" if path is None else f" on {path.name}")
        prov = provenance(data=path, model=f"{tag} ({directory.name})",
                          seed=options.seed, **{"model sha256": _model_hash(directory)})
        out.append(Section(f"{title}: {name}", body, kind, prov))
    return out


def _class_tag(directory: Path) -> str:
    try:
        doc = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return "unknown"
    for key in ("class", "class_tag", "type", "tag"):
        if isinstance(doc, dict) and isinstance(doc.get(key), str):
            return doc[key]
    return "unknown"


def _model_hash(directory: Path) -> str:
    from prefkit.report.provenance import directory_hash

    return directory_hash(directory)


def _load_json(path: Path) -> Any:
    if path.stat().st_size > MAX_JSON:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _json_result(doc: Any, path: Path, options: ReportOptions) -> Section | None:
    """A section for a saved result document, or None if it is not one."""
    if not isinstance(doc, dict):
        return None
    if "items" in doc and "model" in doc:
        return saved_leaderboard_section(doc, path)
    if "position_consistency" in doc:
        return judge_section(doc, path, seed=None)
    from prefkit.report.quality import quality_document, render_quality_section

    quality = quality_document(doc)
    if quality is not None:
        return Section(f"Data quality: {path.name}", render_quality_section(quality, None),
                       "quality", provenance(data=path))
    return None


def directory_sections(path: Path, data: list[tuple[Path, Any]],
                       options: ReportOptions) -> list[Section]:
    if (path / "quality.json").is_file() or (path / "wimhf.json").is_file():
        from prefkit.report.quality import read_quality, render_quality_section

        doc = read_quality(path)
        name = "quality.json" if (path / "quality.json").is_file() else "wimhf.json"
        return [Section(f"Data quality: {path.name}", render_quality_section(doc, path),
                        "quality", provenance(data=path / name, source=doc.get("source")))]
    if (path / "align_config.json").is_file():
        from prefkit.report.align import read_run, render_align_section

        run = read_run(path)
        cfg = run.get("config") if isinstance(run.get("config"), dict) else {}
        return [Section(f"Alignment run: {path.name}", render_align_section(run), "align",
                        provenance(data=path / "align_config.json", model=str(run.get("base")),
                                   seed=cfg.get("seed"), loss=cfg.get("loss")))]
    if (path / "leaderboard.json").is_file():
        doc = _load_json(path / "leaderboard.json")
        if not isinstance(doc, dict):
            raise ModelFileError(f"{path / 'leaderboard.json'}: unreadable leaderboard")
        return [saved_leaderboard_section(doc, path / "leaderboard.json")]
    if (path / "config.json").is_file():
        return model_sections(path, data, options)
    raise DataError("not a prefkit result directory (expected quality.json, wimhf.json, "
                    "align_config.json, leaderboard.json or a saved model's config.json)",
                    source=str(path))


def build_sections(inputs: list[Path], options: ReportOptions) -> list[Section]:
    """Sections for every input, in the order given (module notes)."""
    if not inputs:
        raise DataError("no inputs: give a preference file, a saved result or a model directory")
    models = [p for p in inputs if p.is_dir() and (p / "config.json").is_file()
              and not (p / "leaderboard.json").is_file()]
    results: dict[Path, Section] = {}
    data: list[tuple[Path, Any]] = []
    for path in inputs:
        if not path.exists():
            raise DataError("no such file or directory", source=str(path))
        if path.is_dir():
            continue
        if path.suffix.lower() == ".json":
            section = _json_result(_load_json(path), path, options)
            if section is not None:
                results[path] = section
                continue
        try:
            dataset = _read(path, options)
        except DataError as err:
            raise err.with_context(source=str(path)) from None
        data.append((path, dataset))
    sections: list[Section] = []
    loaded = dict(data)
    for path in inputs:
        if path in results:
            sections.append(results[path])
        elif path.is_dir():
            test = [] if path not in models else [
                (p, d) for p, d in data if not is_judgments(d)]
            sections += directory_sections(path, test, options)
        elif path in loaded:
            dataset = loaded[path]
            if is_judgments(dataset):
                sections.append(_guard(path, lambda d=dataset, p=path:
                                       judgments_section(d, p, options)))
            elif not models:
                sections.append(_guard(path, lambda d=dataset, p=path:
                                       leaderboard_section(d, p, options)))
    return sections


def _guard(path: Path, make: Callable[[], Section]) -> Section:
    """Run ``make``; a DataError names the input; warnings become the section's notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            section = make()
        except DataError as err:
            raise err.with_context(source=str(path)) from None
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, UserWarning)})
    if notes:
        from prefkit.report.html import render

        extra = render("notes.html", notes=notes)
        section.body = section.body + extra
    return section
