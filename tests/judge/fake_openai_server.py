"""A small OpenAI-compatible chat server for the judge tests (run as a real subprocess).

``python fake_openai_server.py PORT``.  Verdict: ``[[A]]`` when the answer shown as A is longer,
``[[B]]`` when shorter, ``[[C]]`` when equal; a question containing ``NOVERDICT`` gets a reply with
no verdict.  ``POST /control`` sets faults (and resets counters):

* ``fault_every`` k, ``faults`` [kinds]: the first attempt of every k-th distinct message fails with
  the next kind of the cycle: ``429`` (``Retry-After: retry_after``), ``500``, ``slow`` (sleeps
  ``slow_s`` beyond the client's time-out, then answers), ``truncated`` (half a JSON body);
* ``always500``: a question substring whose requests always fail with 500;
* ``delay``: seconds before every answer;  ``api_key``: required bearer token.

``GET /stats``: ``chat`` (chat requests received), ``answered`` (per message key: 200 replies
sent in time), ``arrivals`` (per key: arrival times).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

app = FastAPI()
MODEL = "judge-test"
STATE: dict = {}


def reset(config: dict | None = None) -> None:
    STATE.clear()
    STATE.update({"config": config or {}, "chat": 0, "answered": {}, "arrivals": {},
                  "seen": {}, "faulted": set()})


reset()


def _answer(content: str, which: str) -> str:
    match = re.search(rf"\[The Start of Assistant {which}'s Answer\]\n(.*?)\n"
                      rf"\[The End of Assistant {which}'s Answer\]", content, re.S)
    return match.group(1) if match else ""


def verdict_for(content: str) -> str:
    from fake_grading_replies import grading_reply  # rubric, checklist, Arena-Hard templates

    if (reply := grading_reply(content)) is not None:
        return reply
    if "NOVERDICT" in content:
        return "Both answers have merits; I cannot decide."
    a, b = len(_answer(content, "A")), len(_answer(content, "B"))
    token = "[[A]]" if a > b else "[[B]]" if b > a else "[[C]]"
    return f"Comparing lengths {a} and {b}. Final verdict: {token}"


def _unauthorised(request: Request) -> bool:
    key = STATE["config"].get("api_key")
    return bool(key) and request.headers.get("authorization") != f"Bearer {key}"


@app.post("/control")
async def control(request: Request) -> dict:
    reset(await request.json())
    return {"ok": True}


@app.get("/stats")
async def stats() -> dict:
    return {"chat": STATE["chat"], "answered": STATE["answered"], "arrivals": STATE["arrivals"]}


@app.get("/v1/models")
async def models(request: Request) -> Response:
    if _unauthorised(request):
        return JSONResponse({"error": "bad key"}, status_code=401)
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


@app.post("/v1/chat/completions")
async def chat(request: Request) -> Response:
    config = STATE["config"]
    STATE["chat"] += 1
    if _unauthorised(request):
        return JSONResponse({"error": "bad key"}, status_code=401)
    body = await request.json()
    if body.get("model") != MODEL:
        return JSONResponse({"error": "model not found"}, status_code=404)
    content = "\n".join(m["content"] for m in body["messages"])
    key = hashlib.sha256(content.encode()).hexdigest()[:16]
    STATE["arrivals"].setdefault(key, []).append(time.monotonic())
    if key not in STATE["seen"]:
        STATE["seen"][key] = len(STATE["seen"])
    index = STATE["seen"][key]
    every, kinds = config.get("fault_every"), config.get("faults") or []
    counted = True  # a slow answer arrives after the client gave up: not counted as answered
    if every and kinds and index % every == 0 and key not in STATE["faulted"]:
        STATE["faulted"].add(key)
        kind = kinds[(index // every) % len(kinds)]
        if kind == "429":
            return JSONResponse({"error": "slow down"}, status_code=429,
                                headers={"Retry-After": str(config.get("retry_after", 0))})
        if kind == "500":
            return JSONResponse({"error": "boom"}, status_code=500)
        if kind == "slow":
            await asyncio.sleep(config.get("slow_s", 2.0))
            counted = False
        if kind == "truncated":
            text = json.dumps({"choices": [{"message": {"content": "[[A]]"}}]})
            return Response(text[: len(text) // 2], media_type="application/json")
    if config.get("always500") and config["always500"] in content:
        return JSONResponse({"error": "boom"}, status_code=500)
    if config.get("delay"):
        await asyncio.sleep(config["delay"])
    reply = verdict_for(content)
    if counted:
        STATE["answered"][key] = STATE["answered"].get(key, 0) + 1
    return JSONResponse({
        "id": f"chat-{STATE['chat']}", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(content) // 4, "completion_tokens": 7,
                  "total_tokens": len(content) // 4 + 7},
    })


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False)
