"""The README's examples run as written, and its links (and docs/architecture.md's) stay inside
the repository and point at files that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

README = (REPO / "README.md").read_text(encoding="utf-8")
#: Markdown files whose links are checked (the newcomer's path through the docs).
LINKED_DOCS = ("README.md", "docs/architecture.md")


def _blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _section(title: str, text: str = README) -> str:
    """The text under the ``## title`` heading, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"no section '## {title}'"
    return match.group(1)


def test_readme_starts_with_the_two_commands():
    first = _blocks("bash")[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make run", "make test"]


def test_readme_has_a_pip_install_section():
    text = _section("Install with pip")
    commands = [line.split("#")[0].strip() for block in _blocks("sh", text)
                for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands.index("pip install torch==2.13.0") < commands.index('pip install -e ".[text]"')
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for extra in re.findall(r'pip install -e "\.\[(\w+)\]"', "\n".join(commands)):
        assert re.search(rf"^{extra} = \[", pyproject, flags=re.M), f"no extra [{extra}]"


@pytest.mark.parametrize("code", _blocks("python"))
def test_python_examples_run(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_cli_examples_run(tmp_path, shared_data):
    prefkit = [sys.executable, "-m", "prefkit"]
    for line in _blocks("bash", _section("Command-line quick start"))[0].splitlines():
        command = line.split("#")[0].strip()
        if not command:
            continue
        args = shlex.split(command.replace("../shared/data", str(shared_data)))
        assert args[0] == "prefkit"
        done = subprocess.run(prefkit + args[1:], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
    assert (tmp_path / "board" / "leaderboard.json").exists()
    assert (tmp_path / "nascar_pairs.parquet").exists()


@pytest.mark.parametrize("doc", LINKED_DOCS)
def test_links_stay_inside_the_repository(doc):
    path = REPO / doc
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, f"{doc}: no links found"
    for link in links:
        assert not re.match(r"[a-z]+:", link), f"{doc}: link to outside the repository: {link}"
        target = link.split("#")[0]
        if not target:
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(REPO), f"{doc}: {link} leaves the repository"
        assert resolved.exists(), f"{doc}: {link} does not exist"


# ---------------------------------------------------------------------------------- architecture
ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")


def _architecture_example(title: str) -> str:
    """The Python example under the ``### title`` heading of docs/architecture.md."""
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##|\Z)", ARCHITECTURE,
                      flags=re.S | re.M)
    assert match, f"docs/architecture.md: no section '### {title}'"
    return _blocks("python", match.group(1))[0]


def _run(code: str, namespace: dict | None = None) -> dict:
    namespace = {"__name__": "architecture_example"} if namespace is None else namespace
    exec(compile(code, "docs/architecture.md", "exec"), namespace)
    return namespace


def test_architecture_contract_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _run(_blocks("python", _section("The contract", ARCHITECTURE))[0])
    accuracy, _ = capsys.readouterr().out.split(" ", 1)
    assert 0.5 <= float(accuracy) <= 1.0
    assert (tmp_path / "bt-model" / "config.json").exists()


def test_architecture_model_example(tmp_path, monkeypatch):
    import numpy as np

    import prefkit
    from prefkit.core import persist, registry

    tag = "choice.WinRate"
    assert f'"{tag}": "prefkit.choice.win_rate:WinRate"' in ARCHITECTURE
    monkeypatch.setitem(registry.KNOWN_CLASSES, tag, "prefkit.choice.win_rate:WinRate")
    monkeypatch.setattr(persist, "KNOWN_CLASSES", registry.KNOWN_CLASSES)
    monkeypatch.setattr(persist, "_REGISTRY", dict(persist._REGISTRY))
    monkeypatch.chdir(tmp_path)
    win_rate = _run(_architecture_example("A new model"))["WinRate"]
    ds = prefkit.PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": "a"}] * 3 + [{"a": "y", "b": "x", "winner": "a"}])
    model = win_rate().fit(ds)
    # x won 3 of 4 with one pseudo-win and one pseudo-loss: p = 4/6
    assert np.allclose(model.item_scores(["x", "y"]), [np.log(2), -np.log(2)])
    assert np.allclose(model.predict_proba(ds), [0.8, 0.8, 0.8, 0.2])
    prefkit.save(model, tmp_path / "wr")
    again = prefkit.load(tmp_path / "wr")
    assert type(again) is win_rate and np.allclose(again.predict_proba(ds), [0.8] * 3 + [0.2])
    assert win_rate(prior=2.0).get_params() == {"prior": 2.0}


def test_architecture_loss_example(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    from prefkit.align import losses

    monkeypatch.setattr(losses, "LOSSES", dict(losses.LOSSES))
    _run(_architecture_example("A new loss (alignment)"))
    assert "margin" in capsys.readouterr().out
    spec = losses.get_loss("margin_dpo")
    zero = torch.zeros(2)
    out = spec(policy_chosen_logps=zero, policy_rejected_logps=zero, ref_chosen_logps=zero,
               ref_rejected_logps=zero, margin=0.0)
    assert torch.allclose(out.losses, torch.full((2,), float(np.log(2.0))))


def test_architecture_reader_example(tmp_path, monkeypatch, capsys):
    from prefkit.data.readers import registry

    registry.readers()  # load the built-in readers first, so that the copy below holds them all
    monkeypatch.setattr(registry, "_READERS", dict(registry._READERS))
    monkeypatch.chdir(tmp_path)
    _run(_architecture_example("A new reader"))
    out = capsys.readouterr().out
    assert "'records': 3" in out and "'items': 3" in out
    assert registry.sniff_format(tmp_path / "games.duels") == "duels"


def test_architecture_command_example(tmp_path, monkeypatch):
    import importlib
    import types

    from typer.testing import CliRunner

    app_module = importlib.import_module("prefkit.cli.app")

    module = types.ModuleType("prefkit_count_example")
    _run(_architecture_example("A new command"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    entry = re.search(r'"count": CommandEntry\((.*?)\),\n', ARCHITECTURE, flags=re.S)
    assert entry, "no COMMANDS line for the count example"
    args = [a.strip().strip('"') for a in " ".join(entry.group(1).split()).split('", "')]
    assert args[0] == "prefkit.cli.count"
    args[0] = module.__name__
    monkeypatch.setitem(app_module.COMMANDS, "count", app_module.CommandEntry(*args))
    (tmp_path / "battles.jsonl").write_text('{"a": "x", "b": "y", "winner": "a"}\n')
    runner = CliRunner()
    result = runner.invoke(app_module.app, ["count", str(tmp_path / "battles.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '{"records": 1}'
    result = runner.invoke(app_module.app, ["count", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")  # guarded by the loader
    result = runner.invoke(app_module.app, ["count", "--help"])
    assert "Example: prefkit count battles.jsonl --json" in " ".join(result.stdout.split())
