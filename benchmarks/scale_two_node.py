"""A two-node Ray cluster simulated on loopback: every batch job on it equals the in-process job.

    .venv/bin/python -W ignore benchmarks/scale_two_node.py [--records 2000] [--port 0]

Starts ``ray start --head --port PORT --num-cpus 1 --block`` and a second node ``ray start
--address 127.0.0.1:PORT --num-cpus 1 --block`` (PORT: a free one; the head in a temporary
directory of its own, so nothing lands in /tmp/ray), then runs each job twice through the real
command line — ``prefkit … --engine local`` in one process, and ``prefkit … --engine ray
--workers 2`` with ``RAY_ADDRESS`` naming the cluster — and compares the outputs:

* ``prefkit rm encode`` (tiny random 1-layer BERT): vectors equal to float tolerance, same order;
* ``prefkit rm score`` (a linear-head reward model on that encoder): same records in the same
  order, max |Δp_a|;
* ``prefkit jobs judge`` against ``tests/judge/fake_openai_server.py`` started as a real process
  on 127.0.0.1: the same judgments in the same order; a second Ray run on the same ``--cache``
  sends no request (the server's request counter) and still writes the same judgments;
* ``prefkit jobs generate`` with a tiny randomly initialised Llama, greedy: the same responses;
* ``prefkit leaderboard DIR --engine ray`` over several battle files counted as Ray tasks against
  one process counting them one after another: the same table.

Two actors of ``(2 − ½) / 2 = 0.75`` CPU cannot share a 1-CPU node, so the two workers of a job
run on different nodes.  The Ray nodes see their own embedding cache (``PREFKIT_CACHE``), not the
local runs', so the Ray runs encode anew.  At the end the script stops exactly the processes it
started (the two ``ray start`` process trees and the judge server, by pid) — never ``ray stop``,
which would stop every Ray process of the machine's user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FAKE_JUDGE = ROOT / "tests" / "judge" / "fake_openai_server.py"
JUDGE_MODEL = "judge-test"
#: a throw-away loopback cluster: no token authentication between its own processes
BASE_ENV = dict(os.environ, RAY_AUTH_MODE="disabled", HF_HUB_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="ignore", OPENAI_API_KEY="unused")

CLUSTER_CHECK = r"""
import json, time, ray
ray.init(address="auto", include_dashboard=False, log_to_driver=False)
deadline = time.monotonic() + 60
while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
    time.sleep(0.5)
