"""PrefLib ordinal preference files (``.soc``, ``.soi``, ``.toc``, ``.toi``) → rankings.

PrefLib 2 (current) files start with ``#`` header lines, then one line per distinct order with
its multiplicity; alternatives are numbers, ties are braces::

    # DATA TYPE: toc
    # NUMBER ALTERNATIVES: 4
    # ALTERNATIVE NAME 1: Mean Girls
    ...
    68: 2,1,4,3                 -> {"ranking": ["Beverly Hills Cop", "Mean Girls", ...],
    1: 3,{1,2},4                    "ranks": [1, 2, 3, 4], "weight": 68.0}

Legacy (PrefLib 1) files have no ``#`` lines: the number of alternatives, one ``i,name`` line
per alternative, a ``voters,total,unique`` line, then ``count,order`` lines (``68,2,1,4,3``).

Mapping:

* alternatives become their names (``use_names=False`` keeps the numbers);
* the multiplicity becomes ``weight`` (``repeat=True`` repeats the record instead, one per voter,
  without a ``weight`` column);
* tied alternatives (``{3,4}``) share a rank in ``ranks`` (dense: 1, 2, 2, 3 …);
* alternatives a line leaves out (``.soi``/``.toi``): with ``incomplete="subset"`` (default, as
  PlackettLuce reads them) the line is a complete ranking of the alternatives it lists and the
  others are not compared; with ``incomplete="top"`` they are listed in ``unranked`` (below the
  ranked ones);
* a line that ranks a single alternative with nothing unranked carries no comparison: it is
  dropped, and ``metadata["dropped"]`` (lines) and ``metadata["dropped_weight"]`` (voters) count
  it; lines with multiplicity 0 are dropped the same way.

``metadata["preflib"]`` holds the header (title, data type …) and ``metadata["alternatives"]``
the alternative names in number order.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.io import read_text
from prefkit.data.readers._columns import dataset
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

PREFLIB_SUFFIXES = (".soc", ".soi", ".toc", ".toi")
_HEADER_RE = re.compile(r"^#\s*([^:]+?)\s*:\s*(.*?)\s*$")
_NAME_RE = re.compile(r"^ALTERNATIVE NAME (\d+)$", re.IGNORECASE)
_DATA_RE = re.compile(r"^\s*(\S+?)\s*:\s*(.*)$")


def _parse_order(text: str, source: str, line: int) -> list[list[int]]:
    """``"2,{1,3},4"`` -> ``[[2], [1, 3], [4]]``."""
    groups: list[list[int]] = []
    current: list[int] | None = None
    token = ""

    def flush() -> None:
        nonlocal token
        word = token.strip()
        token = ""
        if not word:
            return
        if not word.isdigit():
            raise DataError(
                f"expected an alternative number, got {word!r}",
                source=source,
                line=line,
                field="ranking",
            )
        if current is None:
            groups.append([int(word)])
        else:
            current.append(int(word))

    for ch in text:
        if ch == "{":
            if current is not None or token.strip():
                raise DataError("misplaced '{'", source=source, line=line, field="ranking")
            current = []
        elif ch == "}":
            if current is None:
                raise DataError("unmatched '}'", source=source, line=line, field="ranking")
            flush()
            if current:
                groups.append(current)
            current = None
        elif ch == ",":
            flush()
        else:
            token += ch
    if current is not None:
        raise DataError("unclosed '{'", source=source, line=line, field="ranking")
    flush()
    return groups


def _count(text: str, source: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise DataError(
            f"expected a count of voters, got {text!r}", source=source, line=line, field="count"
        )
    return value


def _parse(
    text: str, source: str
) -> tuple[dict[str, str], dict[int, str], list[tuple[int, float, str]]]:
    """Header, alternative names and ``(line, count, order text)`` of either PrefLib layout."""
    lines = text.splitlines()
    header: dict[str, str] = {}
    names: dict[int, str] = {}
    data: list[tuple[int, float, str]] = []
    first = next((i for i, raw in enumerate(lines) if raw.strip()), None)
    if first is None:
        raise DataError("empty file", source=source)
    if lines[first].lstrip().startswith("#"):
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                match = _HEADER_RE.match(stripped)
                if match:
                    key, value = match.group(1).strip(), match.group(2)
                    named = _NAME_RE.match(key)
                    if named:
                        names[int(named.group(1))] = value
                    else:
                        header[key.upper()] = value
                continue
            match = _DATA_RE.match(stripped)
            if not match:
                raise DataError(
                    "expected 'count: order'", source=source, line=number, field="count"
                )
            data.append((number, _count(match.group(1), source, number), match.group(2)))
        return header, names, data
    # legacy: m / m lines "i,name" / "voters,total,unique" / "count,order" lines
    rows = [(i + 1, raw.strip()) for i, raw in enumerate(lines) if raw.strip()]
    number, head = rows[0]
    if not head.isdigit():
        raise DataError(
            f"expected the number of alternatives, got {head!r}",
            source=source,
            line=number,
            field="count",
        )
    m = int(head)
    if len(rows) < m + 2:
        raise DataError(
            f"expected {m} alternative lines and a voter-count line",
            source=source,
            line=rows[-1][0],
        )
    for number, raw in rows[1 : m + 1]:
        index, _, name = raw.partition(",")
        if not index.strip().isdigit():
            raise DataError(
                f"expected 'number,name', got {raw!r}",
                source=source,
                line=number,
                field="alternative",
            )
        names[int(index)] = name.strip()
    header["NUMBER ALTERNATIVES"] = str(m)
    number, totals = rows[m + 1]
    parts = [p.strip() for p in totals.split(",")]
    if not all(p.isdigit() for p in parts):
        raise DataError(
            f"expected 'voters,total,unique', got {totals!r}",
            source=source,
            line=number,
            field="count",
        )
    header["NUMBER VOTERS"] = parts[0]
    for number, raw in rows[m + 2 :]:
        count, _, order = raw.partition(",")
        data.append((number, _count(count.strip(), source, number), order))
    return header, names, data


def read_preflib(
    path: str,
    *,
    incomplete: str = "subset",
    repeat: bool = False,
    use_names: bool = True,
) -> PreferenceDataset:
    """PrefLib ``.soc``/``.soi``/``.toc``/``.toi`` files (current or legacy layout) as rankings."""
    if incomplete not in ("subset", "top"):
        raise DataError(f"incomplete must be 'subset' or 'top', got {incomplete!r}", source=path)
    header, names, data = _parse(read_text(path), path)
    if not data:
        raise DataError("no orders (expected 'count: order' lines)", source=path)
    declared = header.get("NUMBER ALTERNATIVES", "")
    m = int(declared) if declared.isdigit() else max(names, default=0)
    if not m and data:
        m = max(a for _, _, order in data for g in _parse_order(order, path, 0) for a in g)
    labels = {i: names.get(i, str(i)) if use_names else str(i) for i in range(1, m + 1)}
    seen: dict[str, int] = {}
    for i, label in labels.items():  # two alternatives with one name stay two items
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{i}"
    everyone = list(range(1, m + 1))
    rankings: list[list[str]] = []
    ranks: list[list[int]] = []
    unranked: list[list[str]] = []
    weights: list[float] = []
    record_lines: list[int] = []
    dropped = 0
    dropped_weight = 0.0
    for number, count, order in data:
        groups = _parse_order(order, path, number)
        listed: set[int] = set()
        for group in groups:
            for alt in group:
                if alt not in labels:
                    raise DataError(
                        f"alternative {alt} is not one of 1..{m}",
                        source=path,
                        line=number,
                        field="ranking",
                    )
                if alt in listed:
                    raise DataError(
                        f"ranking repeats alternative {alt} ({labels[alt]!r})",
                        source=path,
                        line=number,
                        field="ranking",
                    )
                listed.add(alt)
        rest = [labels[a] for a in everyone if a not in listed] if incomplete == "top" else []
        if count == 0 or not listed or len(listed) + len(rest) < 2:
            dropped += 1
            dropped_weight += count
            continue
        rankings.append([labels[a] for g in groups for a in g])
        ranks.append([r for r, g in enumerate(groups, start=1) for _ in g])
        unranked.append(rest)
        weights.append(count)
        record_lines.append(number)
    columns: dict[str, Any] = {
        "ranking": pa.array(rankings, pa.list_(pa.string())),
        "ranks": pa.array(ranks, pa.list_(pa.int32())),
    }
    if incomplete == "top":
        columns["unranked"] = pa.array(unranked, pa.list_(pa.string()))
    lines = np.asarray(record_lines, dtype=np.int64)
    if repeat:
        counts = np.asarray(weights)
        if (counts != np.round(counts)).any():
            raise DataError("repeat=True needs whole voter counts", source=path, field="count")
        index = pa.array(np.repeat(np.arange(len(counts)), counts.astype(np.int64)))
        columns = {k: v.take(index) for k, v in columns.items()}
        lines = np.repeat(lines, counts.astype(np.int64))
    else:
        columns["weight"] = pa.array(weights, pa.float64())
    metadata = {
        "dropped": dropped,
        "dropped_weight": dropped_weight,
        "incomplete": incomplete,
        "alternatives": [labels[i] for i in everyone],
        "preflib": {k.lower().replace(" ", "_"): v for k, v in header.items()},
    }
    return dataset(columns, "ranking", source=path, lines=lines, metadata=metadata)


def _sniff(probe: Probe) -> float:
    if probe.suffix in PREFLIB_SUFFIXES:
        return 1.0
    text = probe.text.lstrip()
    if text.startswith("#") and re.search(
        r"^# DATA TYPE:\s*(soc|soi|toc|toi)\s*$", text, re.MULTILINE | re.IGNORECASE
    ):
        return 0.95
    return 0.0


register_reader(
    "preflib",
    sniff=_sniff,
    description="PrefLib .soc/.soi/.toc/.toi orders (current and legacy layouts) as rankings",
    suffixes=PREFLIB_SUFFIXES,
)(read_preflib)
