"""Local judges: a causal LM read from its verdict-token logits, a prefkit reward model; the
live-judge contract (judge / predict_proba from both orders / save-load), juries, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import prefkit
from prefkit import PreferenceDataset
from prefkit.judge.backends.base import JudgeRequest
from prefkit.judge.jury import Jury, combine
from prefkit.judge.live import LLMJudge
from prefkit.judge.templates import load_template

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
runner = CliRunner()


@pytest.fixture(scope="module")
def judge_lm(tmp_path_factory) -> Path:
    """An untrained tiny Llama whose word-level vocabulary has the verdict letters A, B, C."""
    from prefkit.align import tiny

    tokenizer = tiny.build_tokenizer([*tiny.corpus(60), "A B C"])
    model = tiny.build_model(tokenizer, hidden_size=32, seed=3)
    model.config.max_position_embeddings = 1024
    path = tmp_path_factory.mktemp("judge-lm") / "tiny-judge"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def pairs(n: int = 5) -> PreferenceDataset:
    from prefkit.align.tiny import synthetic_records

    records = synthetic_records(n, seed=4)
    for i, r in enumerate(records):
        r.update(pair_id=f"p{i}", a="good" if r["winner"] == "a" else "bad",
                 b="bad" if r["winner"] == "a" else "good")
    return PreferenceDataset.from_records(records, kind="pairwise", name="pairs")


def requests(ds: PreferenceDataset) -> list[JudgeRequest]:
    template = load_template()
    out = []
    for pid, q, a, b in zip(ds.column("pair_id"), ds.column("prompt"), ds.column("a_text"),
                            ds.column("b_text"), strict=True):
        for order, (first, second) in (("ab", (a, b)), ("ba", (b, a))):
            out.append(JudgeRequest(pid, order, template.render(question=q, answer_a=first,
                                                                answer_b=second)))
    return out


def test_verdict_probabilities_are_a_softmax_of_the_verdict_logits_batched_or_not(judge_lm):
    from prefkit.judge.backends.hf_causal import HFCausalLMBackend

    reqs = requests(pairs())
    one = HFCausalLMBackend(judge_lm, batch_size=1).complete(reqs)
    batched = HFCausalLMBackend(judge_lm, batch_size=4).complete(reqs)
    p_one = np.array([[r.probs[v] for v in ("A", "B", "tie")] for r in one])
    p_batched = np.array([[r.probs[v] for v in ("A", "B", "tie")] for r in batched])
    np.testing.assert_allclose(p_one.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(p_batched, p_one, atol=1e-6)
    # by hand: the full forward pass of one prompt, last position, the letters' logits
    backend = HFCausalLMBackend(judge_lm, batch_size=1)
    backend.preflight()
    letters = [backend.tokenizer.convert_tokens_to_ids(t) for t in ("A", "B", "C")]
    for request, probs in zip(reqs[:3], p_one[:3], strict=True):
        ids = backend.tokenizer(backend.prompt_text(request.messages), add_special_tokens=False,
                                return_tensors="pt")["input_ids"]
        with torch.no_grad():
            z = backend.model(input_ids=ids).logits[0, -1, letters].double()
        np.testing.assert_allclose(probs, torch.softmax(z, 0).numpy(), rtol=1e-6)
        assert request.messages[-1]["content"] not in backend.prompt_text(request.messages)[:5]
    assert one[0].text.startswith("P(A)=") and one[0].usage["prompt_tokens"] > 100


def test_llm_judge_contract_both_orders_and_declared_aggregations(judge_lm):
    from prefkit.judge.backends.hf_causal import HFCausalLMBackend

    ds = pairs()
    judge = LLMJudge(f"hf:{judge_lm}", batch_size=8)
    judgments = judge.judge(ds)
    assert len(judgments) == 2 * len(ds) and not judgments.metadata["unparsed"]
    assert set(judgments.column("order")) == {"ab", "ba"}
    assert set(judgments.column("annotator_id")) == {"tiny-judge"}
    assert set(judgments.column("template_hash")) == {load_template().hash}
    assert all(t.startswith("P(A)=") for t in judgments.column("rationale"))
    # P(a ≻ b) of each order from the backend's verdict probabilities, by hand
    replies = HFCausalLMBackend(judge_lm).complete(requests(ds))
    first = np.array([r.probs["A"] + 0.5 * r.probs["tie"] for r in replies]).reshape(-1, 2)
    p_order = np.column_stack([first[:, 0], 1.0 - first[:, 1]])  # ba: a was shown second
    verdict = np.array([max(("A", "B", "tie"), key=r.probs.get) for r in replies]).reshape(-1, 2)
    winner = np.where(verdict[:, 0] == "A", "a", np.where(verdict[:, 0] == "B", "b", "tie"))
    winner_ba = np.where(verdict[:, 1] == "A", "b", np.where(verdict[:, 1] == "B", "a", "tie"))
    consistent = winner == winner_ba
    np.testing.assert_allclose(judge.predict_proba(ds), p_order.mean(axis=1), atol=1e-6)
    tie_rule = LLMJudge(f"hf:{judge_lm}", aggregation="inconsistent-as-tie").predict_proba(ds)
    np.testing.assert_allclose(tie_rule, np.where(consistent, p_order.mean(axis=1), 0.5),
                               atol=1e-6)
    only = LLMJudge(f"hf:{judge_lm}", aggregation="consistent-only").predict_proba(ds)
    assert np.array_equal(np.isnan(only), ~consistent)
    one_order = LLMJudge(f"hf:{judge_lm}", orders="ba").predict_proba(ds)
    np.testing.assert_allclose(one_order, p_order[:, 1], atol=1e-6)
    from prefkit.evaluate import evaluate  # a judge is scored like any model

    scored = evaluate(judge, ds.filter(judge.has_verdict(ds)))
    expected = np.mean((p_order.mean(axis=1) > 0.5) == (np.array(ds.column("winner")) == "a"))
    assert scored["n"] == len(ds) and scored["accuracy"] == pytest.approx(expected)


def test_saved_judge_is_config_only_and_never_holds_the_key(judge_lm, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-very-secret")
    judge = LLMJudge("gpt-judge", endpoint="http://127.0.0.1:9/v1", api_key_env="MY_JUDGE_KEY",
                     aggregation="consistent-only", reask=2)
    assert judge.backend()._api_key == "sk-very-secret"
    from sklearn.base import clone

    assert clone(judge).get_params() == judge.get_params()
    prefkit.save(judge, tmp_path / "j")
    for path in (tmp_path / "j").rglob("*"):
        assert b"sk-very-secret" not in path.read_bytes()
    back = prefkit.load(tmp_path / "j")
    assert type(back) is LLMJudge and back.get_params() == judge.get_params()
    assert back.template_.hash == load_template().hash
    assert back.backend().base == "http://127.0.0.1:9/v1" and back.backend().model == "gpt-judge"


def test_jury_mean_and_majority_and_each_judge_reported(judge_lm):
    p = np.array([[0.9, 0.2, np.nan, 0.6, 0.5],
                  [0.7, 0.4, np.nan, 0.3, 0.5],
                  [0.2, np.nan, np.nan, 0.5, 0.8]])
    np.testing.assert_allclose(combine(p, "mean"), [0.6, 0.3, np.nan, 14 / 30, 0.6])
    # votes: (a, a, b) → a; (b, b) → b; none; (a, b, tie) draw → tie; (tie, tie, a) → tie
    np.testing.assert_array_equal(combine(p, "majority"), [1.0, 0.0, np.nan, 0.5, 0.5])
    ds = pairs(3)
    jury = Jury([LLMJudge(f"hf:{judge_lm}", name="one"),
                 LLMJudge(f"hf:{judge_lm}", aggregation="inconsistent-as-tie", name="two")])
    report = jury.report(ds)
    assert set(report["judges"]) == {"one", "two"}
    np.testing.assert_allclose(report["jury"], (report["judges"]["one"]
                                                + report["judges"]["two"]) / 2)
    judgments = jury.judge(ds)
    assert sorted(set(judgments.column("annotator_id"))) == ["one", "two"]
    assert len(judgments) + len(judgments.metadata["unparsed"]) == 2 * 2 * len(ds)


class WordCountEncoder:
    """A deterministic encoder: counts of a few polite and rude words."""

    id = "word-count-test"
    dim = 4
    words = (("kind", "helpful", "lovely"), ("stupid", "rude", "awful"), ("sure",), ("no",))

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([[sum(t.split().count(w) for w in group) for group in self.words]
                         for t in texts], dtype=np.float32)


def test_reward_model_judge_is_the_sigmoid_of_the_reward_difference(tmp_path):
    from prefkit.align.tiny import synthetic_preferences
    from prefkit.judge.backends.reward_model import RewardModelBackend
    from prefkit.judge.run import judge_records
    from prefkit.reward import RewardModel

    encoder = WordCountEncoder()
    rm = RewardModel(encoder, "linear", epochs=30).fit(synthetic_preferences(40, seed=1))
    ds = pairs(6)
    records = judge_records(ds, RewardModelBackend(rm, name="rm"), template=load_template())
    r = rm.reward_texts(list(ds.column("prompt")) * 2,
                        list(ds.column("a_text")) + list(ds.column("b_text")))
    expected = 1.0 / (1.0 + np.exp(-(r[:6] - r[6:])))
    by_order = {(x["pair_id"], x["order"]): x["p_a"] for x in records}
    got = np.array([[by_order[(p, o)] for o in ("ab", "ba")] for p in ds.column("pair_id")])
    np.testing.assert_allclose(got, np.column_stack([expected, expected]), rtol=1e-9)
    assert [x["winner"] for x in records if x["order"] == "ab"] == [
        "a" if e > 0.5 else "b" for e in expected]
    # the polite answer wins every synthetic pair, from a saved model directory too
    prefkit.save(rm, tmp_path / "rm")
    backend = RewardModelBackend(tmp_path / "rm", load_kwargs={"encoder": encoder})
    again = judge_records(ds, backend, template=load_template(), orders=("ab",))
    assert [x["winner"] for x in again] == list(ds.column("winner"))


def test_cli_local_judge_and_jury_with_cost_and_per_judge_summary(judge_lm, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in pairs(3).to_records()))
    out = tmp_path / "j.jsonl"
    twin = tmp_path / "twin"
    twin.symlink_to(judge_lm, target_is_directory=True)
    args = ["judge", "pairwise", str(data), "--model", f"hf:{judge_lm}", "--model",
            f"hf:{twin}", "--out", str(out), "--no-progress", "--json", "--jury-rule",
            "majority", "--price-in", "1.0"]
    result = runner.invoke(app_(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["judges"]) == {"tiny-judge", "twin"}
    assert all(j["written"] == 6 and j["unparsed"] == 0 for j in summary["judges"].values())
    assert summary["jury"]["agreement_with_jury"] == {"tiny-judge": 1.0, "twin": 1.0}
    assert summary["usage"]["prompt_tokens"] > 0 and summary["cost"] is None  # local: no price
    again = runner.invoke(app_(), args)  # complete output: nothing asked
    assert json.loads(again.stdout)["already_done"] == 12
    analysis = runner.invoke(app_(), ["judge", "analyze", str(out), "--json", "--bootstrap", "0"])
    assert analysis.exit_code == 0, analysis.output
    bad = runner.invoke(app_(), ["judge", "pairwise", str(data), "--model", f"hf:{tmp_path}",
                                 "--out", str(tmp_path / "x.jsonl"), "--no-progress"])
    assert bad.exit_code == 2 and len(bad.stderr.splitlines()) == 1
    assert "not a Hugging Face model folder" in bad.stderr
    assert not (tmp_path / "x.jsonl").exists()


def app_():
    from prefkit.cli.app import app

    return app
