"""The data-quality section: the JSON of any ``prefkit quality …`` command, rendered.

Inputs (:func:`quality_document` recognises each and brings it to ``quality.json``'s layout, one
part per key — docs/quality.md "The report"):

==========================================  ==================================================
JSON                                        parts shown
==========================================  ==================================================
``quality report DATA --out DIR``           every part of ``DIR/quality.json``
``quality annotators --json``               ``annotators`` (+ ``heldout``)
``quality drivers --json``                  ``drivers`` (+ ``length_bias``)
``quality flips --json``                    ``flips`` (``--method bt``) or ``rm_flips`` (``rm``)
``quality duplicates --json``               ``duplicates`` (+ train/test leaks)
``quality next --json``                     ``next``
``quality wimhf --out DIR`` (``wimhf.json``)  ``wimhf``
==========================================  ==================================================

What each part shows: annotator reliability η with intervals beside majority-vote agreement, tie
rates, how well the data identify η and the held-out comparison; property effects with the
interval method (bootstrap / Laplace / cluster-robust sandwich), standard errors and P(β > 0),
per-group and partially pooled fits, the style-controlled item ranking; the length bias per bin;
the flip rate with its interval, the reward model's feature set and held-out repair accuracy; the
duplicate groups and leaks; the pairs to label next; the WIMHF features with examples.  A part
the command skipped shows its reason.  Every text from the data is HTML-escaped (the templates
autoescape).  The report's PNG figures, when present, are embedded as ``data:`` images.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from prefkit.errors import ModelFileError
from prefkit.report.html import markup, render
from prefkit.report.quality_templates import register_quality_templates
from prefkit.report.svg import interval_svg

REPORT_NAME = "quality.json"
WIMHF_NAME = "wimhf.json"
#: largest figure embedded (bytes)
MAX_FIGURE = 4 << 20
#: rows shown of a long list (groups, suspects, features, examples)
MAX_ROWS = 40
#: characters shown of one example text (a WIMHF example: of each side)
MAX_TEXT = 400
MAX_EXAMPLE = 160
RELIABILITY_MODELS = ("crowd-bt", "dawid-skene")
PARTS = ("annotators", "heldout", "drivers", "length_bias", "flips", "rm_flips", "duplicates",
         "next", "wimhf")

#: what the reward heads of ``quality flips --method rm`` see (``--features``)
FEATURE_SETS = {
    "style+items": "MiniLM embeddings + style properties + one-hot model id of each response",
    "style": "MiniLM embeddings + style properties",
    "items": "MiniLM embeddings + one-hot model id of each response",
    "none": "MiniLM embeddings only",
}
#: how the property effects' intervals were computed (``covariance``)
COVARIANCES = {
    "bootstrap": "95 % percentile bootstrap (the labels of one pair_id resampled together)",
    "laplace": "95 % Laplace posterior of a Bayesian logistic regression (β̂ ± 1.96·se)",
    "sandwich": "95 % Laplace posterior with the cluster-robust sandwich covariance "
                "(several labels per pair_id)",
}

register_quality_templates()


def read_quality(directory: str | Path) -> dict[str, Any]:
    """The quality document of a directory: ``quality.json`` (``quality report --out``) or
    ``wimhf.json`` (``quality wimhf --out``), in ``quality.json``'s layout."""
    path = Path(directory) / REPORT_NAME
    if not path.is_file() and (Path(directory) / WIMHF_NAME).is_file():
        path = Path(directory) / WIMHF_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{path}: unreadable quality report ({err})") from None
    normal = quality_document(doc)
    if normal is None:
        raise ModelFileError(f"{path}: not a prefkit quality report")
    return normal


def quality_document(doc: Any) -> dict[str, Any] | None:
    """``doc`` (the JSON of a ``prefkit quality`` command) in ``quality.json``'s layout, or None
    when it is none of them (module notes)."""
    if not isinstance(doc, dict):
        return None
    records = doc.get("records")
    if doc.get("model") in RELIABILITY_MODELS and isinstance(doc.get("annotators"), dict):
        part = {k: doc[k] for k in ("model", "annotators", "identification") if k in doc}
        return _with(doc, records, annotators=part, heldout=doc.get("heldout"))
    if isinstance(doc.get("overall"), dict) and "properties" in doc:
        drivers = {k: v for k, v in doc.items() if k != "length_bias"}
        bias = doc.get("length_bias") or {
            "skipped": "no a_text/b_text: the length of a response is unknown"}
        return _with(doc, records, drivers=drivers, length_bias=bias)
    if doc.get("method") in ("bt", "rm") and "flip_rate" in doc:
        return _with(doc, records, **{"flips" if doc["method"] == "bt" else "rm_flips": doc})
    if isinstance(doc.get("fields"), dict) and "duplicate_records" in doc:
        return _with(doc, records, duplicates=doc)
    if isinstance(doc.get("sae"), dict) and isinstance(doc.get("features"), list):
        return _with(doc, doc.get("n_pairs"), wimhf=doc)
    if isinstance(doc.get("pairs"), list) or isinstance(doc.get("proposals"), list):
        if records is not None and not ({"items", "model"} <= set(doc)):
            return _with(doc, records, next=doc)
        return None
    if "records" in doc and any(isinstance(doc.get(k), dict) for k in PARTS):
        return doc
    return None