nodes = [n for n in ray.nodes() if n["Alive"]]
print(json.dumps({"nodes": len(nodes), "cpus": ray.cluster_resources().get("CPU")}))
"""


# ----------------------------------------------------------------------------- inputs


def make_score_inputs(root: Path, n: int) -> tuple[Path, Path, Path]:
    """Pairs, a tiny random 1-layer BERT (tests/helpers/tiny_encoders.py) and a linear-head reward
    model trained on the pairs with it; returns (pairs, encoder dir, model dir)."""
    import numpy as np

    from prefkit.core.persist import save
    from prefkit.data import read
    from prefkit.reward import RewardModel

    rng = np.random.default_rng(0)
    rows = []
    for k in range(n):
        a = int(rng.integers(0, 50))
        b = (a + 1 + int(rng.integers(0, 49))) % 50
        rows.append({"prompt": f"p{k % 7}", "a_text": f"answer {a}", "b_text": f"answer {b}",
                     "winner": "a" if a > b else "b"})
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sys.path.insert(0, str(ROOT / "tests" / "helpers"))
    from tiny_encoders import tiny_sentence_encoder

    from prefkit.encode import CachedEncoder, SentenceEncoder

    encoder_dir = tiny_sentence_encoder(root / "tiny-encoder", seed=0)
    encoder = CachedEncoder(SentenceEncoder(encoder_dir, progress=False), root / "cache-train")
    model = RewardModel(encoder, "linear", epochs=50, weight_decay=1e-3).fit(read(data))
    save(model, root / "rm")
    return data, encoder_dir, root / "rm"


def make_encode_inputs(root: Path, n: int) -> Path:
    """Pairs whose texts the score job never sees (so no run finds them in a cache)."""
    words = ["river", "lamp", "orbit", "violet", "engine", "harbor", "quartz", "meadow"]
    with open(root / "encode.jsonl", "w", encoding="utf-8") as handle:
        for k in range(n):
            a = " ".join(words[(k + j) % len(words)] for j in range(1 + k % 5))
            b = " ".join(words[(3 * k + j) % len(words)] for j in range(1 + (k * 7) % 6))
            handle.write(json.dumps({"prompt": f"encode prompt {k % 11}", "a_text": f"{a} {k}",
                                     "b_text": f"{b} {k}", "winner": "a"}) + "\n")
    return root / "encode.jsonl"


def make_judge_inputs(root: Path, n: int) -> Path:
    """Unlabelled pairs; the fake judge prefers the longer answer."""
    with open(root / "judge.jsonl", "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({"prompt": f"two-node question {i}", "a": "m1", "b": "m2",
                                     "a_text": "x" * (1 + i % 9), "b_text": "y" * 5}) + "\n")
    return root / "judge.jsonl"


def make_generate_inputs(root: Path, n: int) -> tuple[Path, Path]:
    """A tiny randomly initialised Llama (1 layer, hidden 32) and ``n`` prompts with ids."""
    from prefkit.align.tiny import _ASKS, _SUBJECTS, build_model, build_tokenizer

    model_dir = root / "tiny-lm"
    tokenizer = build_tokenizer()
    build_model(tokenizer, hidden_size=32, layers=1).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    with open(root / "prompts.jsonl", "w", encoding="utf-8") as handle:
        for k in range(n):
            prompt = f"{_ASKS[k % len(_ASKS)]} {_SUBJECTS[k % len(_SUBJECTS)]} ?"
            handle.write(json.dumps({"id": f"q{k}", "prompt": prompt}) + "\n")
    return root / "prompts.jsonl", model_dir


def make_battle_files(root: Path, files: int, per_file: int) -> Path:
    """``files`` Parquet battle logs of different sizes; the last one sees 5 of the 8 items."""
    import numpy as np
    import pyarrow as pa

    from prefkit.data import PreferenceDataset

    folder = root / "battles"
    folder.mkdir()
    for f in range(files):
        rng = np.random.default_rng(100 + f)
        n_items, n = (5 if f == files - 1 else 8), per_file * (f + 1)
        items = np.array([f"model-{k}" for k in range(n_items)])
        a = rng.integers(0, n_items, n)
        b = (a + rng.integers(1, n_items, n)) % n_items
        u = rng.random(n)
        p = 0.5 + 0.06 * (a - b)
        winner = np.where(u < p - 0.05, "a", np.where(u < p + 0.05, "tie", "b"))
        PreferenceDataset(pa.table({"a": items[a], "b": items[b], "winner": winner}),
                          "pairwise").write(folder / f"day{f}.parquet")
    return folder


# ----------------------------------------------------------------------------- processes


def start_node(args: list[str], temp: Path, env: dict[str, str]) -> subprocess.Popen:
    log = open(temp / "ray-start.log", "ab")  # noqa: SIM115 - lives as long as the node
    return subprocess.Popen([str(BIN / "ray"), "start", *args, "--node-ip-address",
                             "127.0.0.1", "--block"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_tree(process: subprocess.Popen) -> int:
    """Terminate ``process`` and every descendant it started (by pid); returns how many."""
    import psutil

    try:
        parent = psutil.Process(process.pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return 0
    for proc in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(family)


@contextlib.contextmanager
def judge_server(port: int) -> Iterator[str]:
    """The fake OpenAI-compatible judge as a real process on 127.0.0.1:``port`` (stopped by pid)."""
    import httpx

    proc = subprocess.Popen([sys.executable, str(FAKE_JUDGE), str(port)], cwd=FAKE_JUDGE.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/stats", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"the fake judge did not start: {proc.stderr.read()[-500:]!r}"
                                 ) from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"ray start did not come up (see {path.parent}/ray-start.log)")
        time.sleep(0.2)


def requests_seen(url: str) -> int:
    import httpx

    return int(httpx.get(f"{url}/stats", timeout=5).json()["chat"])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Runner:
    """Runs ``prefkit`` commands in a fresh process and keeps their wall times by label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, label: str, args: list[str], env: dict[str, str]) -> str:
        start = time.perf_counter()
        done = subprocess.run([str(BIN / "prefkit"), *args], env=env, capture_output=True,
                              text=True, timeout=300)
        self.seconds[label] = time.perf_counter() - start
        if done.returncode != 0:
            print(f"$ prefkit {' '.join(args)}\n{done.stdout[-1500:]}{done.stderr[-3000:]}")
            raise SystemExit(f"{label} failed (exit {done.returncode})")
        return done.stdout


# ----------------------------------------------------------------------------- comparisons


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def compare_encode(local: Path, remote: Path) -> str:
    import numpy as np

    a, b = np.load(local), np.load(remote)
    assert a.shape == b.shape, (a.shape, b.shape)
    worst = float(np.max(np.abs(a - b)))
    cosine = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    assert worst < 1e-4, worst
    return (f"rm encode   {a.shape[0]:>6,} records, array {tuple(a.shape)}: max |Δv| {worst:.1e}, "
            f"min cosine {float(cosine.min()):.7f}")


