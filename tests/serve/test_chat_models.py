"""Language models and more model kinds over HTTP, each against its in-process answer.

One real ``prefkit serve`` process on 127.0.0.1 serves: ``tiny`` (a Hugging Face causal-LM
folder written by :func:`prefkit.align.tiny.build_tiny`), ``dpo`` (a 10-step DPO align run of
it, opened by ``prefkit.load`` → ``DPOPolicy``: compare, score and chat), ``gpm`` (a general
preference reward model: compare only) and ``crowd`` (a Crowd-BT model of annotated items).
The requests are the exact JSON an OpenAI client sends.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import httpx  # noqa: E402
from serve_models import free_port, pairs_dataset, texts_data  # noqa: E402

import prefkit  # noqa: E402
from helpers.serve_process import TOKEN, TOKEN_ENV, running  # noqa: E402

MAX_QUEUE = 4
MESSAGES = [{"role": "system", "content": "be kind"},
            {"role": "user", "content": "tell me about the cat ?"}]


@pytest.fixture(scope="module")
def lm_dirs(tmp_path_factory: pytest.TempPathFactory, serve_env: dict[str, str]
            ) -> dict[str, Path]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefkit.align.tiny import build_tiny, synthetic_preferences
    from prefkit.align.trainer import AlignConfig, AlignTrainer
    from prefkit.quality import CrowdBT
    from prefkit.quality.simulate import simulate_annotators
    from prefkit.reward import RewardModel

    root = tmp_path_factory.mktemp("lm")
    build_tiny(root / "tiny", steps=40)
    run = root / "dpo"
    shutil.copytree(root / "tiny", run / "base")
    model = AutoModelForCausalLM.from_pretrained(run / "base")
    tok = AutoTokenizer.from_pretrained(run / "base")
    cfg = AlignConfig(loss="dpo", beta=0.1, learning_rate=3e-3, max_steps=10, batch_size=8)
    AlignTrainer(model, tok, cfg, base=str((run / "base").resolve())).train(
        synthetic_preferences(64, seed=0), out_dir=run)
    gpm = prefkit.save(RewardModel(None, "gpm", epochs=20).fit(texts_data()), root / "gpm")
    crowd = prefkit.save(CrowdBT().fit(simulate_annotators(
        n_items=8, n_comparisons=200, seed=4).dataset), root / "crowd")
    return {"tiny": root / "tiny", "dpo": run, "gpm": gpm, "crowd": crowd}


@pytest.fixture(scope="module")
def lm_process(lm_dirs: dict[str, Path], serve_env: dict[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The server process and its URL; a small queue (``MAX_QUEUE``) for the overload test."""
    port = free_port()
    log = tmp_path_factory.mktemp("lm-server") / "server.log"
    command = [sys.executable, "-m", "prefkit", "serve",
               *(f"--name={name}={path}" for name, path in lm_dirs.items()),
               "--host", "127.0.0.1", "--port", str(port), "--api-key-env", TOKEN_ENV,
               "--log-level", "warning", "--no-access-log", "--max-text-chars", "2000",
               "--max-queue", str(MAX_QUEUE)]
    with running(command, serve_env, log, port) as (process, url):
        yield process, url


@pytest.fixture(scope="module")
def lm_server(lm_process: Any) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=lm_process[1], timeout=60.0, headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def tiny_local(lm_dirs: dict[str, Path]) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = lm_dirs["tiny"]
    return (AutoModelForCausalLM.from_pretrained(path).eval(),
            AutoTokenizer.from_pretrained(path))


def _chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/chat/completions", json={"model": "tiny", "messages": MESSAGES,
                                                          **body})
    assert response.status_code == 200, response.text
    return response.json()


def _reference(tiny_local: tuple[Any, Any], max_new: int) -> tuple[list[int], list[int]]:
    """Prompt ids and greedy continuation of ``model.generate`` in this process."""
    model, tok = tiny_local
    prompt = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True)
    if hasattr(prompt, "keys"):
        prompt = prompt["input_ids"]
    ids = torch.tensor([list(prompt)])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=max_new, pad_token_id=tok.pad_token_id)
    new = out[0, ids.shape[1]:].tolist()
    if tok.eos_token_id in new:
        new = new[: new.index(tok.eos_token_id) + 1]
    return list(prompt), new


