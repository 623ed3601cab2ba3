"""Anthropic HH-RLHF transcripts: ``chosen`` / ``rejected`` dialogues as plain text.

Each record holds two versions of one conversation that differ in the last assistant turn::

    {"chosen":   "\\n\\nHuman: Hi, what is 2+2?\\n\\nAssistant: It is 4.",
     "rejected": "\\n\\nHuman: Hi, what is 2+2?\\n\\nAssistant: Go away."}

Mapping (one **pairwise** record each):
    * ``prompt`` = the shared conversation up to and including the last ``Assistant:`` marker both
      transcripts share (leading whitespace removed): ``"Human: Hi, what is 2+2?\\n\\nAssistant:"``;
    * ``a_text`` / ``b_text`` = the rest of chosen / rejected, surrounding whitespace removed
      (usually the final assistant turn; more turns where the dialogues diverge earlier);
    * ``winner`` = ``"a"`` (chosen).

So ``prompt + " " + a_text`` gives back the chosen transcript up to whitespace.  A marker is
``Assistant:`` at the start of the text or after a newline.  Other fields are kept as covariate
columns (``orig_<name>`` when named like a canonical column).  JSON lines (the released
``*.jsonl.gz``), JSON array, CSV or Parquet; any compression.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.readers._common import get_field, load_records, probe_keys, records_dataset, where
from prefkit.data.readers._fast_json import fast_extras, fast_table
from prefkit.data.readers._text import common_prefix_len
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset, known_fields
from prefkit.errors import DataError

MARKER = "Assistant:"
_TURN = "\n\nAssistant:"


def last_marker(text: str, end: int) -> int:
    """Start of the last ``Assistant:`` (at the start or after a newline) in ``text[:end]``."""
    pos = text.rfind(MARKER, 0, end)
    while pos > 0 and text[pos - 1] != "\n":
        pos = text.rfind(MARKER, 0, pos)
    return pos


def split_transcripts(chosen: str, rejected: str) -> int | None:
    """Offset just after the last shared ``Assistant:`` marker; ``None`` if there is none."""
    pos = chosen.rfind(_TURN)
    if pos >= 0 and rejected.startswith(chosen[: pos + len(_TURN)]):  # the common case
        return pos + len(_TURN)
    pos = last_marker(chosen, common_prefix_len(chosen, rejected))
    return None if pos < 0 else pos + len(MARKER)


def _sniff(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    if not {"chosen", "rejected"} <= keys or "prompt" in keys:
        return 0.0
    first = probe.first_json if exact else None
    if isinstance(first, dict):
        chosen = first.get("chosen")
        if isinstance(chosen, str) and "Human:" in chosen and MARKER in chosen:
            return 0.95
        return 0.0
    text = probe.text  # CSV, or a first record too long for the probe
    return 0.7 if "Human:" in text and MARKER in text else 0.0


def _split_all(chosen: list[str], rejected: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Prompts and candidates; raises ``ValueError`` at the first pair with no shared turn."""
    prompts, a_texts, b_texts = [], [], []
    for c, r in zip(chosen, rejected, strict=True):
        cut = split_transcripts(c, r)
        if cut is None:
            raise ValueError
        prompts.append(c[:cut].lstrip())
        a_texts.append(c[cut:].strip())
        b_texts.append(r[cut:].strip())
    return prompts, a_texts, b_texts


def _read_fast(path: str) -> PreferenceDataset | None:
    table = fast_table(path, ("chosen", "rejected"))
    if table is None:
        return None
    try:
        prompts, a_texts, b_texts = _split_all(
            table.column("chosen").to_pylist(), table.column("rejected").to_pylist()
        )
    except ValueError:
        return None  # the record-by-record path names the line
    columns = _columns(prompts, a_texts, b_texts)
    columns.update(fast_extras(table, ("chosen", "rejected"), _reserved(columns)))
    return PreferenceDataset(pa.table(columns), "pairwise", name=path)


def _columns(prompts: list[str], a_texts: list[str], b_texts: list[str]) -> dict[str, Any]:
    return {
        "prompt": pa.array(prompts, pa.large_string()),
        "a_text": pa.array(a_texts, pa.large_string()),
        "b_text": pa.array(b_texts, pa.large_string()),
        "winner": pa.array(np.full(len(prompts), "a", dtype=object), pa.string()),
    }


def _reserved(columns: dict[str, Any]) -> set[str]:
    return set(known_fields("pairwise")) | set(columns)


def read_hh_rlhf(path: str) -> PreferenceDataset:
    """Anthropic HH-RLHF: chosen/rejected transcripts → prompt + final assistant turns."""
    fast = _read_fast(path)
    if fast is not None:
        return fast
    records, lines = load_records(path, text_columns=("chosen", "rejected"))
    n = len(records)
    prompts: list[str] = [""] * n
    a_texts: list[str] = [""] * n
    b_texts: list[str] = [""] * n
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        chosen = get_field(rec, "chosen", expected="a transcript string", **kw)
        rejected = get_field(rec, "rejected", expected="a transcript string", **kw)
        cut = split_transcripts(chosen, rejected)
        if cut is None:
            raise DataError(
                "no 'Assistant:' turn shared by chosen and rejected to split the prompt at",
                source=path,
                field="chosen",
                **where(lines, i),
            )
        prompts[i] = chosen[:cut].lstrip()
        a_texts[i] = chosen[cut:].strip()
        b_texts[i] = rejected[cut:].strip()
    columns = _columns(prompts, a_texts, b_texts)
    used = ("chosen", "rejected")
    return records_dataset(columns, "pairwise", records, used, source=path, lines=lines)


register_reader(
    "hh-rlhf",
    sniff=_sniff,
    description="Anthropic HH-RLHF chosen/rejected transcripts",
    suffixes=(".jsonl", ".json"),
)(read_hh_rlhf)
