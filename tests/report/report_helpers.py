"""Shared inputs of the report tests: simulated battles with a hostile item name and style
columns, and a browser page that records console errors and dialogs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

HOSTILE = "<script>alert(1)</script>"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def write_battles(path: Path, *, n_items: int = 7, n: int = 1200, seed: int = 0) -> list[str]:
    """Bradley–Terry battles among items with known strengths (item 0 named :data:`HOSTILE`),
    with ``len_a``/``len_b`` style columns; returns the item names, strongest first."""
    rng = np.random.default_rng(seed)
    names = [HOSTILE] + [f"model-{k}" for k in range(1, n_items)]
    theta = np.linspace(1.5, -1.5, n_items)
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    win = rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))
    with open(path, "w", encoding="utf-8") as fh:
        for i, j, w in zip(a, b, win, strict=True):
            fh.write(json.dumps({"a": names[i], "b": names[j], "winner": "a" if w else "b",
                                 "len_a": int(rng.integers(20, 400)),
                                 "len_b": int(rng.integers(20, 400))}) + "\n")
    return names


@contextmanager
def browser_page(chromium_path: str) -> Iterator[tuple[Any, list[str]]]:
    """A headless Chromium page and the list its console errors / dialogs are appended to."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            yield page, problems
        finally:
            browser.close()
