"""choix-style JSON: ``{"n_items": n, "data": [...]}`` (or a bare JSON list of observations).

The observation lists that `choix <https://github.com/lucasmaystre/choix>`_ takes, with integer
(or string) item ids:

* pairwise — ``[winner, loser]`` → ``{"a": winner, "b": loser, "winner": "a"}``;
* top-1 — ``[winner, [other, ...]]`` → ``{"ranking": [winner], "unranked": [others]}``;
* rankings — ``[first, second, third, ...]`` → ``{"ranking": [...]}``.

A file of only 2-element observations is pairwise; any longer ranking or a top-1 choice makes
the whole file a ranking dataset (pairs then become 2-item rankings).  Other top-level keys
(``n_items``, ``desc``, reference estimates) go to ``dataset.metadata``.
"""

from __future__ import annotations

import json
from typing import Any

from prefkit.data.io import read_text
from prefkit.data.json_guard import check_json_document
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError


def _sniff(probe: Probe) -> float:
    value = probe.first_json if probe.text.lstrip().startswith("{") else None
    if probe.text.lstrip().startswith("{"):
        try:
            value = json.loads(probe.text)
        except ValueError:
            return 0.0
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        data = value["data"]
        if data and isinstance(data[0], list):
            return 0.9 if "n_items" in value else 0.6
    return 0.0


def _item(value: Any, source: str, index: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DataError(
            f"item ids must be integers or strings, got {json.dumps(value)[:40]}",
            source=source,
            row=index,
            field="data",
        )
    return str(value)


def read_choix_json(path: str) -> PreferenceDataset:
    """choix-style observation lists (pairs, top-1 choices or rankings) in a JSON file."""
    text = read_text(path)
    check_json_document(text.encode("utf-8", "surrogatepass"), path)  # bounded nesting
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON ({err.msg})", source=path, line=err.lineno) from None
    meta: dict[str, Any] = {}
    if isinstance(value, dict):
        if "data" not in value:
            raise DataError("missing key", source=path, field="data")
        meta = {k: v for k, v in value.items() if k != "data"}
        value = value["data"]
    if not isinstance(value, list) or not value:
        raise DataError(
            "'data' must be a non-empty list of observations", source=path, field="data"
        )
    rows: list[dict[str, Any]] = []
    for k, obs in enumerate(value):
        if not isinstance(obs, list) or len(obs) < 2:
            raise DataError(
                "an observation is a list of at least 2 entries", source=path, row=k, field="data"
            )
        if len(obs) == 2 and isinstance(obs[1], list):
            rows.append(
                {
                    "ranking": [_item(obs[0], path, k)],
                    "unranked": [_item(v, path, k) for v in obs[1]],
                }
            )
        else:
            rows.append({"ranking": [_item(v, path, k) for v in obs]})
    pairwise = all("unranked" not in r and len(r["ranking"]) == 2 for r in rows)
    if pairwise:
        records = [{"a": r["ranking"][0], "b": r["ranking"][1], "winner": "a"} for r in rows]
        dataset = PreferenceDataset.from_records(records, "pairwise", name=path)
    else:
        dataset = PreferenceDataset.from_records(rows, "ranking", name=path)
    dataset.metadata.update(meta)
    return dataset


register_reader(
    "choix", sniff=_sniff, description="choix-style JSON observation lists", suffixes=(".json",)
)(read_choix_json)
