"""A recorded judge served at /v1/compare, and a server killed (SIGKILL) in the middle of a load
burst: clients see connection errors, never a 5xx, and the restarted server — same model
directories, same embedding cache, which the killed one was writing — answers exactly as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serve_models import PAIRS, free_port, pairs_dataset

import prefkit
from helpers.serve_process import TOKEN, TOKEN_ENV, running
from prefkit import PreferenceDataset

#: (pair_id, verdict in order ab, verdict in order ba) — consistent, inconsistent, b, tie
VERDICTS = [("q1", "a", "a"), ("q2", "a", "b"), ("q3", "b", "b"), ("q4", "tie", "tie")]


def judgments() -> PreferenceDataset:
    return PreferenceDataset.from_records([
        {"pair_id": q, "order": order, "a": "model_x", "b": "model_y", "winner": w,
         "annotator_id": "judge-1", "prompt": f"question {q}"}
        for q, w1, w2 in VERDICTS for order, w in (("ab", w1), ("ba", w2))])


@pytest.fixture(scope="module")
def restart_dirs(model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, Path]:
    from prefkit.judge.live import LLMJudge
    from prefkit.judge.recorded import RecordedJudge

    judge = RecordedJudge(aggregation="consistent-only").fit(judgments())
    root = tmp_path_factory.mktemp("judge")
    live = LLMJudge(model=f"rm:{model_dirs['rm']}", aggregation="average").fit()
    return {"bt": model_dirs["bt"], "mix": model_dirs["mix"], "rm": model_dirs["rm"],
            "judge": prefkit.save(judge, root / "judge"), "live": prefkit.save(live, root / "live")}


class Restartable:
    """The server process of this module; the kill test replaces it with a restarted one."""

    def __init__(self, dirs: dict[str, Path], env: dict[str, str], root: Path) -> None:
        self.dirs, self.env, self.root, self.starts = dirs, env, root, 0
        self._context: Any = None

    def start(self) -> None:
        self.starts += 1
        port = free_port()
        command = [sys.executable, "-m", "prefkit", "serve",
                   *(f"--name={n}={d}" for n, d in self.dirs.items()),
                   "--host", "127.0.0.1", "--port", str(port), "--api-key-env", TOKEN_ENV,
                   "--embedding-cache", "--max-wait-ms", "5", "--log-level", "warning",
                   "--no-access-log"]
        self._context = running(command, self.env, self.root / f"server{self.starts}.log", port)
        self.process, self.url = self._context.__enter__()

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0,
                            headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="module")
def restartable(restart_dirs: dict[str, Path], serve_env: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("restart")
    env = {**serve_env, "PREFKIT_CACHE": str(root / "cache")}  # the server's own cache
    server = Restartable(restart_dirs, env, root)
    server.start()
    yield server
    server.stop()


def test_recorded_judge_answers_compare_by_pair_id(restartable: Restartable,
                                                   restart_dirs: dict[str, Path]) -> None:
    judge = prefkit.load(restart_dirs["judge"])
    with restartable.client() as client:
        card = next(m for m in client.get("/v1/models").json()["data"] if m["id"] == "judge")
        out = client.post("/v1/compare", json={"model": "judge", "pairs": [
            {"pair_id": "q1"}, {"pair_id": "q2"}, {"pair_id": "q3", "a": "model_x",
                                                   "b": "model_y"},
            {"pair_id": "q4"}, {"pair_id": "q1", "a": "model_y", "b": "model_x"}]})
        missing = client.post("/v1/compare", json={"model": "judge", "pairs": [{"a": "x",
                                                                                 "b": "y"}]})
        unknown = client.post("/v1/compare", json={"model": "judge", "pairs": [
            {"pair_id": "q1"}, {"pair_id": "q9"}]})
        wrong = client.post("/v1/compare", json={"model": "judge", "pairs": [
            {"pair_id": "q1", "a": "model_x", "b": "model_z"}]})
    assert card["inputs"] == "pair_ids" and card["n_pairs"] == 4
    assert card["endpoints"] == ["/v1/compare"] and card["class"] == "judge.RecordedJudge"
    assert out.status_code == 200, out.text
    # consistent-only: a consistent win, no verdict (null), a consistent loss, a tie; swapped
    assert out.json()["p_a"] == [1.0, None, 0.0, 0.5, 0.0]
    query = PreferenceDataset.from_records([
        {"pair_id": q, "a": "model_x", "b": "model_y", "winner": "a"} for q, *_ in VERDICTS])
    expected = judge.predict_proba(query)
    assert np.isnan(expected[1]) and list(expected[[0, 2, 3]]) == [1.0, 0.0, 0.5]
    assert missing.status_code == 422 and missing.json()["field"] == "pairs[0].pair_id"
    assert unknown.status_code == 422 and unknown.json()["field"] == "pairs[1].pair_id"
    assert "'q9'" in unknown.json()["error"]
    assert wrong.status_code == 422 and "model_z" in wrong.json()["error"]


def test_live_judge_is_served_like_a_text_model(restartable: Restartable,
                                                restart_dirs: dict[str, Path]) -> None:
    """An LLMJudge (here asking a reward model, ``rm:DIR``) answers /v1/compare for texts."""
    judge = prefkit.load(restart_dirs["live"])
    prompt = "What is 6 times 7?"
    pairs = [("The answer is 42.", "I have no idea."), ("I have no idea.", "The answer is 42.")]
    with restartable.client() as client:
        card = next(m for m in client.get("/v1/models").json()["data"] if m["id"] == "live")
        out = client.post("/v1/compare", json={"model": "live", "pairs": [
            {"a": a, "b": b, "prompt": prompt} for a, b in pairs]})
    assert card["class"] == "judge.LLMJudge" and card["inputs"] == "texts"
    assert card["endpoints"] == ["/v1/compare"]
    assert out.status_code == 200, out.text
    expected = judge.predict_proba(pairs_dataset(pairs, texts=True, prompts=[prompt] * 2))
    np.testing.assert_allclose(out.json()["p_a"], expected, rtol=0, atol=1e-6)
    assert abs(sum(out.json()["p_a"]) - 1.0) < 1e-6  # both orders averaged: symmetric


def _answers(server: Restartable, texts: list[tuple[str, str]]) -> dict[str, Any]:
    """The same fixed requests to every kind of model served."""
    with server.client() as client:
        out = {
            "bt": client.post("/v1/compare", json={"model": "bt", "pairs": [
                {"a": a, "b": b} for a, b in PAIRS]}).json()["p_a"],
            "mix": client.post("/v1/compare", json={"model": "mix", "pairs": [
                {"a": "item_00", "b": "item_01", "user_id": u} for u in
                ("u0", "u1", "stranger")]}).json(),
            "judge": client.post("/v1/compare", json={"model": "judge", "pairs": [
                {"pair_id": q} for q, *_ in VERDICTS]}).json()["p_a"],
            "rm": client.post("/get_reward?model=rm", json={
                "query": [p + r for p, r in texts], "prompts": [p for p, _ in texts]}
            ).json()["rewards"],
        }
    return out


def _fingerprint(dirs: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for directory in sorted(dirs.values()):
        for path in sorted(Path(directory).rglob("*")):
            if path.is_file():
                digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_killed_mid_load_restarts_with_identical_answers(restartable: Restartable,
                                                         restart_dirs: dict[str, Path],
                                                         local: dict[str, Any]) -> None:
    fixed = [(f"Fixed question {k}?", f" Fixed answer {k}.") for k in range(8)]
    before = _answers(restartable, fixed)
    models_before = _fingerprint(restart_dirs)
    burst_texts = [(f"Burst question {k}?", f" Burst answer number {k}.") for k in range(200)]
    outcomes: list[str] = []

    async def one(client: httpx.AsyncClient, k: int) -> None:
        prompt, response = burst_texts[k]
        try:
            reply = await client.post("/get_reward?model=rm", json={
                "query": [prompt + response], "prompts": [prompt]})
            outcomes.append(str(reply.status_code))
        except httpx.TransportError as err:  # the server died under this request
            outcomes.append(type(err).__name__)

    async def burst() -> None:
        async with httpx.AsyncClient(base_url=restartable.url, timeout=30.0,
                                     headers={"Authorization": f"Bearer {TOKEN}"},
                                     limits=httpx.Limits(max_connections=32)) as client:
            tasks = [asyncio.create_task(one(client, k)) for k in range(len(burst_texts))]
            while outcomes.count("200") < 10:  # the server is busy answering: kill it
                await asyncio.sleep(0.01)
            os.kill(restartable.process.pid, signal.SIGKILL)
            await asyncio.gather(*tasks)

    asyncio.run(burst())
    assert restartable.process.wait(timeout=10) == -signal.SIGKILL
    answered = outcomes.count("200")
    errors = [o for o in outcomes if o != "200"]
    assert not [o for o in errors if o.isdigit()], sorted(set(errors))  # no 5xx, no 4xx
    assert answered >= 10 and errors, (answered, len(errors))  # killed mid-load
    assert all(e in ("RemoteProtocolError", "ReadError", "ConnectError", "WriteError")
               for e in errors), sorted(set(errors))
    restartable.stop()
    restartable.start()  # the same directories, the cache the killed server was writing
    after = _answers(restartable, fixed)
    assert after == before
    assert _fingerprint(restart_dirs) == models_before  # serving never writes a model
    # the texts of the burst (some cached before the kill, some half-written) score as fresh
    sample = burst_texts[::40]  # 5 texts
    with restartable.client() as client:
        again = client.post("/get_reward?model=rm", json={
            "query": [p + r for p, r in sample], "prompts": [p for p, _ in sample]})
    assert again.status_code == 200, again.text
    np.testing.assert_allclose(again.json()["rewards"], local["rm"].reward_texts(
        [p for p, _ in sample], [r for _, r in sample]), rtol=0, atol=1e-5)
    expected_bt = local["bt"].predict_proba(pairs_dataset(PAIRS))
    np.testing.assert_allclose(after["bt"], expected_bt, rtol=0, atol=1e-9)
