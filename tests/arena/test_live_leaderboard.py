"""The live leaderboard page in a real Chromium: the style-controlled rank beside the raw one and
the asymmetric (bootstrap) intervals render with the values of a batch fit of the export.

Votes are simulated so that response length sways them: a weak model with long answers
("verbose") is ranked near the top by the raw Bradley–Terry fit and drops once the length
difference is a covariate (LMArena's style control)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from arena_helpers import free_port, new_store

from prefkit.arena.soak import ArenaProcess
from prefkit.data import PreferenceDataset

sync_api = pytest.importorskip("playwright.sync_api")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TRUTH = {"alpha": 1.0, "beta": 0.5, "gamma": 0.0, "verbose": -0.3, "delta": -0.8}
BOOTSTRAP = 100


def simulate(store, n_tasks: int = 100, seed: int = 3) -> None:
    """Tasks with plain-text answers (only their length varies) and two annotators' votes:
    P(a wins) = σ(θ_a − θ_b + 2 (len_a − len_b) / 500)."""
    rng = np.random.default_rng(seed)
    names = list(TRUTH)
    records = []
    for k in range(n_tasks):
        i, j = rng.choice(len(names), 2, replace=False)
        size = [int(rng.integers(40, 300)) * (4 if names[x] == "verbose" else 1) for x in (i, j)]
        records.append({"id": f"t{k}", "prompt": f"question {k}", "a": names[i], "b": names[j],
                        "winner": "a", "a_text": "a" * size[0], "b_text": "b" * size[1]})
    store.add_tasks(PreferenceDataset.from_records(records, name="tasks"))
    for who in ("ann", "bob"):
        ref = store.annotator_for_token(store.add_annotator(who))
        for task_id, rec in enumerate(records, start=1):
            d = (TRUTH[rec["a"]] - TRUTH[rec["b"]]
                 + 2 * (len(rec["a_text"]) - len(rec["b_text"])) / 500)
            store.cast_vote(ref.id, task_id, "a" if rng.random() < 1 / (1 + np.exp(-d)) else "b")


def batch_fit(store) -> tuple[dict, dict]:
    """Raw (bootstrap intervals) and style-controlled leaderboards of the export, with the
    length columns measured here."""
    from prefkit.choice.leaderboard import leaderboard

    records = [{**r, "len_a": len(r["a_text"]), "len_b": len(r["b_text"])}
               for r in store.export_records()]
    data = PreferenceDataset.from_records(records, "pairwise", name="export")
    raw = leaderboard(data, "bt", ties="half", scale="elo", bootstrap=BOOTSTRAP,
                      ci="bootstrap", seed=0)
    style = leaderboard(data, "bt", ties="half", scale="elo", style_control=["len"])
    return {r["name"]: r for r in raw.rows}, {r["name"]: r for r in style.rows}


def test_live_page_shows_style_rank_and_asymmetric_intervals(tmp_path: Path,
                                                             chromium_path: str) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    store = new_store(url)
    simulate(store)
    raw, style = batch_fit(store)
    votes = {name: 0 for name in TRUTH}
    for r in store.export_records():
        votes[r["a"]] += 1
        votes[r["b"]] += 1
    server = ArenaProcess(url, free_port(), tmp_path / "server.log", refit_interval=0.1,
                          extra=["--bootstrap", str(BOOTSTRAP)])
    server.start()
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for _ in range(100):  # the first fit runs in the background after start-up
                page.goto(f"{server.url}/leaderboard")
                if page.locator("#board tbody tr").count():
                    break
                page.wait_for_timeout(100)
            heads = page.locator("#board thead th").all_inner_texts()
            assert heads[:7] == ["rank", "name", "rating", "interval", "lower", "upper", "votes"]
            assert heads[7:] == ["style rank", "style rating"]
            cells = [row.locator("td").all_inner_texts()
                     for row in page.locator("#board tbody tr").all()]
            assert sorted(c[1] for c in cells) == sorted(TRUTH)
            asymmetric = 0
            for rank, name, rating, interval, low, high, n, s_rank, s_rating in cells:
                want, want_style = raw[name], style[name]
                assert int(rank) == want["rank"]
                assert rating == f"{want['rating']:.1f}"
                up, down = want["ci_high"] - want["rating"], want["rating"] - want["ci_low"]
                assert interval == f"+{up:.1f} / −{down:.1f}"
                assert (low, high) == (f"{want['ci_low']:.1f}", f"{want['ci_high']:.1f}")
                assert int(n.replace(",", "")) == votes[name]
                assert int(s_rank) == want_style["rank"]
                assert s_rating == f"{want_style['rating']:.1f}"
                asymmetric += abs(up - down) > 0.5
            assert asymmetric >= 3  # percentile intervals, not ± one standard error
            # style control moves the long-winded model down, and the page says so
            def place(board: dict) -> int:
                return sorted(board, key=lambda n: -board[n]["rating"]).index("verbose")

            assert place(raw) == 0 and place(style) >= 2
            assert "style control on len" in page.locator("#summary").inner_text()
            page.locator("#board th", has_text="style rank").click()
            shown = [int(v) for v in page.locator("#board tbody td:nth-child(8)")
                     .all_inner_texts()]
            assert shown == sorted(shown)
            assert page.locator("#board th[aria-sort=ascending]").inner_text() == "style rank"
            assert page.locator("svg circle").count() >= len(TRUTH)  # the interval plot
            # a new vote: the page swaps in the refitted section by itself and keeps the order
            late = store.annotator_for_token(store.add_annotator("late"))
            store.cast_vote(late.id, 1, "a")
            page.wait_for_function(
                "n => document.getElementById('votes').textContent === String(n)",
                arg=sum(votes.values()) // 2 + 1, timeout=20_000)
            assert page.locator("#board tbody tr").count() == len(TRUTH)
            assert page.locator("#board th[aria-sort=ascending]").inner_text() == "style rank"
            shown = [int(v) for v in page.locator("#board tbody td:nth-child(8)")
                     .all_inner_texts()]
            assert shown == sorted(shown)
            browser.close()
    finally:
        server.stop()
        store.close()
    assert not errors, errors
