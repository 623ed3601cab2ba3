"""The data-quality section: a ``prefkit quality report DATA --out DIR`` directory rendered.

Reads ``DIR/quality.json`` (:mod:`prefkit.quality.report`): annotator reliability η with
intervals beside majority-vote agreement, property effects (what drives the preferences), the
length bias, the flip rate and the most suspect records, duplicate counts and the notes.  A part
the report skipped shows its reason.  The report's PNG figures, when present, are embedded as
``data:`` images (nothing is linked).
"""

# ruff: noqa: E501  (HTML templates and CSS below: long lines are markup)
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from prefkit.errors import ModelFileError
from prefkit.report.html import markup, register_template, render
from prefkit.report.svg import interval_svg

REPORT_NAME = "quality.json"
#: largest figure embedded (bytes)
MAX_FIGURE = 4 << 20

TEMPLATE = """
<p class="note">{{ doc.get("records")|num(0) }} {{ doc.get("kind", "") }} records{% if doc.get("source") %} from
{{ doc.source }}{% endif %}.</p>
{% for name, reason in skipped %}<p class="note">{{ name }}: skipped — {{ reason }}</p>{% endfor %}
{% if annotators %}<h3>Annotator reliability (Crowd-BT)</h3>
<div class="scroll"><table class="sortable annotators"><thead><tr><th class="name">annotator</th><th>labels</th>
<th>reliability η</th><th>lower</th><th>upper</th><th>majority agreement</th><th class="name">flags</th></tr></thead><tbody>
{% for r in annotators %}<tr><td class="name">{{ r.name }}</td><td data-sort="{{ r.n|sortkey }}">{{ r.n|num(0) }}</td>
<td data-sort="{{ r.reliability|sortkey }}">{{ r.reliability|num(3) }}</td><td data-sort="{{ r.low|sortkey }}">{{ r.low|num(3) }}</td>
<td data-sort="{{ r.high|sortkey }}">{{ r.high|num(3) }}</td><td data-sort="{{ r.majority|sortkey }}">{{ r.majority|num(3) }}</td>
<td class="name">{{ r.flags }}</td></tr>{% endfor %}</tbody></table></div>{% endif %}
{% if effects %}<h3>What drives the preferences</h3>
<table class="sortable effects"><thead><tr><th class="name">property</th><th>log-odds per SD</th><th>lower</th><th>upper</th></tr></thead><tbody>
{% for r in effects %}<tr><td class="name">{{ r.name }}</td><td data-sort="{{ r.coef|sortkey }}">{{ r.coef|num(3, True) }}</td>
<td data-sort="{{ r.low|sortkey }}">{{ r.low|num(3, True) }}</td><td data-sort="{{ r.high|sortkey }}">{{ r.high|num(3, True) }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% if length %}<p>Length bias: the longer response wins <span class="big">{{ length.get("longer_win_rate")|num(3) }}</span>
of {{ length.get("n")|num(0) }} decisive comparisons.</p>{% endif %}
{% if flips %}<h3>Flipped labels</h3><p>Estimated flip rate ε = <span class="big">{{ flips.get("flip_rate")|num(3) }}</span>,
{{ flips.get("flagged")|num(0) }} records flagged.</p>
{% if flips.get("most_suspect") %}<table class="sortable suspects"><thead><tr><th>record</th><th>P(flipped)</th></tr></thead><tbody>
{% for r in flips.most_suspect %}<tr><td data-sort="{{ r.row|sortkey }}">{{ r.row }}</td><td data-sort="{{ r.flip_prob|sortkey }}">{{ r.flip_prob|num(3) }}</td></tr>{% endfor %}
</tbody></table>{% endif %}{% endif %}
{% if duplicates %}<h3>Duplicates</h3><table class="duplicates"><tbody>
{% for k, v in duplicates %}<tr><td class="name">{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</tbody></table>{% endif %}
<div class="figures">{% for fig in figures %}<figure>{{ fig }}</figure>{% endfor %}
{% for name, uri in images %}<figure><img alt="{{ name }}" src="{{ uri }}" width="600"><figcaption>{{ name }}</figcaption></figure>{% endfor %}</div>
{% for note in doc.get("notes", []) %}<p class="note">{{ note }}</p>{% endfor %}
"""
register_template("quality.html", TEMPLATE)


def read_quality(directory: str | Path) -> dict[str, Any]:
    """``quality.json`` of a quality report directory."""
    path = Path(directory) / REPORT_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{path}: unreadable quality report ({err})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path}: not a prefkit quality report")
    return doc


def _block(doc: dict[str, Any], key: str, skipped: list[tuple[str, str]]) -> dict[str, Any]:
    block = doc.get(key)
    if not isinstance(block, dict):
        return {}
    if "skipped" in block:
        skipped.append((key, str(block["skipped"])))
        return {}
    return block


def _scalars(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flattened scalar entries of a nested dict (lists shown by their length)."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _scalars(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}")
    elif isinstance(value, list):
        out.append((prefix, f"{len(value)} entries"))
    elif value is not None:
        out.append((prefix.rstrip("."), str(value)))
    return out


def render_quality_section(doc: dict[str, Any], directory: str | Path | None = None) -> str:
    """The section for one ``quality.json`` document (module notes); figures from
    ``directory``."""
    skipped: list[tuple[str, str]] = []
    annotators = []
    table = _block(doc, "annotators", skipped).get("annotators") or {}
    for name, row in table.items():
        iv = row.get("interval") or [None, None]
        flags = row.get("flags") or []
        annotators.append({"name": str(name), "n": row.get("n"),
                           "reliability": row.get("reliability"), "low": iv[0], "high": iv[1],
                           "majority": row.get("majority_agreement"),
                           "flags": ", ".join(map(str, flags)) if isinstance(flags, list)
                           else str(flags)})
    drivers = _block(doc, "drivers", skipped)
    effects = []
    overall = drivers.get("overall") or {}
    rows = ([("(first position)", overall["intercept"])] if overall.get("intercept") else [])
    rows += list((overall.get("effects") or {}).items())
    for name, row in rows:
        iv = row.get("interval") or [None, None]
        effects.append({"name": str(name), "coef": row.get("coef"), "low": iv[0],
                        "high": iv[1]})
    length = _block(doc, "length_bias", skipped)
    flips = _block(doc, "flips", skipped)
    duplicates = _scalars(_block(doc, "duplicates", skipped))[:40]
    images = []
    if directory is not None:
        for name in doc.get("figures", []) or []:
            path = Path(directory) / str(name)
            if (path.suffix == ".png" and path.is_file() and path.parent == Path(directory)
                    and path.stat().st_size <= MAX_FIGURE):
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                images.append((path.name, f"data:image/png;base64,{data}"))
    figures = []
    if annotators and "reliability.png" not in {name for name, _ in images}:
        ordered = sorted(annotators, key=lambda r: -(r["reliability"] or 0.0))[:40]
        figures.append(interval_svg([r["name"] for r in ordered],
                                    [r["reliability"] for r in ordered],
                                    [r["low"] for r in ordered], [r["high"] for r in ordered],
                                    xlim=(0.0, 1.0), ref=0.5, xlabel="reliability η",
                                    title="annotator reliability (½ = a coin)"))
    return render("quality.html", doc=doc, skipped=skipped, annotators=annotators,
                  effects=effects, length=length, flips=flips, duplicates=duplicates,
                  figures=[markup(f) for f in figures], images=images)
