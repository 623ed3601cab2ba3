"""Arena-Hard scores against the baseline — v0.1 and v2 rules, with and without style control —
checked against an independent computation of arena-hard-auto's published recipe with
scikit-learn's LogisticRegression on the same verdicts (golden test)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.arena_hard import arena_hard_scores, battles, label_to_score
from prefkit.judge.style_control import answer_style

BASE = "base"
MODELS = ("m1", "m2", "m3")
VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
# the test's own reading of the published rules: points for the answer shown as A
POINTS = {"A>>B": [1.0] * 3, "A>B": [1.0], "A=B": [0.5], "B>A": [0.0], "B>>A": [0.0] * 3}


def make_text(rng: np.random.Generator, headers: int, items: int, bold: int, words: int) -> str:
    """An answer with known markdown counts; its length in characters is measured below."""
    lines = [f"# Heading {k}" for k in range(headers)]
    lines += [f"- item {k}" for k in range(items)]
    lines += [f"Some **bold {k}** words." for k in range(bold)]
    lines.append(" ".join("w" * int(rng.integers(1, 6)) for _ in range(words)))
    lines.append("```\n# not a header\n- not an item\n```")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def verdict_set():
    rng = np.random.default_rng(7)
    records, meta, texts = [], {}, {}
    for name in (BASE, *MODELS):  # one answer per model and question, the baseline's shared
        for q in range(14):
            h, i, b = (int(v) for v in rng.integers(0, 5, size=3))
            texts[(name, q)] = make_text(rng, h, i, b, int(rng.integers(5, 60)))
            meta[(name, q)] = (len(texts[(name, q)]), h, i, b)
    for m_index, model in enumerate(MODELS):
        for q in range(14):
            # the models differ in strength (m1 weakest, m3 strongest)
            p = np.array([1, 2, 2, 2, 1], float)
            p = p * np.exp(np.linspace(-1, 1, 5) * (m_index - 1) * -0.7)
            v1, v2 = rng.choice(VERDICTS, size=2, p=p[::-1] / p.sum())  # game 1: base is A
            v2 = VERDICTS[4 - VERDICTS.index(v1)] if q % 4 == 0 else v2
            for order, verdict in (("ab", v1), ("ba", v2)):
                first_wins = verdict.startswith("A>")
                winner = "tie" if verdict == "A=B" else (
                    ("a" if first_wins else "b") if order == "ab" else
                    ("b" if first_wins else "a"))
                records.append({"pair_id": f"{q}/{model}", "question_id": str(q), "a": BASE,
                                "b": model, "order": order, "verdict": verdict,
                                "winner": winner, "a_text": texts[(BASE, q)],
                                "b_text": texts[(model, q)]})
    return PreferenceDataset.from_records(records), meta


def reference_battles(ds: PreferenceDataset):
    """(model, points of the model) per battle, by the published counting rules."""
    rows = ds.to_pandas()
    out = []
    for _, r in rows.iterrows():
        pts = POINTS[r["verdict"]]
        model_points = pts if r["order"] == "ba" else [1.0 - s for s in pts]
        out += [(r["b"], int(r["question_id"]), s) for s in model_points]
    return out


def test_label_to_score_and_v2_drops_whole_questions(verdict_set):
    assert label_to_score("A>>B") == [1.0, 1.0, 1.0] and label_to_score("B<A") == [1.0]
    assert label_to_score("A=B") == [0.5] and label_to_score(None) == []
    ds, _ = verdict_set
    records = ds.to_pandas().to_dict("records")
    records = [r for r in records if not (r["pair_id"] == "0/m1" and r["order"] == "ab")]
    cut = PreferenceDataset.from_records(records)
    v01, v2 = battles(cut), battles(cut, rules="v2")
    game2 = len(POINTS[next(r["verdict"] for r in records if r["pair_id"] == "0/m1")])
    assert len(v01) - len(v2) == game2
    assert v2.metadata["battles"]["dropped"] == 1


def test_plain_scores_are_mean_battle_scores(verdict_set):
    ds, _ = verdict_set
    ref = reference_battles(ds)
    for rules in ("v0.1", "v2"):
        result = arena_hard_scores(ds, rules=rules, bootstrap=50)
        got = {r["model"]: r for r in result.rows}
        assert got[BASE]["score"] == 50.0
        for model in MODELS:
            pts = [s for m, _, s in ref if m == model]
            assert got[model]["score"] == pytest.approx(100 * np.mean(pts), abs=1e-9)
            assert got[model]["battles"] == len(pts)
            assert got[model]["ci_low"] <= got[model]["score"] <= got[model]["ci_high"]
    # v0.1's unpenalised logistic regression (compute_mle_elo) gives the same win rates
    models = [BASE, *MODELS]
    x, y, w = [], [], []
    for model, _, s in ref:
        row = np.zeros(len(models))
        row[0], row[models.index(model)] = math.log(10), -math.log(10)  # model_a = baseline
        x += [row, row]
        y += [1, 0]
        w += [1 - s, s]
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10000)
    lr.fit(np.array(x), np.array(y), sample_weight=np.array(w))
    elo = 400 * lr.coef_[0]
    v01 = {r["model"]: r["score"] for r in arena_hard_scores(ds, bootstrap=0).rows}
    for k, model in enumerate(MODELS, 1):
        win = 100 / (1 + 10 ** ((elo[0] - elo[k]) / 400))
        assert v01[model] == pytest.approx(win, abs=1e-4)


def v01_style_reference(ds, meta):
    """arena-hard-auto v0.1 style control, recomputed: duplicated battles, ±ln 10 model columns,
    (a − b)/(a + b + 1) features z-scored with ddof 0, sklearn's default L2 (C = 1)."""
    ref = reference_battles(ds)
    models = sorted({BASE, *MODELS}, key=lambda m: (m != BASE, m))
    rows, ys = [], []
    feats = []
    for model, q, s in ref:
        a, b = np.array(meta[(BASE, q)], float), np.array(meta[(model, q)], float)
        feats.append((a - b) / (a + b + 1))
        rows.append((model, s))
    f = np.array(feats)
    f = (f - f.mean(axis=0)) / f.std(axis=0)
    x, weights = [], []
    for (model, s), z in zip(rows, f, strict=True):
        row = np.zeros(len(models) + 4)
        row[models.index(BASE)] += math.log(10)
        row[models.index(model)] -= math.log(10)
        row[len(models):] = z
        # duplicated battle: a win twice, a tie as one win and one loss (y = baseline wins)
        x += [row, row]
        ys += [1, 0]
        weights += [2 * (1 - s), 2 * s]
    lr = LogisticRegression(fit_intercept=False, tol=1e-12, max_iter=100000)
    lr.fit(np.array(x), np.array(ys), sample_weight=np.array(weights))
    coef = lr.coef_[0]
    elo = 400 * coef[: len(models)] + 1000
    elo += 1114 - elo[models.index(BASE)]
    wins = {m: 100 / (1 + 10 ** ((elo[0] - elo[k]) / 400)) for k, m in enumerate(models)}
    return wins, coef[len(models):]


