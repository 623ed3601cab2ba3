"""TRL preference datasets (the formats of Hugging Face TRL's preference trainers).

Paired preference — DPO/reward-model style — becomes **pairwise** records::

    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}          # standard
    {"chosen": "The sky is blue.", "rejected": "The sky is green."}               # implicit prompt
    {"prompt": [{"role": "user", "content": "The sky is"}],                        # conversational
     "chosen": [{"role": "assistant", "content": "It is blue."}],
     "rejected": [{"role": "assistant", "content": "It is green."}]}

``a_text`` = chosen, ``b_text`` = rejected, ``winner`` = ``"a"``.

Unpaired preference — KTO style — becomes **rating** records::

    {"prompt": "The sky is", "completion": " blue.", "label": true}

``text`` = completion, ``scores`` = ``{"label": 1.0}`` (true) or ``{"label": 0.0}`` (false).

Mapping details
    * Implicit prompt (no ``prompt`` field): the prompt is what chosen and rejected share at the
      start — whole messages for conversations; for text the shared prefix is cut back to a word
      boundary, its trailing whitespace going with the candidates (as TRL's ``extract_prompt``),
      so ``prompt + a_text == chosen`` exactly.  No shared prefix: no prompt.
    * Conversations are rendered as text: one message is its content; several are ``Role:
      content`` blocks separated by a blank line; content given as a list of parts (multimodal)
      keeps its text parts and shows other parts as ``<type>``.  The messages themselves are kept
      as JSON text in ``prompt_messages``, ``a_messages`` and ``b_messages`` (unpaired:
      ``prompt_messages`` and ``messages``).  When chosen/rejected repeat the prompt messages at
      their start (full conversations), those are removed from the candidates.
    * ``label`` is a boolean; ``0``/``1`` and ``"true"``/``"false"`` (CSV) are accepted too.
    * Every other field (``score_chosen``, ``prompt_id`` …) is kept as a covariate column; a
      field named like a canonical column is kept as ``orig_<name>``.

Containers: JSON array or JSON lines, CSV/TSV (message lists as JSON text cells) or Parquet,
compressed or not.  Bad input is a one-line :class:`~prefkit.errors.DataError` naming the line
(record index for Parquet) and the field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.readers._common import (
    get_field,
    load_records,
    preview,
    probe_keys,
    records_dataset,
    type_name,
    where,
)
from prefkit.data.readers._fast_json import fast_extras, fast_table, is_bool
from prefkit.data.readers._text import common_prefix_len as common_prefix_len  # re-export
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset, known_fields
from prefkit.errors import DataError

MESSAGE_FIELDS = ("prompt", "chosen", "rejected", "completion")
TEXT_OR_MESSAGES = (str, list)
_EXPECTED = "a string or a list of messages"
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


# ------------------------------------------------------------------ shared-prefix splitting
def _word_boundary(text: str, i: int) -> bool:
    return i in (0, len(text)) or text[i].isspace() or text[i - 1].isspace()


def split_shared_text(chosen: str, rejected: str) -> int:
    """Where the implicit prompt ends: the shared prefix cut back to a word boundary.

    Trailing whitespace of the prompt goes with the candidates (``" blue."``, not ``"blue."``).
    """
    n = common_prefix_len(chosen, rejected)
    cut = n
    if not (_word_boundary(chosen, n) and _word_boundary(rejected, n)):
        while cut > 0 and not chosen[cut - 1].isspace():  # do not split the diverging word
            cut -= 1
    while cut > 0 and chosen[cut - 1].isspace():
        cut -= 1
    return cut


# ------------------------------------------------------------------ messages
def content_text(content: Any) -> str | None:
    """Text of a message ``content`` (a string or a list of parts); ``None`` if malformed."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type", "text")
                text = part.get("text")
                parts.append(text if isinstance(text, str) else f"<{kind}>")
            else:
                return None
        return "\n".join(parts)
    return None


def check_messages(
    value: list[Any], field: str, *, source: str, lines: np.ndarray | None, index: int
) -> list[dict[str, Any]]:
    """Each element is ``{"role": str, "content": str | parts}``; else a DataError."""
    for j, message in enumerate(value):
        ok = (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and content_text(message.get("content")) is not None
        )
        if not ok:
            raise DataError(
                f"message {j + 1}: expected an object with a 'role' and a text 'content', "
                f"got {type_name(message)} {preview(message)}",
                source=source,
                field=field,
                **where(lines, index),
            )
    return value


