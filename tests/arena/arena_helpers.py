"""Helpers of the arena tests (simulated tasks, a migrated store, a free port)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefkit.arena.soak import ArenaProcess
from prefkit.arena.store import ArenaStore
from prefkit.data import PreferenceDataset

#: true strengths of the simulated models (BT logits)
TRUTH = {"alpha": 1.2, "beta": 0.6, "gamma": 0.0, "delta": -0.6, "eps<script>": -1.2}
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=alert(1)>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def task_records(n: int, seed: int = 0, texts: bool = True) -> list[dict]:
    """``n`` pairwise records over :data:`TRUTH`'s models (outcomes: ignored by the arena)."""
    rng = np.random.default_rng(seed)
    names = list(TRUTH)
    out = []
    for k in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        rec = {"id": f"t{k}", "a": names[i], "b": names[j], "winner": "a",
               "prompt": f"prompt {k}: {HOSTILE}" if k == 0 else f"prompt {k}"}
        if texts:
            rec["a_text"] = f"answer of {names[i]} to {k}"
            rec["b_text"] = f"answer of {names[j]} to {k}"
        out.append(rec)
    return out


def tasks_dataset(n: int, seed: int = 0) -> PreferenceDataset:
    return PreferenceDataset.from_records(task_records(n, seed), name="tasks")


def new_store(url: str) -> ArenaStore:
    store = ArenaStore(url, require_schema=False)
    store.migrate()
    return store


@dataclass
class Arena:
    url: str
    store_url: str
    store: ArenaStore
    tokens: dict[str, str]
    process: ArenaProcess
    log: Path