def test_greedy_chat_equals_in_process_generate_with_usage(lm_server, tiny_local) -> None:
    out = _chat(lm_server, temperature=0, max_tokens=24)
    prompt, new = _reference(tiny_local, 24)
    _, tok = tiny_local
    (choice,) = out["choices"]
    assert out["object"] == "chat.completion" and out["model"] == "tiny"
    assert out["id"].startswith("chatcmpl-")
    assert choice["message"] == {"role": "assistant",
                                 "content": tok.decode(new, skip_special_tokens=True)}
    assert choice["message"]["content"]
    assert out["usage"] == {"prompt_tokens": len(prompt), "completion_tokens": len(new),
                            "total_tokens": len(prompt) + len(new)}
    ended = bool(new) and new[-1] == tok.eos_token_id
    assert choice["finish_reason"] == ("stop" if ended else "length")
    short = _chat(lm_server, temperature=0, max_tokens=3)
    assert short["usage"]["completion_tokens"] == 3
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["choices"][0]["message"]["content"] == tok.decode(new[:3],
                                                                   skip_special_tokens=True)


def test_logprobs_are_the_models_own_next_token_distribution(lm_server, tiny_local) -> None:
    model, tok = tiny_local
    out = _chat(lm_server, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3)
    prompt, new = _reference(tiny_local, 6)
    content = out["choices"][0]["logprobs"]["content"]
    assert len(content) == len(new) == out["usage"]["completion_tokens"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + new])).logits[0]
    expected = torch.log_softmax(logits.float(), dim=-1)[len(prompt) - 1: -1]
    for step, (entry, token) in enumerate(zip(content, new, strict=True)):
        assert entry["token"] == tok.decode([token])
        assert entry["bytes"] == list(entry["token"].encode("utf-8"))
        assert entry["logprob"] == pytest.approx(float(expected[step, token]), abs=1e-4)
        top = entry["top_logprobs"]
        assert len(top) == 3
        values, ids = expected[step].topk(3)
        assert [t["token"] for t in top] == [tok.decode([int(i)]) for i in ids]
        assert [t["logprob"] for t in top] == pytest.approx(values.tolist(), abs=1e-4)
        assert top[0]["token"] == entry["token"]  # greedy takes the most probable token


