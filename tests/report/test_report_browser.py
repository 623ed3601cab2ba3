"""``prefkit report`` in headless Chromium: rows, no console errors, sorting, a real picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from report_helpers import HOSTILE, browser_page, write_battles
from typer.testing import CliRunner

from prefkit.cli.app import app

pytest.importorskip("playwright")
pytest.importorskip("jinja2")
runner = CliRunner()


def test_report_renders_sorts_and_escapes_in_chromium(tmp_path, chromium_path):
    data = tmp_path / "battles.jsonl"
    names = write_battles(data)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(data), "--out", str(out), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    with browser_page(chromium_path) as (page, problems):
        page.goto(out.as_uri())
        rows = page.locator("table#leaderboard tbody tr")
        assert rows.count() == len(names)
        shown = rows.locator("td.name").all_inner_texts()
        assert sorted(shown) == sorted(names)  # the hostile name is text, not a script
        assert page.evaluate("document.querySelectorAll('script').length") == 1
        # the strongest simulated item (θ spaced 0.5 apart) has rank 1; the weakest is last
        ranks = [int(t) for t in rows.locator("td:nth-child(1)").all_inner_texts()]
        assert ranks[shown.index(HOSTILE)] == 1 and shown[-1] == names[-1]
        # style control beside the raw rank (the data have len_a / len_b)
        assert page.locator("table#leaderboard th", has_text="style rank").count() == 1

        def column(index: int) -> list[float]:
            texts = page.locator(f"table#leaderboard tbody tr td:nth-child({index})")
            return [float(t) for t in texts.all_inner_texts()]

        header = page.locator("table#leaderboard thead th", has_text="rating").first
        header.click()
        ascending = column(3)
        assert ascending == sorted(ascending)
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert column(3) == sorted(ascending, reverse=True)
        page.locator("table#leaderboard thead th", has_text="votes").click()
        votes = column(7)
        assert votes == sorted(votes) and sum(votes) == 2 * 1200
        png = page.screenshot(full_page=True)
        assert not problems, problems
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert pixels.std() > 10  # not blank: text, bars and heat maps
    assert (pixels < 100).mean() > 0.005