def v2_style_reference(ds, meta):
    """arena-hard-auto v2 style control, recomputed: one-hot +1 model / −1 baseline (baseline
    column kept), length (m − b)/(m + b), markdown densities (d_m − d_b)/(d_m + d_b + 1), z-scored
    with ddof 1, unpenalised BT loss on soft outcomes."""
    ref = reference_battles(ds)
    models = sorted({BASE, *MODELS})
    x, ys, weights = [], [], []
    feats = []
    for model, q, _ in ref:
        m, b = np.array(meta[(model, q)], float), np.array(meta[(BASE, q)], float)
        dm, db = m[1:] / m[0], b[1:] / b[0]
        feats.append(np.r_[(m[0] - b[0]) / (m[0] + b[0]), (dm - db) / (dm + db + 1)])
    f = np.array(feats)
    f = (f - f.mean(axis=0)) / f.std(axis=0, ddof=1)
    for (model, _, s), z in zip(ref, f, strict=True):
        row = np.zeros(len(models) + 4)
        row[models.index(model)], row[models.index(BASE)] = 1, -1
        row[len(models):] = z
        x += [row, row]
        ys += [1, 0]
        weights += [s, 1 - s]
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100000)
    lr.fit(np.array(x), np.array(ys), sample_weight=np.array(weights))
    coef = lr.coef_[0]
    base = coef[models.index(BASE)]
    wins = {m: 100 / (1 + math.exp(-(coef[k] - base))) for k, m in enumerate(models)}
    return wins, coef[len(models):]


@pytest.mark.parametrize("rules", ["v0.1", "v2"])
def test_style_control_equals_the_published_recipe(verdict_set, rules):
    ds, meta = verdict_set
    expected, gamma = (v01_style_reference if rules == "v0.1" else v2_style_reference)(ds, meta)
    result = arena_hard_scores(ds, rules=rules, style_control=["length", "markdown"],
                               bootstrap=20, seed=1)
    got = {r["model"]: r["score"] for r in result.rows}
    for model in MODELS:
        assert got[model] == pytest.approx(expected[model], abs=1e-4)
    np.testing.assert_allclose(list(result.style.values()), gamma, atol=1e-5)
    assert list(result.style) == ["length", "header_count", "list_count", "bold_count"]
    # style control changes the scores (the data have a length effect)
    plain = {r["model"]: r["score"] for r in arena_hard_scores(ds, rules=rules,
                                                                bootstrap=0).rows}
    assert any(abs(plain[m] - got[m]) > 0.5 for m in MODELS)