def test_sampling_is_seeded_and_n_choices_add_up(lm_server) -> None:
    body = {"temperature": 1.0, "top_p": 0.9, "n": 3, "seed": 7, "max_tokens": 12}
    first, again = _chat(lm_server, **body), _chat(lm_server, **body)
    texts = [c["message"]["content"] for c in first["choices"]]
    assert texts == [c["message"]["content"] for c in again["choices"]]
    assert [c["index"] for c in first["choices"]] == [0, 1, 2]
    assert len(set(texts)) > 1  # three samples, not three copies
    usage = first["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 3 <= usage["completion_tokens"] <= 3 * 12


def test_greedy_n_choices_are_n_copies_counted_n_times(lm_server) -> None:
    one = _chat(lm_server, temperature=0, max_tokens=10)
    three = _chat(lm_server, temperature=0, max_tokens=10, n=3, logprobs=True)
    assert [c["index"] for c in three["choices"]] == [0, 1, 2]
    for choice in three["choices"]:
        assert choice["message"] == one["choices"][0]["message"]
        assert len(choice["logprobs"]["content"]) == one["usage"]["completion_tokens"]
    assert three["usage"]["completion_tokens"] == 3 * one["usage"]["completion_tokens"]
    assert three["usage"]["prompt_tokens"] == one["usage"]["prompt_tokens"]


def test_stop_strings_end_a_choice(lm_server, tiny_local) -> None:
    plain = _chat(lm_server, temperature=0, max_tokens=24)["choices"][0]["message"]["content"]
    assert "." in plain
    out = _chat(lm_server, temperature=0, max_tokens=24, stop=["."])
    choice = out["choices"][0]
    assert choice["message"]["content"] == plain[: plain.index(".")]
    assert choice["finish_reason"] == "stop"


def test_models_list_what_each_kind_answers(lm_server) -> None:
    data = {m["id"]: m for m in lm_server.get("/v1/models").json()["data"]}
    assert data["tiny"]["endpoints"] == ["/v1/chat/completions"]
    assert data["dpo"]["endpoints"] == ["/v1/score", "/v1/compare", "/get_reward",
                                        "/v1/chat/completions"]
    assert data["gpm"]["endpoints"] == ["/v1/compare"]
    assert data["crowd"]["endpoints"] == ["/v1/score", "/v1/compare"]
    assert data["crowd"]["class"] == "quality.CrowdBT"
    for card in data.values():  # the fields of OpenAI's model object
        assert card["object"] == "model" and card["owned_by"] == "prefkit"
        assert isinstance(card["created"], int) and card["created"] > 1_600_000_000


def test_dpo_policy_compare_score_and_chat_match_in_process(lm_server, lm_dirs) -> None:
    policy = prefkit.load(lm_dirs["dpo"])
    prompt = "tell me about the cat ?"
    good, bad = "sure ! the cat is kind .", "no . the cat is rude ."
    score = lm_server.post("/v1/score", json={"model": "dpo", "prompt": prompt,
                                              "responses": [good, bad]})
    assert score.status_code == 200, score.text
    expected = policy.reward_texts([prompt, prompt], [good, bad])
    np.testing.assert_allclose(score.json()["rewards"], expected, rtol=1e-4, atol=1e-5)
    compare = lm_server.post("/v1/compare", json={"model": "dpo", "pairs": [
        {"a": good, "b": bad, "prompt": prompt}, {"a": bad, "b": good, "prompt": prompt}]})
    assert compare.status_code == 200, compare.text
    ds = pairs_dataset([(good, bad), (bad, good)], texts=True, prompts=[prompt, prompt])
    np.testing.assert_allclose(compare.json()["p_a"], policy.predict_proba(ds), atol=1e-5)
    chat = lm_server.post("/v1/chat/completions", json={
        "model": "dpo", "messages": MESSAGES, "temperature": 0, "max_tokens": 8})
    assert chat.status_code == 200, chat.text
    assert chat.json()["usage"]["completion_tokens"] >= 1


def test_gpm_compares_and_refuses_scalar_scores(lm_server, lm_dirs) -> None:
    gpm = prefkit.load(lm_dirs["gpm"])
    texts = ["a kind answer", "a rude answer", "a calm answer"]
    pairs = [(texts[0], texts[1]), (texts[1], texts[2]), (texts[2], texts[0])]
    out = lm_server.post("/v1/compare", json={
        "model": "gpm", "pairs": [{"a": a, "b": b, "prompt": "q"} for a, b in pairs]})
    assert out.status_code == 200, out.text
    expected = gpm.predict_proba(pairs_dataset(pairs, texts=True, prompts=["q"] * 3))
    np.testing.assert_allclose(out.json()["p_a"], expected, atol=1e-5)
    refused = lm_server.post("/v1/score", json={"model": "gpm", "prompt": "q",
                                                "responses": texts})
    assert refused.status_code == 422
    assert "this model has no scalar reward" in refused.json()["error"]
    assert lm_server.post("/get_reward?model=gpm", json={"query": ["q a"]}).status_code == 422


def test_crowd_bt_compares_and_scores_items_like_in_process(lm_server, lm_dirs) -> None:
    crowd = prefkit.load(lm_dirs["crowd"])
    items = list(crowd.items_)
    pairs = [(items[0], items[1]), (items[2], items[0]), (items[3], items[5])]
    out = lm_server.post("/v1/compare", json={
        "model": "crowd", "pairs": [{"a": a, "b": b} for a, b in pairs]})
    assert out.status_code == 200, out.text
    np.testing.assert_allclose(out.json()["p_a"], crowd.predict_proba(pairs_dataset(pairs)),
                               atol=1e-9)
    scores = lm_server.post("/v1/score", json={"model": "crowd", "items": items})
    assert scores.status_code == 200, scores.text
    np.testing.assert_allclose(scores.json()["rewards"], crowd.item_scores(items), atol=1e-9)
    unknown = lm_server.post("/v1/score", json={"model": "crowd", "items": ["nobody"]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "items"


def test_context_length_is_respected(lm_server, tiny_local) -> None:
    from prefkit.serve.chat import ChatModel

    model, tok = tiny_local
    context = model.config.max_position_embeddings
    chat = ChatModel(model, tok)
    assert chat._room(context - 8, 4096) == 8 and chat._room(10, 5) == 5
    out = _chat(lm_server, temperature=0.5, seed=1, max_tokens=4096)
    assert out["usage"]["total_tokens"] <= context
    long = [{"role": "user", "content": " ".join(["cat"] * (context + 5))}]
    refused = lm_server.post("/v1/chat/completions", json={"model": "tiny", "messages": long})
    assert refused.status_code == 422 and refused.json()["field"] == "messages"
    assert f"context holds {context}" in refused.json()["error"]


def test_only_causal_lm_folders_are_opened_as_language_models(lm_dirs, tmp_path) -> None:
    from prefkit.serve.chat import is_hf_causal_lm

    assert is_hf_causal_lm(lm_dirs["tiny"])
    assert not any(is_hf_causal_lm(lm_dirs[name]) for name in ("dpo", "gpm", "crowd"))
    classifier = tmp_path / "rm"
    classifier.mkdir()
    (classifier / "config.json").write_text(
        '{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}')
    assert not is_hf_causal_lm(classifier)
    marked = tmp_path / "legacy"
    shutil.copytree(lm_dirs["tiny"], marked)
    (marked / "prefkit_rm.json").write_text("{}")
    assert not is_hf_causal_lm(marked)


def test_a_chat_template_that_refuses_the_turns_is_a_422(lm_dirs) -> None:
    from prefkit.serve.chat import ChatRequest, load_chat_model
    from prefkit.serve.served import RequestError

    chat = load_chat_model(lm_dirs["tiny"])
    chat.tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tools') }}"
        "{% endif %}{{ m['content'] }}{% endfor %}")
    request = ChatRequest(messages=[{"role": "tool", "content": "x"}], max_tokens=2)
    with pytest.raises(RequestError, match="refuses them \\(no tools\\)") as err:
        chat.complete(request, "tiny")
    assert err.value.status == 422 and err.value.field == "messages"


BAD_CHATS: list[tuple[dict[str, Any], int, str]] = [
    ({"model": "tiny", "messages": []}, 422, "messages"),
    ({"model": "tiny"}, 422, "messages"),
    ({"model": "tiny", "messages": [{"content": "hi"}]}, 422, "messages[0].role"),
    ({"model": "tiny", "messages": MESSAGES, "temperature": -1}, 422, "temperature"),
    ({"model": "tiny", "messages": MESSAGES, "temperature": "hot"}, 422, "temperature"),
    ({"model": "tiny", "messages": MESSAGES, "top_p": 0}, 422, "top_p"),
    ({"model": "tiny", "messages": MESSAGES, "n": 0}, 422, "n"),
    ({"model": "tiny", "messages": MESSAGES, "n": 1000}, 422, "n"),
    ({"model": "tiny", "messages": MESSAGES, "max_tokens": 0}, 422, "max_tokens"),
    ({"model": "tiny", "messages": MESSAGES, "max_tokens": 10**9}, 422, "max_tokens"),
    ({"model": "tiny", "messages": MESSAGES, "stop": [""]}, 422, "stop"),
    ({"model": "tiny", "messages": MESSAGES, "top_logprobs": 3}, 422, ""),
    ({"model": "tiny", "messages": MESSAGES, "top_logprobs": 50, "logprobs": True}, 422,
     "top_logprobs"),
    ({"model": "tiny", "messages": MESSAGES, "stream": True}, 422, ""),
    ({"model": "tiny", "messages": [{"role": "user", "content": "x" * 3000}]}, 413,
     "messages[0].content"),
    ({"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     422, "messages[0].content"),
    ({"model": "nope", "messages": MESSAGES}, 404, "model"),
    ({"model": "gpm", "messages": MESSAGES}, 422, "model"),
    ({"messages": MESSAGES}, 422, "model"),  # two language models served: name one
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_CHATS)
def test_bad_chat_requests_are_one_line_4xx(lm_server, body, status, field) -> None:
    response = lm_server.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert "\n" not in error["error"] and "Traceback" not in error["error"]
    if field:
        assert error["field"] == field


def test_chat_needs_the_token_and_chat_models_do_not_compare(lm_server) -> None:
    url = str(lm_server.base_url)
    anonymous = httpx.post(f"{url}/v1/chat/completions", timeout=30,
                           json={"model": "tiny", "messages": MESSAGES})
    assert anonymous.status_code == 401
    refused = lm_server.post("/v1/compare", json={"model": "tiny", "pairs": [{"a": "x",
                                                                             "b": "y"}]})
    assert refused.status_code == 422 and "chat" in refused.json()["error"]
    metrics = lm_server.get("/metrics").text
    assert 'prefkit_serve_batch_size_count{model="tiny",op="chat"}' in metrics


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_overload_answers_503_with_retry_after_and_recovers(lm_process, lm_server) -> None:
    """Far more clients than the queue holds (a real process on loopback): 503 + Retry-After
    for the excess, never a 5xx of another kind, memory bounded, the same answers afterwards."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's memory")
    process, url = lm_process
    body = {"model": "tiny", "messages": MESSAGES, "temperature": 0, "max_tokens": 16}
    before = _chat(lm_server, **{k: v for k, v in body.items() if k not in ("model",
                                                                            "messages")})
    rss_before = _rss_bytes(process.pid)
    clients = 25 * MAX_QUEUE

    async def storm() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60.0,
                                     headers={"Authorization": f"Bearer {TOKEN}"},
                                     limits=httpx.Limits(max_connections=clients)) as client:
            return list(await asyncio.gather(*(client.post("/v1/chat/completions", json=body)
                                               for _ in range(clients))))

    replies = asyncio.run(storm())
    codes = [r.status_code for r in replies]
    assert set(codes) <= {200, 503}, sorted(set(codes))
    assert codes.count(503) >= clients // 4 and codes.count(200) >= 1
    for reply in replies:
        if reply.status_code == 503:
            assert reply.headers["retry-after"] == "1"
            assert reply.json()["error"].startswith("overloaded")
        else:
            assert reply.json()["choices"][0]["message"] == before["choices"][0]["message"]
    assert _rss_bytes(process.pid) - rss_before < 200 * 2**20
    after = _chat(lm_server, temperature=0, max_tokens=16)  # recovered: same greedy answer
    assert after["choices"] == before["choices"]
    assert lm_server.get("/health").status_code == 200
    metrics = lm_server.get("/metrics").text
    overloads = [line for line in metrics.splitlines()
                 if line.startswith('prefkit_serve_overload_total{model="tiny"}')]
    assert overloads and float(overloads[0].split()[-1]) >= codes.count(503)


def _chat_metrics(client: httpx.Client) -> tuple[float, float]:
    """(model calls, requests) of the ``tiny`` chat queue so far, from /metrics."""
    text = client.get("/metrics").text
    values = {}
    for key in ("count", "sum"):
        line = next(x for x in text.splitlines()
                    if x.startswith(f'prefkit_serve_batch_size_{key}{{model="tiny",op="chat"}}'))
        values[key] = float(line.split()[-1])
    return values["count"], values["sum"]


def test_concurrent_greedy_chats_are_batched_and_equal_one_by_one(lm_process, lm_server
                                                                  ) -> None:
    """Four different greedy requests, one by one and then all at once: the concurrent ones
    share generate calls (left-padded) and get exactly the same tokens back."""
    subjects = ["cat", "dog", "bird", "river"][:MAX_QUEUE]  # the queue holds MAX_QUEUE
    bodies = [{"model": "tiny", "temperature": 0, "max_tokens": 6 + 3 * k,
               "logprobs": k % 2 == 0, "top_logprobs": 2 if k % 2 == 0 else None,
               "messages": ([{"role": "system", "content": "be kind"}] if k % 3 else []) + [
                   {"role": "user", "content": f"describe the {s} ?"}]}
              for k, s in enumerate(subjects)]
    one_by_one = [_chat(lm_server, **{k: v for k, v in b.items() if k != "model"})
                  for b in bodies]
    calls0, requests0 = _chat_metrics(lm_server)

    async def together() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=lm_process[1], timeout=60.0,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            return list(await asyncio.gather(*(client.post("/v1/chat/completions", json=b)
                                               for b in bodies)))

    replies = asyncio.run(together())
    calls, requests = _chat_metrics(lm_server)
    assert requests - requests0 == len(bodies)
    assert calls - calls0 < len(bodies), "no two chat requests shared a generate call"
    prompt_lengths = set()
    for alone, reply in zip(one_by_one, replies, strict=True):
        assert reply.status_code == 200, reply.text
        batched = reply.json()
        assert batched["usage"] == alone["usage"]
        prompt_lengths.add(alone["usage"]["prompt_tokens"])
        (a,), (b,) = alone["choices"], batched["choices"]
        assert (a["message"], a["finish_reason"]) == (b["message"], b["finish_reason"])
        if a["logprobs"] is not None:
            for x, y in zip(a["logprobs"]["content"], b["logprobs"]["content"], strict=True):
                assert x["token"] == y["token"]
                assert x["logprob"] == pytest.approx(y["logprob"], abs=1e-4)
                assert [t["token"] for t in x["top_logprobs"]] == [
                    t["token"] for t in y["top_logprobs"]]
    assert len(prompt_lengths) > 1  # the batch really needed padding


def test_a_real_openai_client_talks_to_the_server(lm_process, tiny_local) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{lm_process[1]}/v1", api_key=TOKEN, max_retries=0,
                           timeout=60.0)
    listed = {m.id: m for m in client.models.list()}
    assert set(listed) == {"tiny", "dpo", "gpm", "crowd"}
    assert listed["tiny"].owned_by == "prefkit" and listed["tiny"].object == "model"
    out = client.chat.completions.create(model="tiny", messages=MESSAGES, temperature=0,
                                         max_tokens=8, logprobs=True, top_logprobs=2)
    prompt, new = _reference(tiny_local, 8)
    _, tok = tiny_local
    choice = out.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == tok.decode(new, skip_special_tokens=True)
    assert [t.token for t in choice.logprobs.content] == [tok.decode([i]) for i in new]
    assert out.usage.prompt_tokens == len(prompt) and out.usage.completion_tokens == len(new)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{lm_process[1]}/v1", api_key="wrong", max_retries=0
                      ).models.list()
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="tiny", messages=MESSAGES, n=1000)


def _slow_model_without_eos(model: Any, tok: Any, monkeypatch: Any, step_s: float) -> None:
    """Every forward pass takes ``step_s`` longer and never picks end-of-sequence."""
    import time

    forward = model.forward

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(step_s)
        out = forward(*args, **kwargs)
        out.logits[..., tok.eos_token_id] = -1e9
        return out

    monkeypatch.setattr(model, "forward", slow)


def test_generation_stops_at_the_per_request_timeout(tiny_local, monkeypatch) -> None:
    """In one batch, the request past its deadline stops (504 in the app), its neighbour does
    not; the generation ends at the deadline, not after the tokens asked for."""
    import time

    from fastapi.testclient import TestClient

    from prefkit.serve import ServeSettings, create_app
    from prefkit.serve.chat import ChatJob, ChatModel, ChatRequest, GenerationTimeout
    from prefkit.serve.served import wrap

    model, tok = tiny_local
    _slow_model_without_eos(model, tok, monkeypatch, step_s=0.01)
    chat = ChatModel(model, tok)
    long = ChatRequest(messages=MESSAGES, temperature=0, max_tokens=100)
    short = ChatRequest(messages=MESSAGES, temperature=0, max_tokens=3)
    start = time.perf_counter()
    late, fine = chat.complete_batch([ChatJob(long, time.monotonic() + 0.15), ChatJob(short)],
                                     "tiny")
    elapsed = time.perf_counter() - start
    assert isinstance(late, GenerationTimeout)
    assert fine["usage"]["completion_tokens"] == 3
    assert elapsed < 0.9  # 100 tokens would take ≥ 1 s
    app = create_app({"tiny": wrap("tiny", "tiny/", chat)},
                     ServeSettings(chat_timeout_s=0.2, max_wait_ms=0))
    with TestClient(app) as client:
        reply = client.post("/v1/chat/completions", json={"messages": MESSAGES,
                                                          "temperature": 0, "max_tokens": 100})
        quick = client.post("/v1/chat/completions", json={"messages": MESSAGES,
                                                          "temperature": 0, "max_tokens": 2})
    assert reply.status_code == 504, reply.text
    assert reply.json()["error"].startswith("timeout:") and "0.2 s" in reply.json()["error"]
    assert quick.status_code == 200 and quick.json()["usage"]["completion_tokens"] == 2
