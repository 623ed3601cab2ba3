"""FastChat ``llm_judge`` judgment files: pairwise (both orders) and single-answer ratings.

**Pairwise** (``fastchat-pair``; ``data/mt_bench/model_judgment/gpt-4_pair.jsonl``), one JSON line
per pair and turn, judged in both orders::

    {"question_id": 81, "model_1": "m1", "model_2": "m2", "g1_winner": "model_1",
     "g2_winner": "tie", "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "...",
     "g1_judgment": "... [[A]]", "g2_user_prompt": "...", "g2_judgment": "... [[C]]",
     "turn": 1, "tstamp": 1717231244.69}

Game 1 shows ``model_1`` as assistant A; game 2 shows ``model_2`` as A.  FastChat has already
mapped *both* winners back to the original order (``model_1``/``model_2``/``tie``/``error``), so
equal winners mean a consistent pair.  Mapping — the judgments layout of
:mod:`prefkit.data.readers._judgments`, **two records per line** (``order`` ``"ab"`` = game 1,
``"ba"`` = game 2): ``a``/``b`` = model_1/model_2; ``winner`` from ``gN_winner`` (an ``error``
game is not a record: it goes to ``metadata["unparsed"]``); ``verdict`` = the position the
judge chose (``"A"``/``"B"``/``"tie"``); ``rationale`` =
``gN_judgment``; ``annotator_id``/``protocol`` = ``judge[0]``/``judge[1]``; ``pair_id`` =
``"question_id/turn/model_1/model_2"``.  ``prompt``, ``a_text`` and ``b_text`` are cut out of
``g1_user_prompt`` (``[User Question]`` … ``[The Start of Assistant A's Answer]`` …) when its
markers are there (turn-1 templates), else left null.

**Single ratings** (``fastchat-single``; ``gpt-4_single.jsonl``, also Arena-Hard v0.1's
``arena-bench`` judgments)::

    {"question_id": "...", "model": "m", "judge": ["gpt-4", "single-v1"], "user_prompt": "...",
     "judgment": "... Rating: [[9]]", "score": 9, "turn": 1}

One **rating** record per line with a score: ``item`` = model, ``scores = {"overall": score}``.
A null score or FastChat's failure marker ``-1`` (a parse failure, never a low score) is not a
record: it goes to ``metadata["unparsed"]`` (``{"id", "item", "line", "rationale"}``);
``rationale`` = judgment; ``text``/``prompt`` cut out of ``user_prompt`` when its markers are
there.  ``judge``, ``turn`` and ``user_prompt`` may be absent.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.readers._common import (
    extra_columns,
    get_field,
    get_text,
    load_records,
    probe_keys,
    where,
)
from prefkit.data.readers._judgments import judgments_dataset
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

PAIR_KEYS = {"model_1", "model_2", "g1_winner", "g2_winner"}
SINGLE_KEYS = {"question_id", "model", "judgment", "score"}
#: FastChat's winner labels, in the original order.
WINNERS = {"model_1": "a", "model_a": "a", "model_2": "b", "model_b": "b", "tie": "tie"}
ERROR_LABELS = {"error", "$ERROR$"}

_QUESTION = re.compile(r"\[(?:User )?Question\]\n(.*?)\n*\[The Start of ", re.DOTALL)


def _answer(prompt: str, who: str) -> str | None:
    start = f"[The Start of {who}'s Answer]\n"
    end = f"\n[The End of {who}'s Answer]"
    i = prompt.find(start)
    if i < 0:
        return None
    j = prompt.find(end, i + len(start))
    return None if j < 0 else prompt[i + len(start) : j].strip("\n")


def _question(prompt: str | None) -> str | None:
    if not prompt:
        return None
    match = _QUESTION.search(prompt)
    return match.group(1).strip("\n") if match else None


def _judge(rec: dict[str, Any], **kw: Any) -> tuple[str | None, str | None]:
    judge = rec.get("judge")
    if judge is None:
        return None, None
    if isinstance(judge, str):
        return judge, None
    if isinstance(judge, list) and judge and all(isinstance(j, str) for j in judge):
        return judge[0], (judge[1] if len(judge) > 1 else None)
    raise DataError(
        "expected a judge name or [name, prompt], got " + type(judge).__name__,
        source=kw["source"],
        field="judge",
        **where(kw["lines"], kw["index"]),
    )


def _sniff_pair(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    if not keys >= PAIR_KEYS:
        return 0.0
    return 1.0 if exact else 0.9


def _sniff_single(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    if not keys >= SINGLE_KEYS or "games" in keys or PAIR_KEYS & keys:
        return 0.0
    return 0.95 if exact else 0.8


def read_fastchat_pair(path: str) -> PreferenceDataset:
    """FastChat pairwise judgments: two records per line (game 1 and game 2)."""
    records, lines = load_records(path, text_columns=("g1_judgment", "g2_judgment"))
    cols: dict[str, list[Any]] = {k: [] for k in (
        "pair_id", "prompt", "a", "b", "a_text", "b_text", "winner", "order", "verdict",
        "rationale", "annotator_id", "protocol", "unparsed_label",
    )}
    rows: list[int] = []
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        m1 = get_text(rec, "model_1", **kw)
        m2 = get_text(rec, "model_2", **kw)
        qid = get_field(rec, "question_id", types=(int, str), expected="an id", **kw)
        turn = get_field(rec, "turn", types=(int,), expected="an integer", required=False, **kw)
        name, protocol = _judge(rec, **kw)
        prompt1 = get_text(rec, "g1_user_prompt", required=False, **kw) or ""
        question = _question(prompt1)
        text_a, text_b = _answer(prompt1, "Assistant A"), _answer(prompt1, "Assistant B")
        pair_id = f"{qid}/{turn if turn is not None else 1}/{m1}/{m2}"
        for game, order in ((1, "ab"), (2, "ba")):
            label = get_text(rec, f"g{game}_winner", **kw)
            if label in ERROR_LABELS:
                winner = None
            elif label in WINNERS:
                winner = WINNERS[label]
            else:
                raise DataError(
                    f"unknown winner {label!r} (expected model_1, model_2, tie or error)",
                    source=path,
                    field=f"g{game}_winner",
                    **where(lines, i),
                )
            if winner is None:
                verdict = None
            elif winner == "tie":
                verdict = "tie"
            else:
                shown_first = "a" if order == "ab" else "b"
                verdict = "A" if winner == shown_first else "B"
            cols["pair_id"].append(pair_id)
            cols["prompt"].append(question)
            cols["a"].append(m1)
            cols["b"].append(m2)
            cols["a_text"].append(text_a)
            cols["b_text"].append(text_b)
            cols["winner"].append(winner)
            cols["order"].append(order)
            cols["verdict"].append(verdict)
            cols["rationale"].append(get_text(rec, f"g{game}_judgment", required=False, **kw))
            cols["annotator_id"].append(name)
            cols["protocol"].append(protocol)
            cols["unparsed_label"].append(label if winner is None else None)
            rows.append(i)
    used = (*PAIR_KEYS, "judge", "g1_judgment", "g2_judgment", "g1_user_prompt",
            "g2_user_prompt")
    take = pa.array(np.asarray(rows, dtype=np.int64))
    extra = {
        k: v.take(take)
        for k, v in extra_columns(records, used, set(cols) | {"template_hash"}).items()
    }
    row_lines = None if lines is None else np.asarray(lines)[np.asarray(rows, dtype=np.int64)]
    return judgments_dataset(cols, extra, source=path, lines=row_lines)


def _score(value: Any, **kw: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(
            f"expected a number, got {type(value).__name__}",
            source=kw["source"],
            field="score",
            **where(kw["lines"], kw["index"]),
        )
    return None if value == -1 else float(value)


def read_fastchat_single(path: str) -> PreferenceDataset:
    """FastChat single-answer ratings (1–10): one rating record per line, null score = unparsed."""
    records, lines = load_records(path, text_columns=("judgment", "user_prompt"))
    n = len(records)
    items: list[str] = []
    scores: list[list[tuple[str, float]] | None] = []
    cols: dict[str, list[Any]] = {k: [] for k in (
        "prompt", "text", "rationale", "annotator_id", "protocol")}
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        items.append(get_text(rec, "model", **kw))
        score = _score(rec.get("score"), **kw)
        scores.append(None if score is None else [("overall", score)])
        prompt = get_text(rec, "user_prompt", required=False, **kw)
        cols["prompt"].append(_question(prompt))
        cols["text"].append(_answer(prompt or "", "Assistant"))
        cols["rationale"].append(get_text(rec, "judgment", required=False, **kw))
        name, protocol = _judge(rec, **kw)
        cols["annotator_id"].append(name)
        cols["protocol"].append(protocol)
    table = pa.table(
        {
            "item": pa.array(items, pa.string()),
            "scores": pa.array(scores, pa.map_(pa.string(), pa.float64())),
            "prompt": pa.array(cols["prompt"], pa.large_string()),
            "text": pa.array(cols["text"], pa.large_string()),
            "rationale": pa.array(cols["rationale"], pa.large_string()),
            "annotator_id": pa.array(cols["annotator_id"], pa.string()),
            "protocol": pa.array(cols["protocol"], pa.string()),
        }
    )
    used = ("model", "score", "judgment", "user_prompt", "judge")
    for name, column in extra_columns(records, used, set(table.column_names)).items():
        table = table.append_column(name, column)
    assert table.num_rows == n
    keep = np.asarray([s is not None for s in scores], dtype=bool)
    unparsed = [
        {
            "id": str(records[i].get("question_id")),
            "item": items[i],
            "line": None if lines is None else int(lines[i]),
            "rationale": cols["rationale"][i],
        }
        for i in np.flatnonzero(~keep)
    ]
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise DataError("no rating with a score", source=path)
    return PreferenceDataset(
        table.take(pa.array(rows)),
        "rating",
        name=path,
        line_numbers=None if lines is None else np.asarray(lines)[rows],
        metadata={"unparsed": unparsed},
    )


register_reader(
    "fastchat-pair",
    sniff=_sniff_pair,
    description="FastChat pairwise judgments (g1/g2 winners, both orders)",
    suffixes=(".jsonl",),
)(read_fastchat_pair)
register_reader(
    "fastchat-single",
    sniff=_sniff_single,
    description="FastChat / Arena-Hard v0.1 single-answer ratings (judgment, score)",
    suffixes=(".jsonl",),
)(read_fastchat_single)
