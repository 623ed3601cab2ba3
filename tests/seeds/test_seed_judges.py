"""Seed methods that need an LLM judge (rows 35, 36 and 66 of docs/seeds.md), run against a fake
LLM that follows known principles (``principle_llm.py``) and, for routing, recorded real judge
verdicts with human labels."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.icai import dedupe_principles, inverse_constitution, parse_principles
from seeds.principle_llm import PrincipleLLM

SUBJECTS = ["the train", "the museum", "the bakery", "the library", "the park", "the river"]


def _politeness_pairs(n: int = 40, noise: float = 0.1, seed: int = 0) -> list[dict]:
    """Exactly one response of each pair is polite ('please'); the polite one is preferred
    (1 − noise of the time).  Numbers and lengths vary independently of the label."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        subject = SUBJECTS[i % len(SUBJECTS)]
        texts = []
        for polite in (True, False):
            t = f"{'please ' if polite else ''}visit {subject}"
            if rng.random() < 0.5:
                t += f" at {int(rng.integers(1, 12))} o'clock"
            t += " and enjoy it" * int(rng.integers(0, 3))
            texts.append(t)
        polite_first = bool(rng.random() < 0.5)
        a, b = texts if polite_first else texts[::-1]
        polite_wins = rng.random() >= noise
        winner = "a" if polite_first == polite_wins else "b"
        rows.append({"prompt": f"where should I go {i}?", "a_text": a, "b_text": b,
                     "winner": winner})
    return rows


# ------------------------------------------------------------------ ICAI (row 35)
def test_icai_recovers_the_principle_behind_the_labels():
    ds = PreferenceDataset.from_records(_politeness_pairs(), kind="pairwise")
    llm = PrincipleLLM()
    result = inverse_constitution(ds, llm, n_propose=12, max_principles=3)
    assert result.constitution[0] == "Select the response that is more polite."
    top = result.scores[0]
    assert top.relevance == 1.0 and top.net > 0.6  # 90 % for, 10 % against
    # the length principle is proposed (preferred answers are often longer) but does not
    # reproduce the labels: its net agreement is near zero
    longer = next(s for s in result.scores if "longer" in s.principle)
    assert abs(longer.net) < 0.35 and longer.net < top.net
    # the two wordings of the polite principle were merged
    assert sum("polite" in s.principle for s in result.scores) == 1
    # reconstruction: the constitution lets the judge reproduce the labels; without it the
    # (length-biased) judge does not
    assert result.accuracy_with == pytest.approx(0.9, abs=0.05)
    assert result.accuracy_without is not None and result.accuracy_without < 0.7
    doc = result.as_dict()
    assert doc["reconstruction"]["n_pairs"] == 40 and doc["requests"]["asked"] == llm.requests


def test_icai_counts_unparsed_replies_and_refuses_bad_input():
    rows = _politeness_pairs(10)
    rows[0]["a_text"] += " NOVERDICT"
    ds = PreferenceDataset.from_records(rows, kind="pairwise")
    result = inverse_constitution(ds, PrincipleLLM(),
                                  principles=["Select the response that is more polite."],
                                  baseline=False)
    (score,) = result.scores
    assert score.unparsed == 1 and score.votes_for + score.votes_against == 9
    assert result.stats.unparsed >= 2  # both orders of the pair, re-asked once each
    plain = PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}],
                                           kind="pairwise")
    with pytest.raises(DataError, match="response texts"):
        inverse_constitution(plain, PrincipleLLM())


def test_principle_parsing_and_dedupe():
    v = parse_principles("Here:\n1. Select the response that is kind.\n- Select the one that "
                         "cites\nno list here")
    assert v.value == ("Select the response that is kind.", "Select the one that cites")
    assert not parse_principles("nothing").parsed
    kept = dedupe_principles(["Prefer kind answers.", "prefer KIND answers",
                              "Prefer kind and short answers.", "Prefer answers with code."],
                             threshold=0.7)
    assert kept == ["Prefer kind answers.", "Prefer kind and short answers.",
                    "Prefer answers with code."]


