"""``prefkit report`` on the JSON of every ``prefkit quality`` command: each key the command emits
(the sandwich ``covariance`` of ``drivers --method bayes``, the flip judge's ``features``, the
WIMHF features, held-out repair accuracy, leaks …) is on the page with the command's own
numbers, every text from the data escaped; and the page in headless Chromium."""

from __future__ import annotations

import json
import zlib
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_helpers import browser_page
from typer.testing import CliRunner

import prefkit
from prefkit.cli.app import app
from prefkit.quality import simulate_annotators
from prefkit.quality.repair_eval import heldout_repair_accuracy
from prefkit.quality.report import write_report
from prefkit.quality.rm_flips import pair_features_of
from prefkit.report.html import num
from prefkit.report.quality import FEATURE_SETS, quality_document

pytest.importorskip("jinja2")
pytest.importorskip("datasketch")
runner = CliRunner()
HOSTILE_PROMPT = "<script>alert('prompt')</script>"
HOSTILE_ANNOTATOR = "<img src=x onerror=alert(2)>"
WORDS = ["clear", "correct", "detailed", "polite", "vague", "wrong", "rude", "short", "table",
         "list", "code", "example", "source", "step", "summary", "answer"]


class HashEncoder:
    """Stand-in for MiniLM: words hashed into 16 counts (deterministic, no download)."""

    id, dim = "hash-words-16", 16

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in str(text).split():
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out


