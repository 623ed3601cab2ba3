"""PandaLM's released GPT verdicts on its test set (``data/gpt-3.5-turbo-testset-v1.json``).

A JSON array, one object per test-set record (same ``idx`` as ``testset-v1.json``)::

    {"idx": 0, "gpt_result": "1", "gpt_reason": "Response 1 is better because ...",
     "gpt_reference": "..."}

Mapping — the judgments layout of :mod:`prefkit.data.readers._judgments`, one record per line
(one order only: response1 shown first, ``order="ab"``): ``pair_id`` = ``idx`` (joins the human
labels of the PandaLM test set, whose ``pair_id`` is also ``idx``); ``a``/``b`` = the placeholders
``"response1"``/``"response2"`` (the file names no models; ``prefkit judge analyze --human`` takes
texts and names from the test set); ``gpt_result`` ``"1"`` → ``winner="a"``, ``"2"`` → ``"b"``,
``"Tie"`` → ``"tie"``; the raw result is kept as ``verdict``; ``rationale`` = ``gpt_reason``;
``annotator_id`` = ``judge`` option (default ``"gpt-3.5-turbo"``); ``protocol`` = ``"pandalm"``.
Any other result (``"garbage"``: 25 in the release) is not a record: it goes to
``metadata["unparsed"]``.
``gpt_reference`` is kept as a column.
"""

from __future__ import annotations

from typing import Any

from prefkit.data.readers._common import extra_columns, get_field, load_records, probe_keys
from prefkit.data.readers._judgments import judgments_dataset
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset

RESULTS = {"1": "a", "2": "b", "tie": "tie"}


def _sniff(probe: Probe) -> float:
    keys, exact = probe_keys(probe)
    if not {"idx", "gpt_result"} <= keys:
        return 0.0
    return 1.0 if exact else 0.9


def read_pandalm_gpt(path: str, judge: str = "gpt-3.5-turbo") -> PreferenceDataset:
    """PandaLM GPT verdicts: '1', '2', 'Tie' (anything else unparsed)."""
    records, lines = load_records(path, text_columns=("gpt_result", "gpt_reason", "idx"))
    names = ("pair_id", "a", "b", "winner", "order", "verdict", "rationale", "annotator_id",
             "protocol", "unparsed_label")
    cols: dict[str, list[Any]] = {k: [] for k in names}
    for i, rec in enumerate(records):
        kw = {"source": path, "lines": lines, "index": i}
        idx = get_field(rec, "idx", types=(int, str), expected="an id", **kw)
        result = get_field(rec, "gpt_result", types=(str, int), expected="a verdict", **kw)
        winner = RESULTS.get(str(result).strip().lower())
        reason = rec.get("gpt_reason")
        cols["pair_id"].append(str(idx))
        cols["a"].append("response1")
        cols["b"].append("response2")
        cols["winner"].append(winner)
        cols["order"].append("ab")
        cols["verdict"].append(None if winner is None else str(result))
        cols["rationale"].append(reason if isinstance(reason, str) else None)
        cols["annotator_id"].append(judge)
        cols["protocol"].append("pandalm")
        cols["unparsed_label"].append(None if winner is not None else str(result))
    extra = extra_columns(records, ("idx", "gpt_result", "gpt_reason"), set(names))
    return judgments_dataset(cols, extra, source=path, lines=lines)


register_reader(
    "pandalm-gpt",
    sniff=_sniff,
    description="PandaLM's GPT verdicts on its test set (gpt_result 1 / 2 / Tie)",
    suffixes=(".json", ".jsonl"),
)(read_pandalm_gpt)
