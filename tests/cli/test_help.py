"""Every ``--help`` page works and shows an example; shared options are spelled the same
everywhere (names, short forms, metavars, choices); each command is guarded once."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from prefkit.cli import app
from prefkit.cli._common import guard
from prefkit.cli.app import COMMANDS
from prefkit.cli.options import Ties

runner = CliRunner()
GUARD_CODE = guard(lambda: None).__code__

#: Options a command may not define its own way: long name → (short forms, metavar or None).
SHARED = {
    "--format": (["-f"], "FORMAT"),
    "--out": (["-o"], None),  # DIR or FILE
    "--seed": ([], "INT"),
    "--json": ([], None),
    "--force": ([], None),
    "--ties": ([], None),
    "--by": ([], "COLUMN"),
}
#: ``data split --by`` picks the unit held out (random | prompt | user | item), not a column.
BY_EXCEPTIONS = {"prefkit data split"}


def walk() -> Iterator[tuple[str, Any]]:
    """(command path, click command) for the root and every command under it, loaded."""
    root = typer.main.get_command(app)

    def visit(path: str, command: Any, ctx: Any) -> Iterator[tuple[str, Any]]:
        yield path, command
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is None or sub.hidden:
                    continue
                sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
                yield from visit(f"{path} {name}", sub, sub_ctx)

    yield from visit("prefkit", root, root.make_context("prefkit", [], resilient_parsing=True))


COMMAND_PATHS = [path for path, _ in walk()]


def kind(param: Any) -> tuple[str, list[str] | None]:
    """(type name, choices or None) of an option: 'choice', 'int', 'str', 'bool', 'Path' …"""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # typer on click: click parameter types
        click_type = param.type
        if hasattr(click_type, "choices"):
            return "choice", [str(c) for c in click_type.choices]
        names = {"integer": "int", "text": "str", "boolean": "bool", "float": "float"}
        return names.get(click_type.name, click_type.name), None
    annotation = descriptor.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice", [m.value for m in annotation]
    return getattr(annotation, "__name__", str(annotation)), None


def options(command: Any) -> dict[str, Any]:
    return {
        opt: param
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    }


def test_every_command_is_found() -> None:
    for name in COMMANDS:
        assert f"prefkit {name}" in COMMAND_PATHS
    assert {"prefkit data validate", "prefkit rm train", "prefkit align train"} <= set(
        COMMAND_PATHS
    )


@pytest.mark.parametrize("path", COMMAND_PATHS)
def test_help_page_has_an_example(path: str) -> None:
    result = runner.invoke(app, [*path.split()[1:], "--help"], env={"TERMINAL_WIDTH": "100"})
    assert result.exit_code == 0, (result.stdout, result.stderr)
    text = " ".join(result.stdout.split())
    assert "Example: prefkit" in text, text[:400]
    if path != "prefkit":
        assert f"Example: {path}" in text or f"Example: prefkit {path.split()[1]}" in text


def test_root_help_lines_match_the_commands() -> None:
    commands = dict(walk())
    for name, entry in COMMANDS.items():
        help_text = commands[f"prefkit {name}"].help or ""
        assert help_text.strip().splitlines()[0] == entry.help


@pytest.mark.parametrize("path", COMMAND_PATHS)
def test_shared_options_are_spelled_the_same(path: str) -> None:
    command = dict(walk())[path]
    for name, param in options(command).items():
        if name not in SHARED or (name == "--by" and path in BY_EXCEPTIONS):
            continue
        shorts, metavar = SHARED[name]
        assert sorted(o for o in param.opts if not o.startswith("--")) == shorts, (path, name)
        if metavar is not None:
            assert param.metavar == metavar, (path, name, param.metavar)
        if name == "--out":
            assert param.metavar in ("DIR", "FILE"), (path, param.metavar)
        type_name, choices = kind(param)
        if name in ("--json", "--force"):
            assert type_name == "bool", (path, name)
        if name == "--ties":
            assert type_name != "bool", f"{path}: a boolean --ties; use --tie-model"
            assert choices == [t.value for t in Ties], path
        if name == "--seed":
            assert type_name == "int", path
        if name == "--format":
            assert type_name == "str", path


@pytest.mark.parametrize("path", COMMAND_PATHS)
def test_choices_are_enums_not_free_strings(path: str) -> None:
    """An option whose help lists alternatives as ``a | b | c`` must be a choice type."""
    command = dict(walk())[path]
    for name, param in options(command).items():
        if " | " in (param.help or "") and kind(param)[0] == "str":
            pytest.fail(f"{path} {name}: free string listing choices in its help: {param.help}")


@pytest.mark.parametrize("path", COMMAND_PATHS)
def test_guarded_once(path: str) -> None:
    command = dict(walk())[path]
    if command.callback is None or path == "prefkit":
        return
    func, guards = command.callback, 0
    while func is not None:
        guards += getattr(func, "__code__", None) is GUARD_CODE
        func = getattr(func, "__wrapped__", None)
    assert guards == 1, f"{path}: error guard applied {guards} times"


@pytest.mark.parametrize("path", COMMAND_PATHS)
def test_every_command_with_format_also_takes_a_column_mapping(path: str) -> None:
    """A command that reads a preference file (it has --format) reads any table via --map."""
    names = options(dict(walk())[path])
    if "--format" in names and path not in MAP_EXCEPTIONS:
        assert {"--map", "--label-map"} <= set(names), path


#: recorded judge files have their own layouts (``--format fastchat-pair`` …), not tables
MAP_EXCEPTIONS = {"prefkit judge analyze", "prefkit judge battles"}