def test_style_counts_of_a_hand_written_answer():
    text = ("# Title\n## Part\n#nospace\n1. one\n  2. two\n- dash\n * star\n+ plus\n"
            "**b1** and __b2__ and **not\nbold**\n```python\n# comment\n- x\n**y**\n```\n")
    style = answer_style(text)
    assert (style.header_count, style.list_count, style.bold_count) == (2, 5, 2)
    assert style.token_len == len(text)
    assert answer_style(text, length="words").token_len == len(text.split())


def test_style_control_without_texts_names_the_field(verdict_set):
    ds, _ = verdict_set
    bare = PreferenceDataset.from_records(
        [{k: v for k, v in r.items() if k not in ("a_text", "b_text")}
         for r in ds.to_pandas().to_dict("records")])
    with pytest.raises(DataError, match="style control needs the answer text"):
        arena_hard_scores(bare, style_control=["length"], bootstrap=0)


def test_real_arena_hard_battles_match_the_unpenalised_fit(real_file):
    """arena-hard-auto's own v0.1 battles file (GPT-4 judged, strong verdicts already repeated):
    prefkit's scores equal compute_mle_elo + predict_win_rate recomputed with scikit-learn."""
    from prefkit import read

    ds = read(real_file("llm-pairwise/lmarena_arena-hard-auto__data_arena_hard_battles.jsonl"))
    result = arena_hard_scores(ds, bootstrap=0)
    assert result.baseline == "claude-3-haiku-20240307"
    frame = ds.to_pandas()
    models = sorted(set(frame["a"]) | set(frame["b"]))
    x = np.zeros((2 * len(frame), len(models)))
    y = np.zeros(2 * len(frame))
    for k, (a, b, w) in enumerate(zip(frame["a"], frame["b"], frame["winner"], strict=True)):
        for half in (0, 1):
            x[2 * k + half, models.index(a)] = math.log(10)
            x[2 * k + half, models.index(b)] = -math.log(10)
        y[2 * k] = w in ("a", "tie")  # one tie = one win for a and one for b
        y[2 * k + 1] = w == "a"
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10000).fit(x, y)
    elo = dict(zip(models, 400 * lr.coef_[0], strict=True))
    for row in result.rows:
        win = 100 / (1 + 10 ** ((elo[result.baseline] - elo[row["model"]]) / 400))
        assert row["score"] == pytest.approx(win, abs=1e-3)
    assert [r["model"] for r in result.rows][:2] == ["claude-3-5-sonnet-20240620", "gpt-4o"]


def test_cli_with_arena_hard_files_and_answer_metadata(verdict_set, tmp_path):
    """The same verdicts as arena-hard-auto files (judgments with two games, answers with
    ``metadata``): ``prefkit judge arena-hard --answers`` gives the scores of the texts."""
    import json

    from typer.testing import CliRunner

    from prefkit.cli.app import app

    ds, meta = verdict_set
    frame = ds.to_pandas()
    lines = []
    for (q, model), rows in frame.groupby(["question_id", "b"], sort=True):
        games = {r["order"]: {"score": r["verdict"], "judgment": f"[[{r['verdict']}]]"}
                 for _, r in rows.iterrows()}
        lines.append({"question_id": q, "model": model, "baseline": BASE, "judge": "j",
                      "games": [games["ab"], games["ba"]]})
    judged = tmp_path / "judgments.jsonl"
    judged.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    answers = tmp_path / "answers"
    answers.mkdir()
    for name in (BASE, *MODELS):
        with open(answers / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for (who, q), (length, h, i, b) in meta.items():
                if who == name:
                    handle.write(json.dumps({"uid": str(q), "model": name, "metadata": {
                        "token_len": length, "header_count": {"h1": h, "h2": 0},
                        "list_count": {"ordered": 0, "unordered": i},
                        "bold_count": {"**": b, "__": 0}}}) + "\n")
    result = CliRunner().invoke(app, [
        "judge", "arena-hard", str(judged), "--format", "arena-hard", "--answers", str(answers),
        "--style-control", "length,markdown", "--rules", "v2", "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    got = {r["model"]: r["score"] for r in json.loads(result.stdout)["items"]}
    expected = arena_hard_scores(ds, rules="v2", style_control=["length", "markdown"],
                                 bootstrap=0)
    for row in expected.rows:
        assert got[row["model"]] == pytest.approx(row["score"], abs=1e-9)


def test_category_selects_its_questions(verdict_set):
    ds, _ = verdict_set
    records = ds.to_pandas().to_dict("records")
    for r in records:
        r["category"] = "easy" if int(r["question_id"]) < 7 else "hard"
    tagged = PreferenceDataset.from_records(records)
    subset = PreferenceDataset.from_records([r for r in records if r["category"] == "hard"])
    got = arena_hard_scores(tagged, category="hard", bootstrap=0).rows
    assert got == arena_hard_scores(subset, bootstrap=0).rows
    with pytest.raises(DataError, match="no judgment of category 'nope'"):
        arena_hard_scores(tagged, category="nope", bootstrap=0)
