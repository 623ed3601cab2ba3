"""Benchmark: ``prefkit leaderboard`` through the CLI against ``choix.ilsr_pairwise`` in-process.

Issue #12 item 19: on 2,000,000 synthetic battles among 200 items (no ties), time the whole
command — interpreter start-up, imports, reading the file, counting, the Bradley–Terry fit, the
sandwich intervals and printing — in a fresh process, and choix's ILSR fit (Maystre & Grossglauser
2015) on the same battles already in memory as ``(winner, loser)`` tuples (the form choix takes).
Both estimate the same maximum-likelihood strengths; the script checks that they agree.
Goal: the CLI ≥ 20× faster.  Files are written once to a temporary directory (Parquet and
JSON lines, columns ``a, b, winner``).

Runs are interleaved (choix, CLI on each file, the baseline tree if given, round after round) and
reported as medians, wall and CPU (this machine is shared and noisy).  The CLI runs as an
installed package would: with its bytecode cached (``PYTHONPYCACHEPREFIX`` in the temporary
directory; one warm-up run first), never with ``PYTHONDONTWRITEBYTECODE``.

``--floor`` also measures the parts no implementation of this command can avoid, each in its own
fresh process or in-process after the imports: the interpreter, the CLI framework (typer, and the
pydantic it imports to coerce option values), the imports of the leaderboard path (numpy,
pyarrow, pyarrow.parquet or pyarrow.json, prefkit.choice), reading the codes, counting, and the
fit with its intervals and JSON output.

Run:  .venv/bin/python benchmarks/choice_cli_vs_choix.py [--battles 2000000] [--repeats 3]
      [--floor] [--baseline-src DIR]   (DIR: another checkout's src/, e.g. ``git archive HEAD``)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from choice_fit import simulate

N_ITEMS = 200
SRC = Path(__file__).resolve().parents[1] / "src"


def write_files(directory: Path, a: np.ndarray, b: np.ndarray, win: np.ndarray) -> list[Path]:
    names = np.array([f"model_{k:03d}" for k in range(N_ITEMS)], dtype=object)
    table = pa.table({
        "a": pa.array(names[a]).dictionary_encode(),
        "b": pa.array(names[b]).dictionary_encode(),
        "winner": pa.array(np.where(win, "a", "b")).dictionary_encode(),
    })
    parquet = directory / "battles.parquet"
    pq.write_table(table, parquet)
    jsonl = directory / "battles.jsonl"
    with jsonl.open("w") as fh:
        for x, y, w in zip(names[a], names[b], np.where(win, "a", "b"), strict=True):
            fh.write(f'{{"a": "{x}", "b": "{y}", "winner": "{w}"}}\n')
    return [parquet, jsonl]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env(src: Path, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one fresh process."""
    c0, t = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t, _children_cpu() - c0
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return wall, cpu, done.stdout


def cli_argv(path: Path) -> list[str]:
    return [sys.executable, "-m", "prefkit", "leaderboard", str(path), "--json"]


def time_choix(data: list[tuple[int, int]]) -> tuple[float, float, np.ndarray]:
    import choix

    c0, t = time.process_time(), time.perf_counter()
    theta = choix.ilsr_pairwise(N_ITEMS, data)
    return time.perf_counter() - t, time.process_time() - c0, theta - theta.mean()


IN_PROCESS = r"""
import json, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
import numpy, pyarrow, {reader}
from prefkit.choice.leaderboard import leaderboard
from prefkit.choice.counts import count_outcomes
from prefkit.data.battles import read_battle_codes
t1 = time.perf_counter(); c1 = time.process_time()
codes = read_battle_codes(sys.argv[1])
t2 = time.perf_counter(); c2 = time.process_time()
counts = count_outcomes(len(codes.items), codes.ia, codes.ib, codes.outcome, items=codes.items)
t3 = time.perf_counter(); c3 = time.process_time()
text = leaderboard(counts).to_json()
t4 = time.perf_counter(); c4 = time.process_time()
print(json.dumps({{"imports": [t1 - t0, c1 - c0], "read": [t2 - t1, c2 - c1],
                  "count": [t3 - t2, c3 - c2], "fit+intervals+json": [t4 - t3, c4 - c3]}}))
"""


