"""A lean OpenAI-compatible chat server answering after a fixed delay (benchmarks only).

``python benchmarks/fixed_delay_server.py PORT DELAY_S``.  Plain ``asyncio`` HTTP/1.1 with
keep-alive: ``GET /v1/models``, ``POST /v1/chat/completions`` (``[[A]]`` when the answer shown
first is longer, like ``tests/judge/fake_openai_server.py``), ``GET /stats`` (``{"chat": n}``).
It spends a few tens of microseconds of CPU per request, so a client measured against it is not
limited by the server (the FastAPI test server needs about a millisecond per request, more than
the client, on the same two cores).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys

STATE = {"chat": 0}
_ANSWER = {w: re.compile(rf"\[The Start of Assistant {w}'s Answer\]\n(.*?)\n"
                         rf"\[The End of Assistant {w}'s Answer\]", re.S) for w in "AB"}


def _verdict(body: bytes) -> dict:
    request = json.loads(body)
    content = "\n".join(m["content"] for m in request["messages"])
    lengths = []
    for w in "AB":
        match = _ANSWER[w].search(content)
        lengths.append(len(match.group(1)) if match else 0)
    a, b = lengths
    token = "[[A]]" if a > b else "[[B]]" if b > a else "[[C]]"
    return {"id": f"c{STATE['chat']}", "object": "chat.completion", "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": f"Lengths {a}, {b}. {token}"}}],
            "usage": {"prompt_tokens": len(content) // 4, "completion_tokens": 7,
                      "total_tokens": len(content) // 4 + 7}}


def _response(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
                 ) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *headers = head.decode("latin-1").split("\r\n")
            length = 0
            for h in headers:
                if h[:15].lower() == "content-length:":
                    length = int(h[15:])
            body = await reader.readexactly(length) if length else b""
            path = line.split(" ")[1]
            if path.endswith("/chat/completions"):
                STATE["chat"] += 1
                await asyncio.sleep(delay)
                writer.write(_response(_verdict(body)))
            elif path.endswith("/models"):
                writer.write(_response({"object": "list", "data": [{"id": "judge-test"}]}))
            else:
                writer.write(_response(dict(STATE)))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, delay: float) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay), "127.0.0.1", port,
                                        backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
