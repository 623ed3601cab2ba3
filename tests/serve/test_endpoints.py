"""Answers over real HTTP equal the in-process model contract (to 1e-6)."""

from __future__ import annotations

import numpy as np
from serve_models import ITEMS, PAIRS, pairs_dataset


def test_health_and_models_list(server):
    with server.client(token=None) as open_client:
        assert open_client.get("/health").json() == {"status": "ok",
                                                     "models": ["bt", "dav", "mix", "rm"]}
    with server.client() as client:
        cards = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert cards["bt"]["class"] == "choice.BradleyTerry" and cards["bt"]["ties"] is False
    assert cards["dav"]["ties"] is True
    assert cards["mix"]["users"] is True and "/v1/score" not in cards["mix"]["endpoints"]
    assert cards["rm"]["inputs"] == "texts" and "/get_reward" in cards["rm"]["endpoints"]


def test_choice_scores_and_pairs_equal_in_process(server, local):
    with server.client() as client:
        scored = client.post("/v1/score", json={"model": "bt", "items": ITEMS[::-1]}).json()
        compared = client.post("/v1/compare", json={
            "model": "bt", "pairs": [{"a": a, "b": b} for a, b in PAIRS]}).json()
    np.testing.assert_allclose(scored["rewards"], local["bt"].item_scores(ITEMS[::-1]),
                               rtol=0, atol=1e-6)
    expected = local["bt"].predict_proba(pairs_dataset(PAIRS))
    np.testing.assert_allclose(compared["p_a"], expected, rtol=0, atol=1e-6)
    assert compared["p_tie"] is None
    # a property that could fail: P(a ≻ b) + P(b ≻ a) = 1 for Bradley–Terry
    p = dict(zip(PAIRS, compared["p_a"], strict=True))
    assert max(abs(p[a, b] + p[b, a] - 1) for a, b in PAIRS) < 1e-9


def test_ties_model_reports_tie_probability(server, local):
    with server.client() as client:
        out = client.post("/v1/compare", json={
            "model": "dav", "pairs": [{"a": a, "b": b} for a, b in PAIRS]}).json()
    expected = local["dav"].predict_outcome_proba(pairs_dataset(PAIRS))
    np.testing.assert_allclose(out["p_a"], expected[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["p_tie"], expected[:, 2], rtol=0, atol=1e-6)
    assert min(out["p_tie"]) > 0.01  # simulated with ties: Davidson puts mass on them


def test_plural_user_and_unknown_user_population_answer(server, local):
    model = local["mix"]
    known = sorted(model.users_)[:3]
    users = [known[k % 3] for k in range(len(PAIRS))]
    with server.client() as client:
        per_user = client.post("/v1/compare", json={
            "model": "mix",
            "pairs": [{"a": a, "b": b, "user_id": u} for (a, b), u in zip(PAIRS, users,
                                                                          strict=True)],
        }).json()
        stranger = client.post("/v1/compare", json={
            "model": "mix", "user_id": "never-seen",
            "pairs": [{"a": a, "b": b} for a, b in PAIRS]}).json()
    np.testing.assert_allclose(per_user["p_a"], model.predict_proba(pairs_dataset(PAIRS, users)),
                               rtol=0, atol=1e-6)
    assert per_user["unknown_users"] == []
    population = model.predict_proba(pairs_dataset(PAIRS, ["never-seen"] * len(PAIRS)))
    np.testing.assert_allclose(stranger["p_a"], population, rtol=0, atol=1e-6)
    # the population answer in closed form: P = Σ_k π_k σ(θ_ka − θ_kb), π the mixture's prior
    index = {item: k for k, item in enumerate(model.items_)}
    closed = [float(np.sum(model.weights_ / (1 + np.exp(-(model.components_[:, index[a]]
                                                         - model.components_[:, index[b]])))))
              for a, b in PAIRS]
    np.testing.assert_allclose(stranger["p_a"], closed, rtol=0, atol=1e-9)
    assert stranger["unknown_users"] == ["never-seen"]
    assert stranger["user_known"] == [False] * len(PAIRS)
    assert per_user["user_known"] == [True] * len(PAIRS)
    # the users really differ from the population somewhere (else the test proves nothing)
    assert np.max(np.abs(np.array(per_user["p_a"]) - population)) > 1e-3


def test_reward_model_scores_equal_reward_texts(server, local):
    prompt = "What is 6 times 7?"
    responses = ["The answer is 42.", "**Answer: 41**", "I think it is 42, happy to help!"]
    with server.client() as client:
        out = client.post("/v1/score", json={"model": "rm", "prompt": prompt,
                                             "responses": responses}).json()
        pairs = client.post("/v1/compare", json={"model": "rm", "pairs": [
            {"a": responses[0], "b": responses[1], "prompt": prompt}]}).json()
    expected = local["rm"].reward_texts([prompt] * 3, responses)
    np.testing.assert_allclose(out["rewards"], expected, rtol=0, atol=1e-6)
    ds = pairs_dataset([(responses[0], responses[1])], texts=True, prompts=[prompt])
    np.testing.assert_allclose(pairs["p_a"], local["rm"].predict_proba(ds), rtol=0, atol=1e-6)


def test_openrlhf_get_reward_exact_json(server, local):
    """The body OpenRLHF's remote_rm_fn posts: query = prompt + response, prompts, labels."""
    prompts = ["<|user|>How many legs has a spider?<|assistant|>",
               "<|user|>Name a prime number.<|assistant|>"]
    responses = [" Eight legs.", " 9 is prime."]
    body = {"query": [p + r for p, r in zip(prompts, responses, strict=True)],
            "prompts": prompts, "labels": ["8", ""]}
    with server.client() as client:
        reply = client.post("/get_reward", json=body,
                            headers={"Content-Type": "application/json"})
        without_prompts = client.post("/get_reward?model=rm", json={"query": body["query"]})
    assert reply.status_code == 200
    out = reply.json()
    assert set(out) == {"rewards", "scores", "extra_logs"}
    expected = local["rm"].reward_texts(prompts, responses)
    np.testing.assert_allclose(out["rewards"], expected, rtol=0, atol=1e-6)
    assert out["scores"] == out["rewards"]
    assert all(len(v) == 2 for v in out["extra_logs"].values())
    whole = local["rm"].reward_texts([None, None], body["query"])
    np.testing.assert_allclose(without_prompts.json()["rewards"], whole, rtol=0, atol=1e-6)


def test_model_errors_are_one_line_json(server):
    with server.client() as client:
        unknown_model = client.post("/v1/score", json={"model": "nope", "items": ["a"]})
        unknown_item = client.post("/v1/compare", json={
            "model": "bt", "pairs": [{"a": "item_00", "b": "item_99"}]})
        no_scores = client.post("/v1/score", json={"model": "mix", "items": ["item_00"]})
        which = client.post("/v1/score", json={"items": ["item_00"]})
    assert unknown_model.status_code == 404 and unknown_model.json()["field"] == "model"
    assert unknown_item.status_code == 422 and "item_99" in unknown_item.json()["error"]
    assert no_scores.status_code == 422 and no_scores.json()["field"] == "items"
    assert which.status_code == 422 and "4 models" in which.json()["error"]
    for reply in (unknown_model, unknown_item, no_scores, which):
        assert "\n" not in reply.text and "Traceback" not in reply.text


def test_openapi_lists_every_route(server):
    with server.client() as client:
        paths = set(client.get("/openapi.json").json()["paths"])
        assert client.get("/docs").status_code == 200
    assert {"/v1/score", "/v1/compare", "/get_reward", "/v1/models", "/health",
            "/metrics"} <= paths