def floor(files: list[Path], env: dict[str, str], repeats: int) -> None:
    """Median wall / CPU of each unavoidable part (see the module docstring)."""
    py = sys.executable
    parts: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, wall: float, cpu: float) -> None:
        parts.setdefault(name, []).append((wall, cpu))

    for _ in range(repeats):
        add("interpreter (python -c pass)", *run_timed([py, "-c", "pass"], env)[:2])
        add("CLI frame (prefkit --version)", *run_timed([py, "-m", "prefkit", "--version"],
                                                         env)[:2])
        add("typer option coercion (imports pydantic)", *run_timed(
            [py, "-c", "import typer._adapters"], env)[:2])
        for path in files:
            reader = "pyarrow.parquet" if path.suffix == ".parquet" else "pyarrow.json"
            code = IN_PROCESS.format(reader=reader)
            wall, cpu, out = run_timed([py, "-c", code, str(path)], env)
            add(f"{path.suffix}: whole in-process script", wall, cpu)
            for name, (w, c) in json.loads(out).items():
                add(f"{path.suffix}:   {name}", w, c)
    print("floor (medians; wall s / CPU s):")
    for name, values in parts.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"  {name:48s} {wall:6.3f} / {cpu:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--floor", action="store_true", help="Also measure the unavoidable parts.")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="Another src/ directory to time interleaved (an A/B of the CLI).")
    args = parser.parse_args()

    a, b, win = simulate(args.battles, N_ITEMS)
    data = list(zip(np.where(win, a, b).tolist(), np.where(win, b, a).tolist(), strict=True))
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), a, b, win)
        trees = {"prefkit": SRC}
        if args.baseline_src is not None:
            trees["baseline"] = args.baseline_src.resolve()
        envs = {name: child_env(src, Path(tmp) / f"pycache-{name}") for name, src in trees.items()}
        for name in trees:  # warm-up: bytecode compiled and cached, files in the page cache
            for path in files:
                run_timed(cli_argv(path), envs[name])
        choix_runs: list[tuple[float, float]] = []
        cli_runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        docs: dict[str, dict] = {}
        choix_theta = None
        for _ in range(args.repeats):
            wall, cpu, choix_theta = time_choix(data)
            choix_runs.append((wall, cpu))
            for path in files:
                for name in trees:
                    wall, cpu, out = run_timed(cli_argv(path), envs[name])
                    cli_runs.setdefault((name, path.suffix), []).append((wall, cpu))
                    docs[path.suffix] = json.loads(out) if name == "prefkit" else docs.get(
                        path.suffix, {})
        t_choix = statistics.median(r[0] for r in choix_runs)
        cpu_choix = statistics.median(r[1] for r in choix_runs)
        print(f"choix.ilsr_pairwise, {args.battles:,} battles in memory, {N_ITEMS} items: "
              f"runs {', '.join(f'{r[0]:.2f}' for r in choix_runs)} s, median {t_choix:.2f} s "
              f"wall, {cpu_choix:.2f} s CPU")
        for (name, suffix), runs in cli_runs.items():
            med = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            path = next(p for p in files if p.suffix == suffix)
            size = path.stat().st_size / 1e6
            line = (f"{name} leaderboard {suffix} ({size:.0f} MB), whole CLI run: runs "
                    f"{', '.join(f'{r[0]:.2f}' for r in runs)} s, median {med:.2f} s wall, "
                    f"{cpu:.2f} s CPU")
            if name == "prefkit" and choix_theta is not None:
                rating = {r["name"]: r["rating"] for r in docs[suffix]["items"]}
                theta = np.array([rating[f"model_{k:03d}"] for k in range(N_ITEMS)])
                diff = np.abs((theta - theta.mean()) - choix_theta).max()
                line += f"; max |Δθ| vs choix {diff:.1e}"
            print(line)
            print(f"  -> {t_choix / med:.1f}x (wall) / {cpu_choix / cpu:.1f}x (CPU) faster than "
                  f"choix in-process (goal >= 20x)")
        if args.floor:
            floor(files, envs["prefkit"], args.repeats)


if __name__ == "__main__":
    main()