def compare_score(local: Path, remote: Path) -> str:
    x, y = jsonl(local), jsonl(remote)
    same_order = [r["record"] for r in x] == [r["record"] for r in y] == list(range(len(x)))
    worst = max(abs(p[key] - q[key]) for p, q in zip(x, y, strict=True)
                for key in ("p_a", "r_a", "r_b"))
    assert same_order and worst < 1e-6, (same_order, worst)
    return (f"rm score    {len(x):>6,} records: same order {same_order}, "
            f"max |Δ| over p_a, r_a, r_b {worst:.1e}, bytes equal "
            f"{local.read_bytes() == remote.read_bytes()}")


def judgment_view(path: Path) -> list[tuple[Any, ...]]:
    """What a judgment says, without the reply's bookkeeping (``cached``, ``usage``)."""
    return [tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in r.items()
                         if k not in ("cached", "usage"))) for r in jsonl(path)]


def compare_judge(local: Path, remote: Path, again: Path, asked: dict[str, int]) -> str:
    want, got, cached = judgment_view(local), judgment_view(remote), judgment_view(again)
    assert want == got == cached, "the judgments differ"
    all_cached = all(r["cached"] for r in jsonl(again))
    assert asked["second ray run"] == 0 and all_cached, asked
    winners = sorted({json.loads(dict(r)["winner"]) for r in want})
    return (f"jobs judge  {len(want):>6,} judgments ({len(want) // 2} pairs x 2 orders): "
            f"same judgments, same order; winners {winners}; requests: local "
            f"{asked['local']}, ray {asked['ray']}, ray again on its cache "
            f"{asked['second ray run']} (all cached {all_cached})")


def compare_generate(local: Path, remote: Path) -> str:
    x, y = jsonl(local), jsonl(remote)
    assert x == y, "the generations differ"
    distinct = len({r["responses"][0] for r in x})
    return (f"jobs generate {len(x):>4,} prompts x {len(x[0]['responses'])} (greedy): same "
            f"responses, same order ({distinct} distinct); bytes equal "
            f"{local.read_bytes() == remote.read_bytes()}")


