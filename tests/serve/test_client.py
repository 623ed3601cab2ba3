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
