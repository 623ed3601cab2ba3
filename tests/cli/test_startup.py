"""The CLI starts fast because it imports only what a command needs, and a missing optional
dependency is one line naming the extra to install (issue 11, item 7).

These tests look at ``sys.modules`` in a fresh interpreter (not at timings, which a loaded machine
makes noisy); ``benchmarks/cli_startup.py`` measures the times.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer

from prefkit.cli.app import COMMANDS

#: Never imported by ``import prefkit.cli.app``, ``prefkit --version`` or ``prefkit --help``.
HEAVY = (
    "numpy", "scipy", "pandas", "pyarrow", "sklearn", "torch", "transformers", "matplotlib",
    "prefkit.data", "prefkit.choice", "prefkit.evaluate", "prefkit.encode", "prefkit.reward",
    "prefkit.cli._common", "prefkit.cli.demo",
)
#: Never imported by a command that does not use them (leaderboard, data validate).
TORCH_SIDE = ("torch", "transformers", "sentence_transformers", "prefkit.encode",
              "prefkit.reward", "prefkit.align", "prefkit.plural")

BATTLES = [
    {"a": "m1", "b": "m2", "winner": "a"},
    {"a": "m2", "b": "m3", "winner": "b"},
    {"a": "m3", "b": "m1", "winner": "tie"},
    {"a": "m1", "b": "m3", "winner": "a"},
    {"a": "m2", "b": "m1", "winner": "b"},
]

RUN = textwrap.dedent(
    """
    import atexit, json, sys
    out, args, block = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    for name in block:
        sys.modules[name] = None  # 'import NAME' now raises ModuleNotFoundError
    atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
    if args is None:
        import prefkit.cli.app
    else:
        sys.argv = ["prefkit", *args]
        from prefkit.cli import main
        main()
    """
)


def run_cli(
    tmp_path: Path, args: list[str] | None, block: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``prefkit ARGS`` (or only import the app) in a fresh interpreter; its sys.modules."""
    modules_file = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(modules_file), json.dumps(args), json.dumps(list(block))],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    return done, set(json.loads(modules_file.read_text()))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


@pytest.mark.parametrize("args", [None, ["--version"], ["--help"], []], ids=str)
def test_app_version_and_help_import_nothing_heavy(tmp_path: Path, args: list[str] | None) -> None:
    done, modules = run_cli(tmp_path, args)
    assert done.returncode in (0, 2), done.stderr  # no arguments: help, usage status
    assert loaded(modules, HEAVY) == []
    if args == ["--help"]:
        for name in COMMANDS:  # listed from the static table, none of them imported
            assert name in done.stdout
        assert not any(m.startswith("prefkit.cli.") and m != "prefkit.cli.app" for m in modules)


def test_import_prefkit_is_light(tmp_path: Path) -> None:
    code = "import json, sys, prefkit; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert loaded(set(json.loads(done.stdout)), HEAVY) == []
    import prefkit

    assert callable(prefkit.read) and prefkit.PreferenceDataset.__name__ == "PreferenceDataset"
    assert callable(prefkit.save) and callable(prefkit.load)
    assert {"read", "PreferenceDataset", "save", "load"} <= set(dir(prefkit))
    with pytest.raises(AttributeError):
        _ = prefkit.no_such_name


@pytest.mark.parametrize(
    "args",
    [["leaderboard", "battles.jsonl"], ["data", "validate", "battles.jsonl"]],
    ids=lambda a: " ".join(a[:2]),
)
def test_commands_import_only_what_they_need(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "battles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BATTLES))
    done, modules = run_cli(tmp_path, args)
    assert done.returncode == 0, done.stderr
    # scikit-learn is bound lazily by the estimator base (importing sklearn.base costs ~0.5 s:
    # sklearn.utils.fixes imports scipy.stats), and nothing here needs scipy.stats
    heavy = (*TORCH_SIDE, "prefkit.cli.demo", "matplotlib", "sklearn", "scipy.stats")
    assert loaded(modules, heavy) == []
    others = {f"prefkit.cli.{e.module.rsplit('.', 1)[1]}" for e in COMMANDS.values()}
    own = "prefkit.cli." + ("leaderboard" if args[0] == "leaderboard" else "data")
    assert loaded(modules, tuple(sorted(others - {own}))) == []


def test_missing_optional_dependency_is_one_line_install_hint(tmp_path: Path) -> None:
    """Without torch (``sys.modules['torch'] = None``), ``prefkit rm train`` says what to install
    instead of vanishing from the CLI."""
    (tmp_path / "battles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BATTLES))
    block = ("torch", "transformers", "sentence_transformers", "safetensors")
    done, _ = run_cli(tmp_path, ["rm", "train", "battles.jsonl", "--out", "rm"], block)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "install prefkit[text]" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "rm").exists()
    # the command is still listed, and the rest of the CLI works without torch
    done, _ = run_cli(tmp_path, ["--help"], block)
    assert done.returncode == 0 and " rm " in done.stdout
    done, _ = run_cli(tmp_path, ["data", "validate", "battles.jsonl"], block)
    assert done.returncode == 0 and done.stdout.startswith("ok: 5 pairwise records")


def test_missing_align_dependency_names_the_align_extra(tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text(
        json.dumps({"prompt": "p", "a_text": "x", "b_text": "y", "winner": "a"}) + "\n"
    )
    done, _ = run_cli(tmp_path, ["align", "train", "pairs.jsonl", "--base", "tiny", "--out", "r"],
                      ("torch", "transformers"))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "install prefkit[align]" in done.stderr


def test_install_hint_only_for_optional_packages() -> None:
    from prefkit.cli._common import install_hint

    err = ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn")
    assert "install prefkit[text]" in (install_hint(err) or "")
    assert "install prefkit[align]" in (install_hint(err, "prefkit.cli.align") or "")
    assert "install prefkit[hf]" in (install_hint(ModuleNotFoundError(name="datasets")) or "")
    assert install_hint(ModuleNotFoundError(name="prefkit.nothing")) is None
    assert install_hint(ImportError("cannot import name 'x'", name="torch")) is None


@pytest.mark.parametrize("group", ["rm", "plural", "align"])
def test_help_works_without_torch(tmp_path: Path, group: str) -> None:
    """``--help`` of the torch-side groups and their commands needs no optional package."""
    block = ("torch", "transformers", "sentence_transformers", "peft", "accelerate")
    done, _ = run_cli(tmp_path, [group, "--help"], block)
    assert done.returncode == 0, done.stderr
    entry = COMMANDS[group]
    commands = typer.main.get_group(
        getattr(importlib.import_module(entry.module), entry.attribute)
    ).commands
    names = [name for name, command in commands.items() if not command.hidden]
    assert names
    for name in names:
        done, _ = run_cli(tmp_path, [group, name, "--help"], block)
        assert done.returncode == 0, (group, name, done.stderr)
        assert "Example: prefkit" in " ".join(done.stdout.split())


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_leaderboard_of_a_plain_battle_log_skips_the_general_reader(
    tmp_path: Path, suffix: str
) -> None:
    """A plain a/b/winner log is counted from Arrow's dictionary codes (issue 12 item 19): no
    pandas, no pyarrow.compute wrappers, no reader registry, no per-record dataset."""
    path = tmp_path / f"battles{suffix}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(BATTLES), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in BATTLES))
    done, modules = run_cli(tmp_path, ["leaderboard", path.name, "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"][0]["name"] == "m1"
    skipped = ("pandas", "pyarrow.compute", "prefkit.data.readers", "prefkit.data.schema",
               "prefkit.data.validate")
    assert loaded(modules, skipped) == []