def render_messages(messages: Sequence[dict[str, Any]]) -> str:
    """One message: its content; several: ``Role: content`` blocks separated by a blank line."""
    if len(messages) == 1:
        return content_text(messages[0].get("content")) or ""
    return "\n\n".join(
        f"{str(m['role']).capitalize()}: {content_text(m.get('content')) or ''}" for m in messages
    )


def _shared_messages(a: list[Any], b: list[Any]) -> int:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


def _strip_prompt(prompt: str | list[Any], candidates: list[list[Any]]) -> list[list[Any]]:
    """Remove prompt messages repeated at the start of every candidate conversation."""
    if isinstance(prompt, list):
        k = len(prompt)
        if k and all(len(c) > k and c[:k] == prompt for c in candidates):
            return [c[k:] for c in candidates]
        return candidates
    first_user = [
        len(c) > 1 and c[0].get("role") == "user" and content_text(c[0].get("content")) == prompt
        for c in candidates
    ]
    if all(first_user):
        return [c[1:] for c in candidates]
    return candidates


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# ------------------------------------------------------------------ reader
def _sniff(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    score = 0.0
    if {"chosen", "rejected"} <= keys:
        score = 0.9 if "prompt" in keys else 0.6
    elif {"completion", "label"} <= keys:
        score = 0.9 if "prompt" in keys else 0.7
    return score if exact else score / 2


def _paired(
    records: list[dict[str, Any]], lines: np.ndarray | None, path: str
) -> PreferenceDataset:
    n = len(records)
    prompts: list[str | None] = [None] * n
    a_texts: list[str] = [""] * n
    b_texts: list[str] = [""] * n
    p_msgs: list[str | None] = [None] * n
    a_msgs: list[str | None] = [None] * n
    b_msgs: list[str | None] = [None] * n
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        prompt = get_field(
            rec, "prompt", types=TEXT_OR_MESSAGES, expected=_EXPECTED, required=False, **kw
        )
        chosen = get_field(rec, "chosen", types=TEXT_OR_MESSAGES, expected=_EXPECTED, **kw)
        rejected = get_field(rec, "rejected", types=TEXT_OR_MESSAGES, expected=_EXPECTED, **kw)
        if isinstance(prompt, list):
            check_messages(prompt, "prompt", **kw)
        if isinstance(chosen, str) != isinstance(rejected, str):
            raise DataError(
                "'chosen' and 'rejected' must both be text or both be message lists",
                source=path,
                field="rejected",
                **where(lines, i),
            )
        if isinstance(chosen, list):
            check_messages(chosen, "chosen", **kw)
            check_messages(rejected, "rejected", **kw)
            if prompt is None:
                k = _shared_messages(chosen, rejected)
                prompt, chosen, rejected = chosen[:k] or None, chosen[k:], rejected[k:]
            else:
                chosen, rejected = _strip_prompt(prompt, [chosen, rejected])
            a_msgs[i], b_msgs[i] = _json(chosen), _json(rejected)
            a_texts[i], b_texts[i] = render_messages(chosen), render_messages(rejected)
        elif prompt is None:
            cut = split_shared_text(chosen, rejected)
            prompt = chosen[:cut] or None
            a_texts[i], b_texts[i] = chosen[cut:], rejected[cut:]
        else:
            a_texts[i], b_texts[i] = chosen, rejected
        if isinstance(prompt, list):
            p_msgs[i] = _json(prompt)
            prompt = render_messages(prompt)
        prompts[i] = prompt
    columns: dict[str, pa.Array] = {
        "prompt": pa.array(prompts, pa.large_string()),
        "a_text": pa.array(a_texts, pa.large_string()),
        "b_text": pa.array(b_texts, pa.large_string()),
        "winner": pa.array(["a"] * n, pa.string()),
    }
    if any(m is not None for m in a_msgs):
        columns["prompt_messages"] = pa.array(p_msgs, pa.large_string())
        columns["a_messages"] = pa.array(a_msgs, pa.large_string())
        columns["b_messages"] = pa.array(b_msgs, pa.large_string())
    return records_dataset(
        columns, "pairwise", records, ("prompt", "chosen", "rejected"), source=path, lines=lines
    )


def parse_label(
    value: Any, field: str, *, source: str, lines: np.ndarray | None, index: int
) -> float:
    """A KTO-style desirability label as 1.0 / 0.0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return 1.0 if value.strip().lower() in _TRUE else 0.0
    raise DataError(
        f"expected a boolean, got {type_name(value)} {preview(value)}",
        source=source,
        field=field,
        **where(lines, index),
    )


def _unpaired(
    records: list[dict[str, Any]], lines: np.ndarray | None, path: str
) -> PreferenceDataset:
    n = len(records)
    prompts: list[str | None] = [None] * n
    texts: list[str] = [""] * n
    labels = np.zeros(n)
    p_msgs: list[str | None] = [None] * n
    c_msgs: list[str | None] = [None] * n
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        prompt = get_field(
            rec, "prompt", types=TEXT_OR_MESSAGES, expected=_EXPECTED, required=False, **kw
        )
        completion = get_field(rec, "completion", types=TEXT_OR_MESSAGES, expected=_EXPECTED, **kw)
        label = get_field(rec, "label", types=(bool, int, float, str), expected="a boolean", **kw)
        labels[i] = parse_label(label, "label", **kw)
        if isinstance(prompt, list):
            check_messages(prompt, "prompt", **kw)
        if isinstance(completion, list):
            check_messages(completion, "completion", **kw)
            if prompt is not None:
                completion = _strip_prompt(prompt, [completion])[0]
            c_msgs[i] = _json(completion)
            completion = render_messages(completion)
        if isinstance(prompt, list):
            p_msgs[i] = _json(prompt)
            prompt = render_messages(prompt)
        prompts[i], texts[i] = prompt, completion
    columns: dict[str, pa.Array] = {
        "prompt": pa.array(prompts, pa.large_string()),
        "text": pa.array(texts, pa.large_string()),
        "scores": pa.MapArray.from_arrays(
            np.arange(n + 1, dtype=np.int32), pa.array(["label"] * n), pa.array(labels)
        ),
    }
    if any(m is not None for m in c_msgs) or any(m is not None for m in p_msgs):
        columns["prompt_messages"] = pa.array(p_msgs, pa.large_string())
        columns["messages"] = pa.array(c_msgs, pa.large_string())
    return records_dataset(
        columns, "rating", records, ("prompt", "completion", "label"), source=path, lines=lines
    )


# ------------------------------------------------------------------ fast path (large JSON lines)
def _read_fast(path: str) -> PreferenceDataset | None:
    table = fast_table(path, ("prompt", "chosen", "rejected"))
    if table is not None:
        n = table.num_rows
        columns: dict[str, Any] = {
            "prompt": table.column("prompt").cast(pa.large_string()),
            "a_text": table.column("chosen").cast(pa.large_string()),
            "b_text": table.column("rejected").cast(pa.large_string()),
            "winner": pa.array(np.full(n, "a", dtype=object), pa.string()),
        }
        reserved = set(known_fields("pairwise")) | set(columns)
        columns.update(fast_extras(table, ("prompt", "chosen", "rejected"), reserved))
        return PreferenceDataset(pa.table(columns), "pairwise", name=path)
    table = fast_table(path, ("prompt", "completion"), {"label": is_bool})
    if table is not None:
        n = table.num_rows
        labels = table.column("label").to_numpy(zero_copy_only=False).astype(np.float64)
        columns = {
            "prompt": table.column("prompt").cast(pa.large_string()),
            "text": table.column("completion").cast(pa.large_string()),
            "scores": pa.MapArray.from_arrays(
                np.arange(n + 1, dtype=np.int32), pa.array(["label"] * n), pa.array(labels)
            ),
        }
        reserved = set(known_fields("rating")) | set(columns)
        columns.update(fast_extras(table, ("prompt", "completion", "label"), reserved))
        return PreferenceDataset(pa.table(columns), "rating", name=path)
    return None


def read_trl(path: str) -> PreferenceDataset:
    """TRL preference data: prompt/chosen/rejected (pairwise), prompt/completion/label (rating)."""
    fast = _read_fast(path)
    if fast is not None:
        return fast
    records, lines = load_records(path, json_columns=MESSAGE_FIELDS)
    first = records[0]
    if "chosen" in first or "rejected" in first:
        return _paired(records, lines, path)
    if "completion" in first or "label" in first:
        return _unpaired(records, lines, path)
    raise DataError(
        "not a TRL preference record: expected 'chosen' and 'rejected' (paired) or "
        f"'completion' and 'label' (unpaired); found {', '.join(sorted(first)[:8]) or 'no fields'}",
        source=path,
        field="chosen",
        **where(lines, 0),
    )


register_reader(
    "trl",
    sniff=_sniff,
    description="TRL preference data: prompt/chosen/rejected or prompt/completion/label",
    suffixes=(".jsonl", ".json", ".csv", ".parquet"),
)(read_trl)