class Tables(HTMLParser):
    """Every ``<table>`` of the page: ``{class: [rows of cell texts]}`` (first of each class per
    section), and the ``data-*`` attributes of spans."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, list[list[str]]]] = []
        self.attrs: list[dict[str, str]] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append({})
        elif tag == "table":
            self._table = []
            self.sections[-1].setdefault(a.get("class", "").replace("sortable ", ""), self._table)
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "span" and any(k.startswith("data-") for k in a):
            self.attrs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _votes(path: Path) -> None:
    """Three annotators (η 0.9, 0.85, 0.25; one named like an HTML tag) label 60 comparisons of 6
    items whose answers grow longer and better with strength; one prompt is hostile HTML."""
    sim = simulate_annotators(n_items=6, n_comparisons=60, eta=(0.9, 0.85, 0.25), seed=3)
    rank = {f"i{k}": int(r) for k, r in enumerate(np.argsort(np.argsort(sim.theta)))}

    def text(item: str, pair: str) -> str:
        r = rank[item]
        return " ".join(WORDS[(r * 3 + k + len(pair)) % len(WORDS)] for k in range(3 + 4 * r))

    with open(path, "w", encoding="utf-8") as fh:
        for rec in sim.dataset.to_pandas().to_dict("records"):
            pair = rec["pair_id"]
            rec = {**rec, "prompt": HOSTILE_PROMPT if pair == "c0" else f"question {pair}",
                   "a_text": text(rec["a"], pair), "b_text": text(rec["b"], pair),
                   "annotator_id": {"ann2": HOSTILE_ANNOTATOR}.get(rec["annotator_id"],
                                                                    rec["annotator_id"])}
            fh.write(json.dumps(rec) + "\n")


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> dict[str, Any]:
    """The JSON of every quality command on one file, and one report of them all."""
    tmp = tmp_path_factory.mktemp("quality")
    votes = tmp / "votes.jsonl"
    _votes(votes)
    docs: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("prefkit.reward.model.default_encoder", HashEncoder)
        mp.setattr("prefkit.encode.default_encoder", HashEncoder)
        commands = {
            "annotators": ["annotators", "--model", "dawid-skene"],
            "drivers": ["drivers", "--method", "bayes"],
            "flips": ["flips", "--method", "rm", "--members", "2", "--folds", "2",
                      "--features", "style+items"],
            "duplicates": ["duplicates", "--against", str(votes)],
            "next": ["next", "--n", "5"],
        }
        for name, args in commands.items():
            docs[name] = json.loads(_cli("quality", args[0], str(votes), *args[1:], "--json"))
        _cli("quality", "wimhf", str(votes), "--out", str(tmp / "wimhf"), "--features", "8",
             "--k", "2", "--epochs", "30")
        # what --heldout-splits adds to the flips JSON (the library call, with short training)
        dataset = prefkit.read(str(votes))
        docs["flips"]["heldout_repair"] = heldout_repair_accuracy(
            dataset, features=pair_features_of(dataset, extras="style+items"), splits=1,
            members=1, epochs=60)
    for name in commands:
        (tmp / f"{name}.json").write_text(json.dumps(docs[name]), encoding="utf-8")
    docs["wimhf"] = json.loads((tmp / "wimhf" / "wimhf.json").read_text(encoding="utf-8"))
    # quality report's layout (its writer), parts taken from the commands above
    docs["full"] = {"records": docs["drivers"]["records"], "kind": "pairwise",
                    "source": votes.name, "annotators": docs["annotators"],
                    "drivers": docs["drivers"], "length_bias": docs["drivers"]["length_bias"],
                    "flips": {"skipped": "no item ids"},
                    "rm_flips": {k: v for k, v in docs["flips"].items() if k != "method"},
                    "duplicates": docs["duplicates"], "notes": ["drivers: a note <b>"]}
    write_report(docs["full"], tmp / "full", figures=False)
    out = tmp / "quality.html"
    inputs = [str(tmp / f"{name}.json") for name in commands]
    _cli("report", *inputs, str(tmp / "wimhf"), str(tmp / "full"), "--out", str(out))
    html = out.read_text(encoding="utf-8")
    parser = Tables()
    parser.feed(html)
    names = [*commands, "wimhf", "full"]
    assert len(parser.sections) == len(names)
    return {"docs": docs, "html": html, "out": out, "attrs": parser.attrs,
            "tables": dict(zip(names, parser.sections, strict=True))}


def _rows(table: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table[1:]}


def test_each_command_json_becomes_its_part():
    parts = {"annotators": {"model": "crowd-bt", "records": 3, "annotators": {},
                            "identification": {}},
             "drivers": {"records": 3, "properties": [], "overall": {}, "length_bias": None},
             "flips": {"records": 3, "method": "rm", "flip_rate": 0.1},
             "duplicates": {"fields": {}, "duplicate_records": {}},
             "next": {"records": 3, "pairs": []},
             "wimhf": {"n_pairs": 3, "sae": {}, "features": []}}
    expected = {"annotators": {"annotators"}, "drivers": {"drivers", "length_bias"},
                "flips": {"rm_flips"}, "duplicates": {"duplicates"}, "next": {"next"},
                "wimhf": {"wimhf"}}
    for name, doc in parts.items():
        normal = quality_document(doc)
        assert normal is not None, name
        assert set(normal) - {"records", "kind", "source", "notes"} == expected[name]
    assert quality_document({"records": 3, "pairs": [], "items": [], "model": "bt"}) is None
    assert quality_document([1, 2]) is None and quality_document({"records": 3}) is None


def test_drivers_bayes_sandwich_covariance_and_every_effect(page):
    doc = page["docs"]["drivers"]["overall"]
    assert doc["covariance"] == "sandwich"  # 3 labels per pair_id
    assert {"data-covariance": "sandwich"} in [
        {k: v for k, v in a.items() if k == "data-covariance"} for a in page["attrs"]]
    assert "cluster-robust sandwich" in page["html"]
    table = page["tables"]["drivers"]["effects"]
    assert table[0][:6] == ["property", "log-odds per SD", "lower", "upper", "se",
                            "P(β > 0)"]
    rows = _rows(table)
    for name, e in [("(first position)", doc["intercept"]), *doc["effects"].items()]:
        assert rows[name][:5] == [num(e["coef"], 3, True), num(e["interval"][0], 3, True),
                                  num(e["interval"][1], 3, True), num(e["se"]),
                                  num(e["prob_positive"])]
    for name in doc["skipped"]:
        assert name in page["html"]
    items = _rows(page["tables"]["drivers"]["controlled"])
    for item, r in page["docs"]["drivers"]["controlled"]["items"].items():
        assert items[item] == [num(r["raw"], 3, True), str(r["raw_rank"]),
                               num(r["controlled"], 3, True), str(r["controlled_rank"]),
                               num(r["win_rate"]), str(r["n"])]
    bins = page["tables"]["drivers"]["length-bins"]
    assert len(bins) - 1 == len(page["docs"]["drivers"]["length_bias"]["bins"])


def test_rm_flips_features_interval_suspects_and_heldout_repairs(page):
    doc = page["docs"]["flips"]
    assert doc["features"] == "style+items"
    assert page["html"].count(FEATURE_SETS["style+items"]) == 2  # flips.json, quality.json
    assert [a["data-features"] for a in page["attrs"] if "data-features" in a] == [
        "style+items", page["docs"]["full"]["rm_flips"]["features"]]
    lo, hi = doc["flip_rate_interval"]
    assert f"[{num(lo)}, {num(hi)}]" in page["html"]
    assert f"cross-fitted accuracy {num(doc['crossfit_accuracy'])}" in page["html"]
    suspects = page["tables"]["flips"]["suspects"]
    assert suspects[0] == ["record", "P(flipped)", "strength", "± sd"]
    assert suspects[1] == [str(doc["most_suspect"][0]["row"]),
                           num(doc["most_suspect"][0]["flip_prob"]),
                           num(doc["most_suspect"][0]["strength"], 3, True),
                           num(doc["most_suspect"][0]["strength_sd"])]
    repairs = _rows(page["tables"]["flips"]["repairs"])
    assert set(repairs) == set(doc["heldout_repair"]["repairs"]) == {"none", "drop", "flip",
                                                                     "soft"}
    for how, r in doc["heldout_repair"]["repairs"].items():
        assert repairs[how] == [num(r["accuracy"], 4), num(r["accuracy_sd"], 4)]
    full = page["tables"]["full"]  # quality.json: the same part, under rm_flips
    assert full["suspects"] == page["tables"]["flips"]["suspects"]
    assert "flips: skipped — no item ids" in page["html"]
    assert "drivers: a note &lt;b&gt;" in page["html"]


def test_annotators_ties_identification_heldout_and_hostile_names(page):
    doc = page["docs"]["annotators"]
    rows = _rows(page["tables"]["annotators"]["annotators"])
    assert page["tables"]["annotators"]["annotators"][0][6] == "tie agreement"
    for name, r in doc["annotators"].items():
        assert rows[name][:6] == [str(r["n"]), num(r["reliability"]), num(r["interval"][0]),
                                  num(r["interval"][1]), num(r["majority_agreement"]),
                                  num(r["tie_agreement"])]
    assert "Annotator reliability (Dawid–Skene)" in page["html"]
    ident = doc["identification"]
    assert (f"{ident['comparisons']} comparisons, {ident['shared_comparisons']} labelled by "
            f"several annotators") in " ".join(page["html"].split())
    h = doc["heldout"]
    assert f"model <span class=\"big\">{num(h['model'])}</span>" in page["html"]
    assert f"majority vote {num(h['majority'])}" in page["html"]
    html = page["html"]
    for hostile in (HOSTILE_ANNOTATOR, HOSTILE_PROMPT):
        assert hostile not in html
        assert escape(hostile, quote=False).replace("'", "&#39;") in html


def test_duplicates_leaks_next_pairs_and_wimhf_features(page):
    dup = page["docs"]["duplicates"]
    fields = _rows(page["tables"]["duplicates"]["duplicates"])
    for name, part in dup["fields"].items():
        assert fields[name] == [str(part[k]) for k in ("texts", "distinct", "exact_groups",
                                                       "near_groups", "texts_in_near_groups")]
    leaks = _rows(page["tables"]["duplicates"]["leaks"])
    for name, part in dup["against"]["fields"].items():
        assert leaks[name] == [str(part[k]) for k in ("exact", "near", "test_distinct",
                                                      "test_rows")]
    pairs = page["tables"]["next"]["next-pairs"][1:]
    assert [(r[0], r[1], r[2]) for r in pairs] == [
        (p["a"], p["b"], num(p["p_a"])) for p in page["docs"]["next"]["pairs"]]
    wimhf = page["docs"]["wimhf"]
    table = page["tables"]["wimhf"]["wimhf-features"]
    assert len(table) - 1 == len(wimhf["features"])
    for row, f in zip(table[1:], wimhf["features"], strict=True):
        assert row[:6] == [str(f["feature"]), num(f["coef"], 3, True),
                           num(f["interval"][0], 3, True), num(f["interval"][1], 3, True),
                           num(f["prob_positive"]), num(f["win_rate"])]
        if f["examples"]:
            assert f"record {f['examples'][0]['row']}" in row[-1]
    assert f"{num(wimhf['signal']['auc_black_box'])}" in page["html"]


def test_quality_page_in_chromium(page, chromium_path):
    pytest.importorskip("playwright")
    with browser_page(chromium_path) as (tab, problems):
        tab.goto(page["out"].as_uri())
        assert tab.evaluate("document.querySelectorAll('script').length") == 1
        assert tab.locator("section.kind-quality").count() == 7
        cells = tab.locator("table.annotators td.name").all_inner_texts()
        assert HOSTILE_ANNOTATOR in cells  # shown as text, not run
        feature_set = tab.locator("span.feature-set").first.inner_text()
        assert feature_set == FEATURE_SETS["style+items"]
        assert "sandwich" in tab.locator("span.covariance-kind").first.inner_text()
        table = tab.locator("table.wimhf-features").first
        table.locator("thead th", has_text="β").first.click()
        betas = [float(t) for t in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
        assert betas == sorted(betas) and len(betas) == len(page["docs"]["wimhf"]["features"])
        assert tab.locator("table.suspects").first.is_visible()
        assert not problems, problems
