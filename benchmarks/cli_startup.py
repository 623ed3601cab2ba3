"""Start-up time of the ``prefkit`` command (issue 11, item 7; goal: --version and --help < 0.3 s).

Runs, each in a fresh process and ``--repeats`` times, ``prefkit --version``, ``prefkit --help``
and ``prefkit leaderboard`` on a small file (2,000 battles among 20 items, written here), and
prints the median wall time of each (and the median CPU time, which a machine shared with
other jobs disturbs less).  For ``leaderboard`` it also prints the time spent importing
(the modules the command imports, timed in a fresh process), so reading + fitting is the
difference.

    .venv/bin/python benchmarks/cli_startup.py --repeats 15
    .venv/bin/python benchmarks/cli_startup.py --src /tmp/prefkit-old/src   # another checkout

``--src`` puts another source tree first on ``PYTHONPATH`` (e.g. a ``git archive`` of an older
commit), so before/after are measured with the same interpreter and packages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_battles(path: Path, n_items: int = 20, n_battles: int = 2_000, seed: int = 0) -> Path:
    """A small arena-style file: ``a``, ``b``, ``winner`` (a / b / tie)."""
    rng = random.Random(seed)
    strength = [rng.gauss(0.0, 1.0) for _ in range(n_items)]
    lines = []
    for _ in range(n_battles):
        i, j = rng.sample(range(n_items), 2)
        p = 1.0 / (1.0 + pow(2.718281828459045, strength[j] - strength[i]))
        u = rng.random()
        winner = "tie" if u < 0.1 else ("a" if u < 0.1 + 0.9 * p else "b")
        lines.append(json.dumps({"a": f"model-{i}", "b": f"model-{j}", "winner": winner}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def time_command(
    args: list[str], env: dict[str, str], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of each run of ``prefkit ARGS``."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "prefkit", *args], env=env, capture_output=True, text=True
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"prefkit {' '.join(args)} failed: {done.stderr.strip()}")
    return walls, cpus


def import_seconds(
    args: list[str], env: dict[str, str], repeats: int
) -> tuple[float, float]:
    """Median wall and CPU time to import, in a fresh process, the modules the command imports.

    The modules are those ``python -X importtime`` lists at top level for the command; they are
    then imported without ``-X importtime`` (which slows imports down) and timed.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "prefkit", *args],
        env=env, capture_output=True, text=True,
    )
    modules = [
        match.group(1)
        for line in done.stderr.splitlines()
        if (match := re.match(r"import time:\s+\d+ \|\s+\d+ \| (\S+)$", line))
    ]
    code = (
        "import time; t, c = time.perf_counter(), time.process_time()\n"
        + "".join(f"import {name}\n" for name in modules)
        + "print(time.perf_counter() - t, time.process_time() - c)"
    )
    walls, cpus = [], []
    for _ in range(repeats):
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        wall, cpu = map(float, run.stdout.split())
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--src", help="Source tree to put first on PYTHONPATH.")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.src, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        battles = write_battles(Path(tmp) / "battles.jsonl")
        commands = {
            "prefkit --version": ["--version"],
            "prefkit --help": ["--help"],
            "prefkit leaderboard (2,000 battles)": ["leaderboard", str(battles)],
        }
        print(f"{args.repeats} runs each, fresh process per run; median wall time (min–max) "
              "and median CPU time (user + system):")
        for label, command in commands.items():
            walls, cpus = time_command(command, env, args.repeats)
            print(
                f"  {label:38s} {statistics.median(walls):6.3f} s  "
                f"({min(walls):.3f}–{max(walls):.3f})   CPU {statistics.median(cpus):6.3f} s"
            )
        wall, cpu = import_seconds(["leaderboard", str(battles)], env, max(3, args.repeats // 3))
        print(f"  {'  of which importing modules':38s} {wall:6.3f} s {'':15s}CPU {cpu:6.3f} s")


if __name__ == "__main__":
    main()
