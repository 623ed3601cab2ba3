"""``prefkit report``: self-contained, every item named and escaped, provenance, safe writes, and
each section's numbers equal to the library's (leaderboard, model, judge, align, quality)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from report_helpers import HOSTILE, write_battles
from typer.testing import CliRunner

import prefkit
from prefkit import PreferenceDataset
from prefkit.cli.app import app

pytest.importorskip("jinja2")
runner = CliRunner()
LINK_ATTRIBUTES = {"src", "href", "xlink:href", "action", "formaction", "poster", "data",
                   "background", "srcset"}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.links += [v or "" for k, v in attrs if k.lower() in LINK_ATTRIBUTES]


def report(*args: str) -> None:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def battles(tmp_path_factory) -> tuple[Path, list[str], str]:
    tmp = tmp_path_factory.mktemp("battles")
    data = tmp / "battles.jsonl"
    names = write_battles(data, n=600)
    out = tmp / "report.html"
    report(str(data), "--out", str(out), "--bootstrap", "20", "--seed", "7")
    return data, names, out.read_text(encoding="utf-8")


def test_fixed_contract_self_contained_every_item_named_hostile_name_escaped(battles):
    _, names, html = battles
    parser = Links()
    parser.feed(html)
    assert all(v.startswith(("#", "data:")) for v in parser.links)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert parser.scripts == 1  # the table sorter; the hostile name is not a script
    assert HOSTILE not in html and escape(HOSTILE) in html
    for name in names:
        assert f'<td class="name">{escape(name)}</td>' in html


def test_provenance_names_data_hash_seed_and_version(battles):
    data, _, html = battles
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert f"<code>{digest}</code>" in html
    assert "<dt>seed</dt><dd><code>7</code>" in html
    assert f"<dt>prefkit</dt><dd><code>{prefkit.__version__}</code>" in html


def test_writes_atomically_and_refuses_a_foreign_file(tmp_path, battles):
    data = battles[0]
    foreign = tmp_path / "mine.html"
    foreign.write_text("<p>my page</p>")
    result = runner.invoke(app, ["report", str(data), "--out", str(foreign)])
    assert result.exit_code == 2 and "--force" in result.output
    assert foreign.read_text() == "<p>my page</p>"
    report(str(data), "--out", str(foreign), "--bootstrap", "0", "--force")
    assert foreign.read_text().startswith("<!DOCTYPE html>")
    report(str(data), "--out", str(foreign), "--bootstrap", "0")  # prefkit's own: replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.html"]  # no temporaries
    bad = runner.invoke(app, ["report", str(tmp_path / "missing.jsonl"), "--out",
                              str(tmp_path / "r.html")])
    assert bad.exit_code == 2 and "missing.jsonl" in bad.output
    assert not (tmp_path / "r.html").exists()


def test_leaderboard_summary_counts_and_win_fractions_by_hand():
    from prefkit.choice.leaderboard import leaderboard
    from prefkit.report.leaderboard import leaderboard_summary

    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": w} for w in ("a", "a", "a", "b", "tie")]
        + [{"a": "z", "b": "x", "winner": "b"}, {"a": "y", "b": "z", "winner": "a"}])
    board = leaderboard(ds, bootstrap=0)
    s = leaderboard_summary(board, ds)
    order = s["heatmap_items"]
    x, y, z = (order.index(k) for k in "xyz")
    assert s["win_fraction"][x][y] == pytest.approx(3.5 / 5)
    assert s["win_fraction"][y][x] == pytest.approx(1.5 / 5)
    assert s["win_fraction"][x][z] == 1.0 and s["win_fraction"][z][y] == 0.0
    assert s["battles"][x][y] == 5 and s["battles"][x][x] is None
    assert {r["name"]: r["votes"] for r in s["rows"]} == {"x": 6, "y": 6, "z": 2}
    assert [(r["name"], r["rank"], r["rating"]) for r in s["rows"]] == [
        (r["name"], r["rank"], r["rating"]) for r in board.rows]


def test_saved_leaderboard_directory(tmp_path, battles):
    from prefkit.choice.leaderboard import leaderboard

    data, names, _ = battles
    board_dir = tmp_path / "board"
    leaderboard(prefkit.read(str(data)), bootstrap=0).write(board_dir, plots=False)
    out = tmp_path / "saved.html"
    report(str(board_dir), "--out", str(out))
    html = out.read_text()
    saved = json.loads((board_dir / "leaderboard.json").read_text())
    assert html.count("<tr>\n<td data-sort=") == len(names) == len(saved["items"])
    first = saved["items"][0]
    assert f'{first["rating"]:.2f}' in html


def test_model_on_test_data_matches_evaluate(tmp_path, battles):
    from prefkit.choice import BradleyTerry
    from prefkit.evaluate import evaluate

    data = battles[0]
    ds = prefkit.read(str(data))
    groups = np.array(["chat", "code"] * (len(ds) // 2))
    test = tmp_path / "test.jsonl"
    ds.with_column("subset", groups).write(str(test))
    model_dir = tmp_path / "bt"
    prefkit.save(BradleyTerry().fit(ds), model_dir)
    out = tmp_path / "model.html"
    report(str(model_dir), str(test), "--out", str(out))
    html = out.read_text()
    metrics = evaluate(prefkit.load(model_dir), prefkit.read(str(test)), groups="subset")
    assert f"<td>{metrics['accuracy']:.4f}</td>" in html
    for name, row in metrics["per_group"]["subset"].items():
        assert f'<td class="name">{name}</td>' in html
        assert f">{row['accuracy']:.4f}</td>" in html
    assert "reliability (ECE" in html and "Model: bt on test.jsonl" in html


def test_rewardbench_sections_and_mixture_weights(tmp_path):
    from prefkit.data.simulate import simulate_users
    from prefkit.plural.mixture import BradleyTerryMixture
    from prefkit.report.model import render_model_section
    from prefkit.reward.rewardbench import rewardbench_v1

    class Scorer:  # a scalar reward model: reward = the length of the response
        def reward(self, ds):
            return np.stack([[len(t) for t in ds.column(c)] for c in ("a", "b")], 1) * 1.0

        def predict_proba(self, ds):
            r = self.reward(ds)
            return 1 / (1 + np.exp(-(r[:, 0] - r[:, 1])))

    records = [{"a": "long answer", "b": "no", "winner": "a", "subset": "alpacaeval-easy"},
               {"a": "ok", "b": "longer one", "winner": "a", "subset": "math-prm"},
               {"a": "a very long one", "b": "x", "winner": "a", "subset": "math-prm"}]
    ds = PreferenceDataset.from_records(records)
    html = render_model_section(Scorer(), ds, rewardbench=True)
    # by hand: Chat (alpacaeval-easy) 1/1, Reasoning (math-prm) 1/2; score (2·1 + 2·½)/4
    assert rewardbench_v1(Scorer(), ds)["score"] == pytest.approx(0.75)
    assert "0.7500</span>" in html and ">Reasoning</td>" in html and ">Chat</td>" in html
    sim = simulate_users(n_items=6, n_users=12, comparisons_per_user=15, seed=1)
    mixture = BradleyTerryMixture(n_components=2, seed=0).fit(sim.dataset)
    html = render_model_section(mixture, sim.dataset, plural=True)
    for w in mixture.weights_:
        assert f"{w:.4f}" in html
    assert "Worst user_id" in html and "Accuracy per user_id" in html


def test_judge_panel_matches_analyze(tmp_path):
    from helpers.judge_helpers import fastchat_pair
    from prefkit.judge.analysis import analyze

    path = tmp_path / "gpt-4_pair.jsonl"
    verdicts = ["model_1", "model_2", "tie"]
    with open(path, "w") as fh:
        for q in range(12):
            fh.write(json.dumps(fastchat_pair(q, verdicts[q % 3], verdicts[q * 2 % 3])) + "\n")
    out = tmp_path / "judge.html"
    report(str(path), "--out", str(out), "--bootstrap", "30")
    html = out.read_text()
    a = analyze(prefkit.read(str(path)), bootstrap=30, seed=0)
    assert f">{a['position_consistency']:.3f}</td>" in html
    assert f">{a['first_position_win_rate']:.3f}</td>" in html
    assert "Judge: gpt-4_pair.jsonl" in html and "judge bias and agreement" in html


def test_align_run_and_quality_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    history = [{"step": s, "loss": 0.7 - 0.01 * s, "reward_accuracy": 0.5 + 0.01 * s,
                "reward_margin": 0.02 * s, "logps_chosen": -40.0, "logps_rejected": -41.0 - s}
               for s in range(1, 21)]
    (run / "align_config.json").write_text(json.dumps(
        {"config": {"loss": "dpo", "beta": 0.1, "seed": 5}, "base": "tiny", "step": 20,
         "history": history}))
    quality = tmp_path / "q"
    quality.mkdir()
    (quality / "quality.json").write_text(json.dumps({
        "records": 90, "kind": "pairwise", "source": "votes.jsonl",
        "annotators": {"model": "crowd-bt", "annotators": {
            "ann<b>0</b>": {"reliability": 0.91, "interval": [0.8, 0.97], "n": 30},
            "ann1": {"reliability": 0.27, "interval": [0.1, 0.4], "n": 30}}},
        "drivers": {"skipped": "no texts"}, "notes": ["a note"],
        "figures": ["reliability.png", "../secret.png"]}))
    from PIL import Image

    Image.new("RGB", (4, 3), (200, 30, 30)).save(quality / "reliability.png")
    Image.new("RGB", (4, 3)).save(tmp_path / "secret.png")
    out = tmp_path / "runs.html"
    report(str(run), str(quality), "--out", str(out))
    html = out.read_text()
    assert "training loss" in html and "implicit-reward accuracy" in html
    assert "This run logged no KL" in html and f"{history[-1]['loss']:.4f}" in html
    assert "<dt>seed</dt><dd><code>5</code>" in html
    assert escape("ann<b>0</b>") in html and "<b>0</b>" not in html
    assert "0.910" in html and "drivers: skipped — no texts" in html
    png = base64.b64encode((quality / "reliability.png").read_bytes()).decode()
    assert f'src="data:image/png;base64,{png}"' in html and html.count("data:image/png") == 1
    for rec in history:
        rec["kl"] = 0.01 * rec["step"]
    (run / "align_config.json").write_text(json.dumps({"config": {}, "history": history}))
    report(str(run), "--out", str(out))
    assert "KL to the reference" in out.read_text()
