"""A minimal OpenRLHF ``/get_reward`` server (stdlib only), run as a real process by the tests.

``python _reward_server.py PORT MODE``: MODE ``ok`` answers the politeness reward of each
query's response (the query minus its prompt), ``nan`` answers NaN rewards.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prefkit.align.online.gold import politeness


class Handler(BaseHTTPRequestHandler):
    mode = "ok"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        queries, prompts = body["query"], body.get("prompts") or [""] * len(body["query"])
        responses = [q[len(p):] if q.startswith(p) else q
                     for q, p in zip(queries, prompts, strict=True)]
        rewards = politeness(prompts, responses).tolist()
        if self.mode == "nan":
            rewards = [float("nan")] * len(rewards)
        data = json.dumps({"rewards": rewards, "scores": rewards}).encode()
        status = 200 if self.path == "/get_reward" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    Handler.mode = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
