"""The ``prefkit`` command: one typer app whose sub-commands are imported only when used.

Run ``prefkit --help``.  Exit status: 0 success, 2 bad input or usage (one ``error:`` line on
stderr), 1 a bug in prefkit.

Start-up is kept short on purpose: this module imports typer and nothing else of weight.  The
commands live in :data:`COMMANDS`, a static table (name → module, attribute, one-line help);
``prefkit --help`` lists them from the table, and a command's module is imported only when that
command runs or shows its own help.  Loading a command applies the error guard
(:func:`prefkit.cli._common.guard`) to every callback that does not have it yet, so each command
is guarded exactly once.  A command whose optional dependency is missing ends as one line
``error: … install prefkit[EXTRA]`` with exit status 2.

To add a command: write ``prefkit/cli/<name>.py`` with a function (one command) or a
``typer.Typer`` (a group), and add one :class:`CommandEntry` to :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from prefkit import __version__


@dataclass(frozen=True)
class CommandEntry:
    """Where a sub-command lives, and the one line ``prefkit --help`` shows for it."""

    module: str
    attribute: str
    help: str
    #: Shown under ``prefkit NAME --help`` when the command's own help has no example.
    example: str
    hidden: bool = False


#: Every sub-command of ``prefkit``, in the order ``prefkit --help`` lists them.  The help line
#: must match the first line of the command's own help (tests/cli checks it).
COMMANDS: dict[str, CommandEntry] = {
    "data": CommandEntry(
        "prefkit.cli.data", "data_app",
        "Check, summarise, convert, split and simulate preference data.",
        "prefkit data validate battles.jsonl",
    ),
    "leaderboard": CommandEntry(
        "prefkit.cli.leaderboard", "leaderboard_command",
        "Rank the items of FILE with a paired-comparison (or Plackett–Luce) model.",
        "prefkit leaderboard battles.jsonl --bootstrap 100 --out board/",
    ),
    "evaluate-forward": CommandEntry(
        "prefkit.cli.forward", "forward_command",
        "Fit each model on the records up to --train-until and score its predictions of the rest.",
        "prefkit evaluate-forward games.csv --time date --train-until 2015-03-01 --json",
    ),
    "rm": CommandEntry(
        "prefkit.cli.rm", "rm_app", "Reward models: train, evaluate and score.",
        "prefkit rm train pairs.jsonl --out rm/ && prefkit rm eval rm/ test.jsonl",
    ),
    "plural": CommandEntry(
        "prefkit.cli.plural", "plural_app", "User-aware (pluralistic) preference models.",
        "prefkit plural train pairs.jsonl --model mixture --out plural/",
    ),
    "align": CommandEntry(
        "prefkit.cli.align", "align_app",
        "Align a causal LM to preference data (DPO family), evaluate it, sample best-of-N.",
        "prefkit align train pairs.jsonl --base tiny --out runs/dpo",
    ),
    "judge": CommandEntry(
        "prefkit.cli.judge", "judge_app",
        "LLM judges: judge pairs over HTTP, analyse judgments, turn verdicts into battles.",
        "prefkit judge analyze gpt-4_pair.jsonl --json",
    ),
    "quality": CommandEntry(
        "prefkit.cli.quality", "quality_app",
        "Preference data quality: annotator reliability, what drives preferences, what to "
        "label next.",
        "prefkit quality annotators votes.jsonl --json",
    ),
    "serve": CommandEntry(
        "prefkit.cli.serve", "serve_command",
        "Serve saved models over HTTP: scores, comparisons, OpenRLHF rewards, metrics.",
        "prefkit serve rm/ --port 8000",
    ),
    "arena": CommandEntry(
        "prefkit.cli.arena", "arena_app",
        "Run your own arena: a vote store, a voting page, a live leaderboard, exports.",
        "prefkit arena init && prefkit arena add-tasks pairs.jsonl && prefkit arena serve",
    ),
    "report": CommandEntry(
        "prefkit.cli.report", "report_command",
        "Write one self-contained HTML report of data, a leaderboard or a saved model.",
        "prefkit report battles.jsonl --out report.html",
    ),
    "jobs": CommandEntry(
        "prefkit.cli.jobs", "jobs_app",
        "Batch jobs (score, encode, judge, generate) over whole files, locally or on Ray.",
        "prefkit jobs judge pairs.jsonl --model rm:rm/ --out j.jsonl --engine ray",
    ),
    "demo": CommandEntry(
        "prefkit.cli.demo", "demo_command",
        "Simulate battles, fit a leaderboard with intervals, and check it against the truth.",
        "prefkit demo --n 20000",
    ),
}


class LazyGroup(TyperGroup):
    """A typer group that imports a sub-command's module only when the command is needed.

    ``prefkit --help`` (and ``prefkit`` alone) lists the commands from :data:`COMMANDS` without
    importing any of them; ``prefkit NAME …`` imports NAME's module alone.
    """

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        eager = [name for name in super().list_commands(ctx) if name not in COMMANDS]
        return [*COMMANDS, *eager]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None:
            return loaded
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # the root --help: a stand-in that carries the one-line help
            return TyperCommand(cmd_name, help=entry.help, hidden=entry.hidden)
        command = load_command(cmd_name, entry)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As typer's, but 'did you mean …' also considers commands not imported yet."""
        name = args[0] if args else None
        unknown = name is not None and name not in COMMANDS and not name.startswith("-")
        if unknown and super().get_command(ctx, name) is None:
            matches = get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
            ctx.fail(f"No such command '{name}'.{hint}")
        return super().resolve_command(ctx, args)


def load_command(name: str, entry: CommandEntry) -> Any:
    """Import one command's module and build its click command, guarded once.

    A missing optional dependency (torch for ``rm`` …) ends as one ``error:`` line naming the
    extra to install, exit status 2.
    """
    from prefkit.cli._common import guard_tree, report_exception
    from prefkit.cli.options import add_data_options

    try:
        module = importlib.import_module(entry.module)
    except Exception as err:  # reported like any failure inside a command
        report_exception(err, command=name, module=entry.module)
    target = getattr(module, entry.attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    if "Example:" not in f"{command.help or ''} {command.epilog or ''}":
        command.epilog = f"Example: {entry.example}"
    guard_tree(command)
    add_data_options(command)  # --ids-as-text on every command that reads preference data
    return command


app = typer.Typer(
    name="prefkit",
    cls=LazyGroup,
    help="Learning from human preferences: preference data in, preference models out.",
    epilog="Example: prefkit data validate battles.jsonl && prefkit leaderboard battles.jsonl",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"prefkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """prefkit — preference data in, preference models out, every model judged the same way."""


def _show_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """Warnings from the library as one ``warning:`` line on stderr (no source line)."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"warning: {text}\n")


def main() -> None:
    """Console-script entry point (``prefkit``, ``python -m prefkit``)."""
    warnings.showwarning = _show_warning
    app(prog_name="prefkit")