def _with(doc: dict[str, Any], records: Any, **parts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"records": records, "kind": doc.get("kind", "pairwise"),
                           "source": doc.get("source")}
    out.update({k: v for k, v in parts.items() if v is not None})
    out["notes"] = doc.get("notes", [])
    return out


def _block(doc: dict[str, Any], key: str, skipped: list[tuple[str, str]]) -> dict[str, Any]:
    block = doc.get(key)
    if not isinstance(block, dict):
        return {}
    if "skipped" in block and not isinstance(block["skipped"], list):
        skipped.append((key, str(block["skipped"])))
        return {}
    return block


def _interval(row: Any) -> tuple[Any, Any]:
    iv = row.get("interval") if isinstance(row, dict) else None
    return (iv[0], iv[1]) if isinstance(iv, list | tuple) and len(iv) == 2 else (None, None)


def _clip(text: Any, limit: int = MAX_TEXT) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _annotators(block: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, row in (block.get("annotators") or {}).items():
        if not isinstance(row, dict):
            continue
        low, high = _interval(row)
        flags = row.get("flags") or []
        rows.append({"name": str(name), "n": row.get("n"), "reliability": row.get("reliability"),
                     "low": low, "high": high, "majority": row.get("majority_agreement"),
                     "tie": row.get("tie_rate", row.get("tie_agreement")),
                     "flags": ", ".join(map(str, flags)) if isinstance(flags, list)
                     else str(flags)})
    return rows


def _effects(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one ``property_effects`` block: the first-position intercept, then each property."""
    rows = [("(first position)", block["intercept"])] if isinstance(
        block.get("intercept"), dict) else []
    rows += [(k, v) for k, v in (block.get("effects") or {}).items() if isinstance(v, dict)]
    out = []
    for name, row in rows:
        low, high = _interval(row)
        out.append({"name": str(name), "coef": row.get("coef"), "low": low, "high": high,
                    "se": row.get("se"), "prob_positive": row.get("prob_positive"),
                    "sd": row.get("sd"), "nonzero": row.get("nonzero")})
    return out


def _drivers(block: dict[str, Any]) -> dict[str, Any]:
    overall = block.get("overall") if isinstance(block.get("overall"), dict) else {}
    covariance = str(overall.get("covariance") or "")
    by = block.get("by") if isinstance(block.get("by"), dict) else {}
    groups = [(str(g), b, _effects(b)) for g, b in list((by.get("groups") or {}).items())[
        :MAX_ROWS] if isinstance(b, dict)]
    hier = by.get("hierarchical") if isinstance(by.get("hierarchical"), dict) else {}
    pooled = [(str(g), b.get("n"), [(str(p), e) for p, e in (b.get("effects") or {}).items()])
              for g, b in list((hier.get("groups") or {}).items())[:MAX_ROWS]
              if isinstance(b, dict)]
    controlled = block.get("controlled") if isinstance(block.get("controlled"), dict) else {}
    items = sorted(((str(k), v) for k, v in (controlled.get("items") or {}).items()
                    if isinstance(v, dict)),
                   key=lambda kv: (kv[1].get("controlled_rank") is None,
                                   kv[1].get("controlled_rank") or 0))
    return {"overall": overall, "effects": _effects(overall),
            "bayes": any(r["se"] is not None for r in _effects(overall)),
            "covariance": covariance,
            "covariance_text": COVARIANCES.get(covariance, covariance),
            "properties": block.get("properties") or [],
            "not_estimated": overall.get("skipped") or [],
            "collinear": list((overall.get("collinear") or {}).items()),
            "by_column": by.get("column"), "groups": groups,
            "hierarchical": hier, "pooled": pooled,
            "population": list((hier.get("population") or {}).items()),
            "controlled": controlled, "controlled_items": items[:MAX_ROWS],
            "controlled_properties": list((controlled.get("properties") or {}).items())}


def _flips(block: dict[str, Any]) -> dict[str, Any]:
    if not block:
        return {}
    features = block.get("features")
    heldout = block.get("heldout_repair") if isinstance(block.get("heldout_repair"),
                                                        dict) else {}
    return {**block, "interval": block.get("flip_rate_interval") or [None, None],
            "features_text": FEATURE_SETS.get(str(features), str(features))
            if features is not None else None,
            "suspects": [r for r in (block.get("most_suspect") or [])
                         if isinstance(r, dict)][:MAX_ROWS],
            "heldout": heldout,
            "repairs": list((heldout.get("repairs") or {}).items())}


def _duplicates(block: dict[str, Any]) -> dict[str, Any]:
    if not block:
        return {}
    fields = []
    for name, part in (block.get("fields") or {}).items():
        if not isinstance(part, dict):
            continue
        groups = [{**g, "example": _clip(g.get("example"))}
                  for g in (part.get("groups") or [])[:10] if isinstance(g, dict)]
        fields.append((str(name), part, groups))
    dup = block.get("duplicate_records") if isinstance(block.get("duplicate_records"),
                                                       dict) else {}
    against = block.get("against") if isinstance(block.get("against"), dict) else {}
    leaks = [(str(k), v) for k, v in (against.get("fields") or {}).items() if isinstance(v, dict)]
    split = [(str(k), v.get("leaked"), [_clip(x) for x in (v.get("examples") or [])[:5]])
             for k, v in (against.get("split_leakage") or {}).items() if isinstance(v, dict)]
    return {"block": block, "fields": fields, "records_part": dup,
            "record_examples": [_clip(json.dumps(x, ensure_ascii=False)) if not isinstance(
                x, str) else _clip(x) for x in (dup.get("examples") or [])[:5]],
            "against": against, "leaks": leaks, "split": split}


def _wimhf(block: dict[str, Any]) -> dict[str, Any]:
    if not block:
        return {}
    features = []
    for f in block.get("features") or []:
        if not isinstance(f, dict):
            continue
        low, high = _interval(f)
        win = f.get("win_rate_interval") or [None, None]
        examples = [{**e, "more_text": _clip(e.get("more_text"), MAX_EXAMPLE),
                     "less_text": _clip(e.get("less_text"), MAX_EXAMPLE)}
                    for e in (f.get("examples") or [])[:2] if isinstance(e, dict)]
        features.append({**f, "low": low, "high": high, "win_low": win[0], "win_high": win[1],
                         "shown_examples": examples})
    first = block.get("first_position") if isinstance(block.get("first_position"), dict) else {}
    return {"block": block, "sae": block.get("sae") or {}, "signal": block.get("signal") or {},
            "first": first, "first_interval": _interval(first),
            "features": features[:MAX_ROWS], "more": max(0, len(features) - MAX_ROWS)}


def _images(doc: dict[str, Any], directory: str | Path | None) -> list[tuple[str, str]]:
    images = []
    if directory is not None:
        for name in doc.get("figures", []) or []:
            path = Path(directory) / str(name)
            if (path.suffix == ".png" and path.is_file() and path.parent == Path(directory)
                    and path.stat().st_size <= MAX_FIGURE):
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                images.append((path.name, f"data:image/png;base64,{data}"))
    return images


def render_quality_section(doc: dict[str, Any], directory: str | Path | None = None) -> str:
    """The section for one quality document (module notes; a command's JSON is first brought to
    ``quality.json``'s layout); figures from ``directory``."""
    doc = quality_document(doc) or doc
    skipped: list[tuple[str, str]] = []
    annotators_part = _block(doc, "annotators", skipped)
    annotators = _annotators(annotators_part)
    images = _images(doc, directory)
    figures = []
    if annotators and "reliability.png" not in {name for name, _ in images}:
        ordered = sorted(annotators, key=lambda r: -(r["reliability"] or 0.0))[:MAX_ROWS]
        figures.append(interval_svg([r["name"] for r in ordered],
                                    [r["reliability"] for r in ordered],
                                    [r["low"] for r in ordered], [r["high"] for r in ordered],
                                    xlim=(0.0, 1.0), ref=0.5, xlabel="reliability η",
                                    title="annotator reliability (½ = a coin)"))
    ident = annotators_part.get("identification")
    length = _block(doc, "length_bias", skipped)
    next_part = _block(doc, "next", skipped)
    return render(
        "quality.html", doc=doc, skipped=skipped, annotators=annotators,
        reliability_model=annotators_part.get("model"),
        identification=ident if isinstance(ident, dict) else {},
        heldout=_block(doc, "heldout", skipped),
        drivers=_drivers(_block(doc, "drivers", skipped)),
        length=length, length_interval=_interval(length),
        bins=[b for b in (length.get("bins") or []) if isinstance(b, dict)],
        flips=_flips(_block(doc, "flips", skipped)),
        rm_flips=_flips(_block(doc, "rm_flips", skipped)),
        duplicates=_duplicates(_block(doc, "duplicates", skipped)),
        next_pairs=[p for p in (next_part.get("pairs") or []) if isinstance(p, dict)][:MAX_ROWS],
        proposals=[p for p in (next_part.get("proposals") or [])
                   if isinstance(p, dict)][:MAX_ROWS],
        next_part=next_part, wimhf=_wimhf(_block(doc, "wimhf", skipped)),
        figures=[markup(f) for f in figures], images=images,
        notes=[str(n) for n in doc.get("notes", []) or []])
