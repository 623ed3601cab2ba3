"""``prefkit.serve.Client``: a served model with the local contract (one line to switch)."""

from __future__ import annotations

import numpy as np
import pytest
from serve_models import items_data, texts_data, users_data

from prefkit.evaluate import evaluate
from prefkit.serve import Client, RemoteError


def first(ds, n):
    return ds.take(np.arange(min(n, len(ds))))


@pytest.mark.parametrize("name,data", [("bt", items_data), ("dav", items_data),
                                       ("mix", users_data), ("rm", texts_data)])
def test_remote_predictions_and_evaluate_equal_local(server, local, name, data):
    ds = first(data(), 120)
    with Client(server.url, name, token=server.token, chunk=50) as remote:
        np.testing.assert_allclose(remote.predict_proba(ds), local[name].predict_proba(ds),
                                   rtol=0, atol=1e-6)
        got, want = evaluate(remote, ds), evaluate(local[name], ds)
    compared = [k for k, v in want.items() if isinstance(v, float)]
    assert "accuracy" in compared and "log_loss" in compared
    for key in compared:
        assert got[key] == pytest.approx(want[key], abs=1e-6, nan_ok=True), key


def test_remote_rewards_and_item_scores(server, local):
    prompts = ["What is 2+2?", None, "Say hi."]
    responses = ["4", "plain text without a prompt", "Hi!"]
    with Client(server.url, "rm", token=server.token) as remote:
        np.testing.assert_allclose(remote.reward_texts(prompts, responses),
                                   local["rm"].reward_texts(prompts, responses), atol=1e-6)
        ds = first(texts_data(), 10)
        np.testing.assert_allclose(remote.reward(ds), local["rm"].reward(ds), atol=1e-6)
    items = ["item_03", "item_00"]
    with Client(server.url, "bt", token=server.token) as remote:
        np.testing.assert_allclose(remote.item_scores(items), local["bt"].item_scores(items),
                                   atol=1e-6)


def test_client_errors_are_one_line(server):
    with pytest.raises(RemoteError, match="401"):
        Client(server.url, "bt", token="wrong")
    with pytest.raises(RemoteError, match="name one"):
        Client(server.url, token=server.token)
    with pytest.raises(RemoteError, match="does not serve"):
        Client(server.url, "nope", token=server.token)
    with Client(server.url, "mix", token=server.token) as remote, \
            pytest.raises(RemoteError, match=r"422.*scalar"):
        remote.item_scores(["item_00"])


def test_remote_model_is_a_drop_in_reward_for_best_of_n_and_rso(server, local):
    """One line switches the reward of best-of-N and RSO between the local and served model."""
    from prefkit.align.sampling import best_of_n, rejection_sample

    prompts = ["What is 2+2?", "Say hi."]
    candidates = [["4", "five", "2+2 is 4.", "I don't know"], ["Hi!", "no", "Hello there."]]
    with Client(server.url, "rm", token=server.token) as remote:
        for model in (local["rm"], remote):  # the one line that changes
            picked = best_of_n(prompts, candidates,
                               lambda p, texts, m=model: m.reward_texts([p] * len(texts), texts))
            if model is local["rm"]:
                want = picked
        assert [r["index"] for r in picked] == [r["index"] for r in want]
        for got_row, want_row in zip(picked, want, strict=True):
            np.testing.assert_allclose(got_row["scores"], want_row["scores"], atol=1e-6)
        rewards = remote.reward_texts([prompts[0]] * 4, candidates[0])
    local_rewards = local["rm"].reward_texts([prompts[0]] * 4, candidates[0])
    assert rejection_sample(rewards, beta=0.5, k=2, seed=3) == rejection_sample(
        local_rewards, beta=0.5, k=2, seed=3)
