"""Benchmark: ``prefkit leaderboard`` through the CLI against ``choix.ilsr_pairwise`` in-process.

Issue #12 item 19: on 2,000,000 synthetic battles among 200 items (no ties), time the whole
command — interpreter start-up, imports, reading the file, counting, the Bradley–Terry fit, the
sandwich intervals and printing — in a fresh process, and choix's ILSR fit (Maystre & Grossglauser
2015) on the same battles already in memory as ``(winner, loser)`` tuples (the form choix takes).
Both estimate the same maximum-likelihood strengths; the script checks that they agree.
Goal: the CLI ≥ 20× faster.  Files are written once to a temporary directory (Parquet and
JSON lines, columns ``a, b, winner``).

Run:  .venv/bin/python benchmarks/choice_cli_vs_choix.py [--battles 2000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
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

PREFKIT = Path(sys.executable).with_name("prefkit")
N_ITEMS = 200


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


def time_cli(path: Path, repeats: int) -> tuple[float, list[float], float, dict]:
    """(median wall s, wall runs, median CPU s of the child process, JSON output)."""
    runs, cpus, doc = [], [], {}
    for _ in range(repeats):
        c0, t = _children_cpu(), time.perf_counter()
        done = subprocess.run([str(PREFKIT), "leaderboard", str(path), "--json"],
                              capture_output=True, text=True)
        runs.append(time.perf_counter() - t)
        cpus.append(_children_cpu() - c0)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        doc = json.loads(done.stdout)
    return statistics.median(runs), runs, statistics.median(cpus), doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import choix

    a, b, win = simulate(args.battles, N_ITEMS)
    data = list(zip(np.where(win, a, b).tolist(), np.where(win, b, a).tolist(), strict=True))
    c0, t = time.process_time(), time.perf_counter()
    choix_theta = choix.ilsr_pairwise(N_ITEMS, data)
    t_choix, cpu_choix = time.perf_counter() - t, time.process_time() - c0
    choix_theta -= choix_theta.mean()
    print(f"choix.ilsr_pairwise, {args.battles:,} battles in memory, {N_ITEMS} items: "
          f"{t_choix:.2f} s wall, {cpu_choix:.2f} s CPU (1 run)")
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_files(Path(tmp), a, b, win):
            med, runs, cpu, doc = time_cli(path, args.repeats)
            rating = {r["name"]: r["rating"] for r in doc["items"]}
            theta = np.array([rating[f"model_{k:03d}"] for k in range(N_ITEMS)])
            diff = np.abs((theta - theta.mean()) - choix_theta).max()
            size = path.stat().st_size / 1e6
            print(f"prefkit leaderboard {path.suffix} ({size:.0f} MB), whole CLI run: runs "
                  f"{', '.join(f'{x:.2f}' for x in runs)} s, median {med:.2f} s wall, "
                  f"{cpu:.2f} s CPU; max |Δθ| vs choix {diff:.1e}")
            print(f"  -> CLI is {t_choix / med:.1f}x (wall) / {cpu_choix / cpu:.1f}x (CPU) faster "
                  f"than choix in-process (goal >= 20x)")
    t = time.perf_counter()
    subprocess.run([str(PREFKIT), "--version"], capture_output=True, check=True)
    print(f"(prefkit --version alone: {time.perf_counter() - t:.2f} s)")


if __name__ == "__main__":
    main()