def compare_leaderboard(local: str, remote: str) -> str:
    x, y = json.loads(local), json.loads(remote)
    names = [row["name"] for row in x["items"]]
    assert names == [row["name"] for row in y["items"]], "the order differs"
    assert (x["n"], x["model"]) == (y["n"], y["model"]), "different battles or model"
    worst = max(abs(p[key] - q[key]) for p, q in zip(x["items"], y["items"], strict=True)
                for key in p if isinstance(p[key], float))
    worst = max(worst, abs(x["log_likelihood"] - y["log_likelihood"]))
    assert worst < 1e-6, worst
    return (f"leaderboard {x['n']:>6,} battles in {len(names)} items: same ranking, max |Δ| over "
            f"ratings, intervals and log-likelihood {worst:.1e}; same JSON "
            f"{local == remote}")


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="score job records")
    parser.add_argument("--shard-rows", type=int, default=250, help="score job shard size")
    parser.add_argument("--encode-records", type=int, default=400)
    parser.add_argument("--judge-pairs", type=int, default=60)
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--battle-files", type=int, default=4)
    parser.add_argument("--battles-per-file", type=int, default=5000)
    parser.add_argument("--port", type=int, default=0, help="head's port (0: a free one)")
    args = parser.parse_args()
    run = Runner()
    ray_flags = ["--engine", "ray", "--workers", "2"]
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="prefkit-2node-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        pairs, encoder_dir, model_dir = make_score_inputs(root, args.records)
        encode_pairs = make_encode_inputs(root, args.encode_records)
        judge_pairs = make_judge_inputs(root, args.judge_pairs)
        prompts, lm_dir = make_generate_inputs(root, args.prompts)
        battles = make_battle_files(root, args.battle_files, args.battles_per_file)
        setup_s = time.perf_counter() - start
        local_env = dict(BASE_ENV, PREFKIT_CACHE=str(root / "cache-local"))
        local_env.pop("RAY_ADDRESS", None)
        port = args.port or free_port()
        node_env = dict(BASE_ENV, PREFKIT_CACHE=str(root / "cache-ray"))
        node_env.pop("RAY_ADDRESS", None)
        ray_env = dict(node_env, RAY_ADDRESS=f"127.0.0.1:{port}")
        out = root / "out"
        out.mkdir()
        jobs = {  # label: (arguments without the engine, output)
            "encode": (["rm", "encode", str(encode_pairs), "--encoder", str(encoder_dir),
                        "--shard-rows", "50"], ".npy"),
            "score": (["rm", "score", str(model_dir), str(pairs), "--shard-rows",
                       str(args.shard_rows)], ".jsonl"),
            "generate": (["jobs", "generate", str(prompts), "--model", str(lm_dir), "--n", "2",
                          "--max-new-tokens", "8", "--temperature", "0", "--shard-rows", "3"],
                         ".jsonl"),
        }
        asked: dict[str, int] = {}
        nodes: list[subprocess.Popen] = []
        stopped = 0
        with judge_server(free_port()) as url:
            judge = ["jobs", "judge", str(judge_pairs), "--model", JUDGE_MODEL, "--endpoint",
                     url, "--shard-rows", "10", "--max-attempts", "2"]
            # ---- local engine, one process per command
            for label, (cmd, suffix) in jobs.items():
                run(f"{label} local", [*cmd, "--engine", "local", "--out",
                                       str(out / f"{label}-local{suffix}")], local_env)
            before = requests_seen(url)
            run("judge local", [*judge, "--engine", "local", "--out",
                                str(out / "judge-local.jsonl"), "--cache",
                                str(root / "judge-local.sqlite")], local_env)
            asked["local"] = requests_seen(url) - before
            board_local = run("leaderboard local", ["leaderboard", str(battles), "--engine",
                                                    "local", "--json"],
                              local_env)
            # ---- the cluster
            try:
                head_tmp, worker_tmp = root / "head", root / "worker"
                head_tmp.mkdir()
                worker_tmp.mkdir()
                cluster_start = time.perf_counter()
                nodes.append(start_node(["--head", "--port", str(port), "--num-cpus", "1",
                                         "--include-dashboard", "false",
                                         "--temp-dir", str(head_tmp)], head_tmp, node_env))
                wait_for(head_tmp / "ray_current_cluster", nodes[0])  # written once it is up
                nodes.append(start_node(["--address", f"127.0.0.1:{port}", "--num-cpus", "1"],
                                        worker_tmp, node_env))
                check = subprocess.run([sys.executable, "-c", CLUSTER_CHECK], env=ray_env,
                                       capture_output=True, text=True, timeout=120)
                if check.returncode != 0:
                    print(check.stderr[-3000:])
                    raise SystemExit("the cluster did not come up")
                cluster = json.loads(check.stdout.strip().splitlines()[-1])
                cluster_s = time.perf_counter() - cluster_start
                for label, (cmd, suffix) in jobs.items():
                    run(f"{label} ray", [*cmd, *ray_flags, "--out",
                                         str(out / f"{label}-ray{suffix}")], ray_env)
                for label, target in (("ray", "judge-ray"), ("second ray run", "judge-again")):
                    before = requests_seen(url)
                    run(f"judge {label}", [*judge, *ray_flags, "--out",
                                           str(out / f"{target}.jsonl"), "--cache",
                                           str(root / "judge-ray.sqlite")], ray_env)
                    asked[label] = requests_seen(url) - before
                board_ray = run("leaderboard ray", ["leaderboard", str(battles), "--engine",
                                                    "ray", "--json"], ray_env)
            finally:
                stopped = sum(stop_tree(p) for p in reversed(nodes))
        results.append(compare_encode(out / "encode-local.npy", out / "encode-ray.npy"))
        results.append(compare_score(out / "score-local.jsonl", out / "score-ray.jsonl"))
        results.append(compare_judge(out / "judge-local.jsonl", out / "judge-ray.jsonl",
                                     out / "judge-again.jsonl", asked))
        results.append(compare_generate(out / "generate-local.jsonl",
                                        out / "generate-ray.jsonl"))
        results.append(compare_leaderboard(board_local, board_ray))
    print(f"cluster: {cluster['nodes']} nodes, {cluster['cpus']:g} CPUs on loopback "
          f"(up in {cluster_s:.1f} s); inputs built in {setup_s:.1f} s")
    from prefkit.jobs.engines import actor_cpus

    share = actor_cpus(cluster["cpus"], 2, node_cpus=1)
    print(f"equality, --engine ray --workers 2 on the cluster vs --engine local (actors of "
          f"{share:g} CPU: at most {int(1 // share)} per 1-CPU node, so the two use both nodes):")
    for line in results:
        print(f"  {line}")
    print("wall time per command (a fresh process each; ray includes connecting and actors):")
    print(f"  {'job':<12} {'local s':>8} {'ray s':>8}")
    for label in ("encode", "score", "judge", "generate", "leaderboard"):
        print(f"  {label:<12} {run.seconds[f'{label} local']:8.2f} "
              f"{run.seconds[f'{label} ray']:8.2f}")
    print(f"  {'judge again':<12} {'':>8} {run.seconds['judge second ray run']:8.2f}"
          "  (answered from the cache)")
    print(f"stopped {stopped} processes this script started (and the judge server), by pid; "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
