"""Arena-Hard-Auto pairwise judgment files (``data/<bench>/model_judgment/<judge>/<model>.jsonl``).

One JSON line per question for one model against the baseline, judged in two orders::

    {"question_id": "q1", "model": "m", "judge": "gpt-4-1106-preview",
     "games": [{"user_prompt": "...", "judgment": "... [[B>A]]", "score": "B>A"},
               {"user_prompt": "...", "judgment": "... [[A>>B]]", "score": "A>>B"}]}

(v2 files name the question ``uid`` and add ``category``.)  Game 1 shows the **baseline** as
assistant A and the model as B; game 2 swaps them.  Mapping — the judgments layout of
:mod:`prefkit.data.readers._judgments`, two records per line: ``a`` = the baseline (``baseline``
option; default ``"gpt-4-0314"``, Arena-Hard v0.1's; a record's own ``baseline`` field wins),
``b`` = ``model``, ``order`` ``"ab"`` for game 1 and ``"ba"`` for game 2; ``verdict`` = the
game's ``score`` in canonical form (``A>>B``, ``A>B``, ``A=B``, ``B>A``, ``B>>A``; ``B<A`` is read
as ``A>B``); ``winner`` = the side the verdict favours, in the original frame (``A=B`` → tie);
``rationale`` = ``judgment``; ``annotator_id`` = ``judge``; ``protocol`` = ``"arena-hard"``;
``pair_id`` = ``"question_id/model"``.  A game whose ``score`` is null or not a verdict (or a null
game) is not a record: it goes to ``metadata["unparsed"]``.  How strong verdicts count is the
business of :mod:`prefkit.judge.arena_hard`, not of the reader.
"""

from __future__ import annotations

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

DEFAULT_BASELINE = "gpt-4-0314"
_LABEL = re.compile(r"\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*", re.IGNORECASE)


def canonical_label(value: Any) -> str | None:
    """``"B<A"`` → ``"A>B"``; ``None`` when ``value`` is not an Arena-Hard verdict."""
    match = _LABEL.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    left, op, right = match.group(1).upper(), match.group(2), match.group(3).upper()
    if left == right:
        return None
    if op == "=":
        return "A=B"
    if op in ("<", "<<"):
        left, right, op = right, left, op.replace("<", ">")
    return f"{left}{op}{right}"


def _sniff(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    if not ({"games", "model"} <= keys and keys & {"question_id", "uid"}):
        return 0.0
    return 1.0 if exact else 0.9


def read_arena_hard(path: str, baseline: str | None = None) -> PreferenceDataset:
    """Arena-Hard pairwise judgments: two records per line (baseline first, then swapped)."""
    records, lines = load_records(path)
    names = ("pair_id", "prompt", "a", "b", "winner", "order", "verdict", "rationale",
             "annotator_id", "protocol", "unparsed_label")
    cols: dict[str, list[Any]] = {k: [] for k in names}
    rows: list[int] = []
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        key = "uid" if "uid" in rec and "question_id" not in rec else "question_id"
        qid = get_field(rec, key, types=(int, str), expected="an id", **kw)
        model = get_text(rec, "model", **kw)
        base = get_text(rec, "baseline", required=False, **kw) or baseline or DEFAULT_BASELINE
        judge = get_field(rec, "judge", required=False, **kw)
        games = rec.get("games")
        if not isinstance(games, list) or not 1 <= len(games) <= 2:
            raise DataError(
                "expected a list of one or two games", source=path, field="games", **where(lines, i)
            )
        for g, game in enumerate(games):
            order = "ab" if g == 0 else "ba"
            if game is not None and not isinstance(game, dict):
                raise DataError(
                    f"expected a game object, got {type(game).__name__}",
                    source=path, field=f"games[{g}]", **where(lines, i),
                )
            raw = None if game is None else game.get("score")
            verdict = canonical_label(raw)
            if verdict is None:
                winner = None
            elif verdict == "A=B":
                winner = "tie"
            else:
                first_wins = verdict.startswith("A")
                winner = ("a" if first_wins else "b") if order == "ab" else (
                    "b" if first_wins else "a")
            judgment = None if game is None else game.get("judgment")
            cols["pair_id"].append(f"{qid}/{model}")
            cols["prompt"].append(None)
            cols["a"].append(base)
            cols["b"].append(model)
            cols["winner"].append(winner)
            cols["order"].append(order)
            cols["verdict"].append(verdict)
            cols["rationale"].append(judgment if isinstance(judgment, str) else None)
            cols["annotator_id"].append(judge)
            cols["protocol"].append("arena-hard")
            cols["unparsed_label"].append(
                None if verdict is not None else ("null" if raw is None else str(raw))
            )
            rows.append(i)
    take = pa.array(np.asarray(rows, dtype=np.int64))
    used = ("games", "model", "judge", "baseline")
    extra = {
        k: v.take(take)
        for k, v in extra_columns(records, used, set(names) | {"template_hash"}).items()
    }
    row_lines = None if lines is None else np.asarray(lines)[np.asarray(rows, dtype=np.int64)]
    return judgments_dataset(cols, extra, source=path, lines=row_lines)


register_reader(
    "arena-hard",
    sniff=_sniff,
    description="Arena-Hard-Auto pairwise judgments (two games per question)",
    suffixes=(".jsonl",),
)(read_arena_hard)
