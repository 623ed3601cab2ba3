"""Faults inside the app (in-process, lifespan included): a failing model answers 500 with an
id and no traceback, a full queue answers 503 with Retry-After, neighbours are unharmed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from prefkit.serve import ServeSettings, create_app
from prefkit.serve.served import wrap


class StandInModel:
    """Rewards = text lengths; 'boom' raises, every call takes ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def reward_texts(self, prompts, responses):
        time.sleep(self.delay)
        if "boom" in responses:
            raise RuntimeError("secret internal detail /home/someone/weights.bin")
        return np.array([float(len(r)) for r in responses])

    def predict_proba(self, ds):
        return np.full(len(ds), 0.5)


def app_with(delay: float, **settings):
    return create_app({"standin": wrap("standin", "standin/", StandInModel(delay))},
                      ServeSettings(**settings))


def test_model_failure_is_500_with_id_and_neighbours_are_answered():
    with TestClient(app_with(0.05, max_wait_ms=50), raise_server_exceptions=False) as client, \
            ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client.post, "/v1/score", json={"responses": [text]})
                   for text in ("ok", "boom", "three", "four")]
        replies = [f.result() for f in futures]
    bad = replies[1]
    assert bad.status_code == 500
    body = bad.json()
    assert set(body) == {"error", "id"} and body["id"] in body["error"]
    assert "secret" not in bad.text and "Traceback" not in bad.text
    assert [r.json()["rewards"] for r in (replies[0], replies[2], replies[3])] == [
        [2.0], [5.0], [4.0]]


def test_full_queue_answers_503_with_retry_after():
    with TestClient(app_with(0.3, max_batch=1, max_wait_ms=0, max_queue=1)) as client, \
            ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda k: client.post("/v1/score",
                                                      json={"responses": [f"r{k}"]}), range(8)))
        metrics = client.get("/metrics").text
    codes = sorted(r.status_code for r in replies)
    assert 503 in codes and 200 in codes and set(codes) <= {200, 503}
    for reply in replies:
        if reply.status_code == 503:
            assert reply.headers["retry-after"] == "1"
            assert reply.json()["error"].startswith("overloaded")
    assert 'prefkit_serve_overload_total{model="standin"}' in metrics
    assert 'route="/v1/score",status="503"' in metrics