# ------------------------------------------------------------------ routing (row 36)
def test_routing_closed_forms():
    from prefkit.judge.routing import (
        judge_confidence,
        mixed_labels,
        route_by_confidence,
        verdict_probability,
    )

    p = verdict_probability([["a", "a"], ["a", "b"], ["tie"], [None], ["b"]])
    assert np.allclose(p[[0, 1, 2, 4]], [1, 0.5, 0.5, 0]) and np.isnan(p[3])
    assert judge_confidence(p).tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    routed = route_by_confidence(p, 3)
    assert sorted(routed.tolist()) == [1, 2, 3]  # the inconsistent, tied and missing verdicts
    mixed = mixed_labels(np.array(["a", "tie", "tie", "", "b"], dtype=object),
                         np.array(["b", "b", "a", "a", "a"], dtype=object), routed)
    assert mixed.tolist() == ["a", "b", "a", "a", "b"]


def test_performance_predictor_routes_the_tag_the_judge_gets_wrong():
    """Simulated: the judge is right 95 % of the time on three tags and a coin flip on 'math';
    people are always right.  The quadratic predictor, fitted on random mixes, sends 'math' to
    people first, which beats random routing at the same budget."""
    from prefkit.judge.routing import (
        PerformancePredictor,
        greedy_route,
        label_accuracy,
        mixed_labels,
        random_mixes,
        route_at_random,
    )

    rng = np.random.default_rng(0)
    tags = np.array(["chat", "code", "safety", "math"] * 100, dtype=object)
    gold = rng.choice(np.array(["a", "b"], dtype=object), size=len(tags))
    wrong = np.where(tags == "math", rng.random(len(tags)) < 0.5, rng.random(len(tags)) < 0.05)
    judge = np.where(wrong, np.where(gold == "a", "b", "a"), gold).astype(object)

    def quality(routed):
        return label_accuracy(mixed_labels(judge, gold, routed), gold)

    names, phis, measured = random_mixes(tags, quality, n_mixes=40, seed=1)
    ppm = PerformancePredictor(names).fit(phis, measured)
    assert np.corrcoef(ppm.predict(phis), measured)[0, 1] > 0.95
    routed = greedy_route(tags, 100, ppm)
    assert len(routed) == 100 and (tags[routed] == "math").mean() > 0.9
    random_acc = np.mean([quality(route_at_random(len(tags), 100, seed=s)) for s in range(20)])
    assert quality(routed) > random_acc + 0.08


def test_confidence_routing_on_recorded_gpt_verdicts_with_human_labels(real_file):
    """PandaLM: gpt-3.5-turbo's recorded verdicts are the LM annotation, annotator 1 the human
    one, and the label annotators 2 and 3 agree on the gold (records where they disagree are
    left out).  Sending the judge's ties and unparsed verdicts to the person first beats random
    routing at a 5 % budget."""
    from prefkit import read
    from prefkit.judge.routing import as_labels, label_accuracy, routing_curve, verdict_probability

    judged = read(real_file("judges/*PandaLM*gpt-3.5-turbo-testset*.json"))
    humans = read(real_file("llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json"))
    votes: dict[str, dict[str, str]] = {}
    for pid, ann, win in zip(humans.column("pair_id"), humans.column("annotator_id"),
                             humans.column("winner"), strict=True):
        votes.setdefault(str(pid), {})[str(ann)] = str(win)
    verdict = dict(zip(map(str, judged.column("pair_id")), judged.column("winner"), strict=True))
    ids = [k for k, v in votes.items() if v["annotator2"] == v["annotator3"]]
    judge_p = verdict_probability([[verdict.get(k)] for k in ids])
    human = np.array([votes[k]["annotator1"] for k in ids], dtype=object)
    gold = np.array([votes[k]["annotator2"] for k in ids], dtype=object)
    curve = routing_curve(judge_p, human, gold, [0.0, 0.05, 0.1, 1.0], seeds=10)
    assert curve[0]["accuracy"] == pytest.approx(label_accuracy(as_labels(judge_p), gold))
    assert curve[-1]["accuracy"] == pytest.approx(label_accuracy(human, gold))
    for row in curve[1:3]:
        assert row["accuracy"] > row["random_range"][1]  # beyond random routing's range


# ------------------------------------------------------------------ P-GenRM (row 66)
GROUPS = {"polite": "please {}", "number": "{} at 9", "formal": "{}, regards"}


class PropertyWordEncoder:
    """Stand-in for MiniLM: counts of a few words (persona texts name the property)."""

    id, dim = "property-words", 4
    words = ("polite", "number", "formal", "brief")

    def encode(self, texts):
        return np.array([[t.count(w) for w in self.words] for t in texts], dtype=np.float32)


def _users(pairs_per_user: int, seed: int, start: int = 0) -> list[dict]:
    """Three users per group; the chosen answer has the group's property, the other answer a
    different group's property."""
    rng = np.random.default_rng(seed)
    rows = []
    names = list(GROUPS)
    for g, prop in enumerate(names):
        for u in range(3):
            for k in range(start, start + pairs_per_user):
                other = names[(g + 1 + int(rng.integers(0, 2))) % 3]
                base = f"visit {SUBJECTS[k % len(SUBJECTS)]}"
                mine, theirs = GROUPS[prop].format(base), GROUPS[other].format(base)
                first = bool(rng.random() < 0.5)
                rows.append({"user_id": f"{prop}-{u}", "prompt": f"plan {k} of user {u}",
                             "a_text": mine if first else theirs,
                             "b_text": theirs if first else mine,
                             "winner": "a" if first else "b"})
    return rows


def test_pgenrm_personas_prototypes_and_test_time_scaling():
    from prefkit.judge.pgenrm import PGenRM, parse_persona, user_prototypes

    history = PreferenceDataset.from_records(_users(3, seed=0), kind="pairwise")
    test = PreferenceDataset.from_records(_users(3, seed=1, start=10), kind="pairwise")
    llm = PrincipleLLM()
    model = PGenRM(llm, samples=1, prototypes=3, neighbours=2, alpha=1.0,
                   encoder=PropertyWordEncoder()).fit(history)
    # each user's persona names their group's property; the prototypes are the three groups
    for user, prof in model.profiles_.items():
        assert user.split("-")[0] in prof.persona
    protos = user_prototypes(model)
    for prop in GROUPS:
        assert len({protos[f"{prop}-{u}"] for u in range(3)}) == 1
    assert len(set(protos.values())) == 3
    assert model.neighbours_of("polite-0") == ["polite-1", "polite-2"]

    y = test.outcomes()

    def accuracy(**kw):
        for k, v in kw.items():
            setattr(model, k, v)
        p = model.predict_proba(test)
        return float(np.mean((p > 0.5) == (y > 0.5)))

    # test-time scaling on both axes: more evaluation chains (S) and the prototype's users
    one = accuracy(samples=1, alpha=1.0)
    one_blended = accuracy(samples=1, alpha=0.5)
    many = accuracy(samples=5, alpha=1.0)
    many_blended = accuracy(samples=5, alpha=0.5)
    assert one < many and one < one_blended and many <= many_blended
    assert many_blended >= 0.95 and one < 0.85
    assert parse_persona("Persona: likes code\n1. The response has code.").value == {
        "persona": "likes code", "rubric": ("The response has code.",)}
    assert not parse_persona("no persona here").parsed


# ------------------------------------------------------------------ over HTTP
@pytest.fixture(scope="module")
def openai_server(fake_judge):
    """The judge tests' OpenAI-compatible server (a real process on 127.0.0.1): it answers
    pairwise prompts by length, [[A]] for the longer answer shown as A."""
    with fake_judge() as (url, _):
        yield url


def test_icai_runs_over_an_openai_compatible_http_judge(openai_server):
    """The same ICAI code through the live HTTP backend: the server's judge prefers longer
    answers whatever the principle says, so on data where the longer answer won every tested
    principle gets all the votes and the constitution reconstructs every label."""
    import httpx

    from prefkit.judge.backends.openai_http import OpenAIChatBackend

    rows = [{"prompt": f"q{i}", "a_text": "yes" if i % 2 else "yes, and here is why",
             "b_text": "yes, and here is why" if i % 2 else "yes",
             "winner": "b" if i % 2 else "a"} for i in range(6)]
    ds = PreferenceDataset.from_records(rows, kind="pairwise")
    backend = OpenAIChatBackend(openai_server, "judge-test", api_key_env=None, concurrency=4)
    result = inverse_constitution(ds, backend, principles=[
        "Select the response that explains more.", "Select the response that is shorter."])
    assert [s.net for s in result.scores] == [1.0, 1.0]
    assert result.accuracy_with == 1.0 and result.accuracy_without == 1.0
    served = httpx.get(f"{openai_server}/stats", timeout=5).json()["chat"]
    assert served == result.stats.asked == 2 * 6 * 2 + 2 * 6 * 2
