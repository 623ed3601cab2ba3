"""``prefkit arena …``: run your own arena — a vote store, a voting page, a live leaderboard.

* ``prefkit arena init`` — create or migrate the store (Alembic ``upgrade head``);
* ``prefkit arena add-tasks DATA`` — one task per pairwise record of any file prefkit reads;
* ``prefkit arena add-annotator NAME`` — print a sign-in link with a fresh token;
* ``prefkit arena serve`` — the voting page, the live leaderboard and their JSON API;
* ``prefkit arena export --out FILE`` — the votes as canonical preference data;
* ``prefkit arena status`` — counts of tasks, annotators and votes.

``--store URL`` (or ``PREFKIT_ARENA_STORE``) picks the database: ``sqlite:///arena.db`` in the
working directory by default, ``postgresql+psycopg://user:password@host/db`` for PostgreSQL.
See docs/arena.md.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prefkit.cli.options import (
    DataFileArg,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    out_file,
)

if TYPE_CHECKING:
    from prefkit.arena.store import ArenaStore

arena_app = typer.Typer(
    help="Run your own arena: a vote store, a voting page, a live leaderboard, exports.\n\n"
         "Example: prefkit arena init && prefkit arena add-tasks pairs.jsonl && "
         "prefkit arena serve",
    no_args_is_help=True,
    add_completion=False,
)

#: the packages of the ``arena`` extra (a missing one ends as one ``install prefkit[arena]`` line)
ARENA_PACKAGES = ("sqlalchemy", "alembic", "jinja2", "fastapi", "uvicorn", "starlette",
                  "prometheus_client", "mako")

StoreOpt = Annotated[str, typer.Option(
    "--store", metavar="URL", envvar="PREFKIT_ARENA_STORE",
    help="SQLAlchemy URL of the vote store: sqlite:///FILE or "
         "postgresql+psycopg://USER:PASSWORD@HOST/DB.")]
DEFAULT_STORE = "sqlite:///arena.db"


class Rule(str, Enum):
    """How the next task is chosen (prefkit.choice.active)."""

    uniform = "uniform"
    arena = "arena"
    a_optimal = "a-optimal"
    rank = "rank"
    density = "density"


class Scale(str, Enum):
    """Rating scale of the leaderboard."""

    elo = "elo"
    logit = "logit"


def _open(store: str, *, require_schema: bool = True) -> ArenaStore:
    import importlib.util

    from prefkit.cli._common import fail

    if importlib.util.find_spec("alembic") is None:  # imported by 'init' only: just look
        fail("prefkit arena needs the optional package 'alembic': install prefkit[arena] "
             "(pip install 'prefkit[arena]')")
    try:
        import sqlalchemy  # noqa: F401  (checked here: one line, not a traceback, when missing)

        from prefkit.arena.store import ArenaStore
    except ModuleNotFoundError as err:
        package = (err.name or "").split(".")[0]
        if package in ARENA_PACKAGES:
            fail(f"prefkit arena needs the optional package '{package}': install "
                 "prefkit[arena] (pip install 'prefkit[arena]')")
        raise
    return ArenaStore(store, require_schema=require_schema)


@arena_app.command("init")
def init_command(store: StoreOpt = DEFAULT_STORE) -> None:
    """Create the vote store, or migrate it to the newest schema (Alembic upgrade head).

    Example: prefkit arena init --store sqlite:///arena.db
    """
    arena = _open(store, require_schema=False)
    try:
        before, after = arena.migrate()
    finally:
        arena.close()
    from prefkit.arena.store import redact

    what = ("created" if before is None else
            "already at" if before == after else f"migrated from {before} to")
    typer.echo(f"arena store {redact(store)}: {what} schema revision {after}")


@arena_app.command("add-tasks")
def add_tasks_command(
    data: DataFileArg,
    store: StoreOpt = DEFAULT_STORE,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    keep_duplicates: Annotated[bool, typer.Option(
        help="Also add a record whose prompt, items and texts equal an existing task's.")]
    = False,
) -> None:
    """Add one task per pairwise record of FILE (prompt, items a/b and/or texts a_text/b_text).

    Outcomes in FILE are ignored: the arena collects its own.  Rankings become their pairs.
    A record equal to a task already added (prompt, items, texts) is skipped unless
    --keep-duplicates: files with several annotators' labels per pair list each pair once per
    label.

    Example: prefkit arena add-tasks pairs.jsonl --store sqlite:///arena.db
    """
    from prefkit.cli._common import describe_count, load
    from prefkit.core.progress import progress_bar

    arena = _open(store)
    try:
        dataset = load(data, fmt, mapping=mapping, label_map=label_map)
        # a bar for large files only (a few thousand rows are stored in well under a second)
        with progress_bar(None if len(dataset) >= 20_000 else False, len(dataset),
                          "add tasks", unit="tasks") as advance:
            added = arena.add_tasks(dataset, source=Path(data).name, progress=advance,
                                    keep_duplicates=keep_duplicates)
        total = arena.status()["tasks"]
    finally:
        arena.close()
    skipped = (f"; skipped {arena.skipped_duplicates} equal to a task already added "
               "(--keep-duplicates adds them)" if arena.skipped_duplicates else "")
    typer.echo(f"added {added} tasks from {describe_count(dataset)} in {data}{skipped} "
               f"({total} tasks in the store)")


@arena_app.command("add-annotator")
def add_annotator_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The annotator's name (unique).")],
    store: StoreOpt = DEFAULT_STORE,
    url: Annotated[str, typer.Option(
        "--url", metavar="URL", help="Address the arena is served at (for the sign-in link).")]
    = "http://127.0.0.1:8100",
    json_output: JsonOpt = False,
) -> None:
    """Register an annotator and print their sign-in link (the token is shown only once).

    Example: prefkit arena add-annotator alice --url http://arena.example:8100
    """
    from prefkit.cli._common import echo_json

    arena = _open(store)
    try:
        token = arena.add_annotator(name)
    finally:
        arena.close()
    link = f"{url.rstrip('/')}/signin#token={token}"
    if json_output:
        echo_json({"annotator": " ".join(name.split()), "token": token, "link": link})
        return
    typer.echo(f"annotator {name!r} added; sign-in link (keep it secret, it is shown once):")
    typer.echo(link)
    typer.echo(f"API token (Authorization: Bearer …): {token}")


@arena_app.command("serve")
def serve_command(
    store: StoreOpt = DEFAULT_STORE,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8100,
    rule: Annotated[Rule, typer.Option(help="How the next task is chosen.")] = Rule.arena,
    refit_interval: Annotated[float, typer.Option(
        metavar="SECONDS", help="How often the leaderboard looks for new votes.")] = 1.0,
    scale: Annotated[Scale, typer.Option(help="Rating scale of the leaderboard.")] = Scale.elo,
    bootstrap: Annotated[int, typer.Option(
        metavar="N", help="Percentile intervals from N bootstrap resamples (asymmetric; "
                          "0: sandwich intervals).")] = 0,
    private: Annotated[bool, typer.Option(
        help="Every page (the leaderboard too) needs a signed-in annotator.")] = False,
    insecure: Annotated[bool, typer.Option(
        help="Allow open pages on a non-loopback address.")] = False,
    attribute: Annotated[list[str] | None, typer.Option(
        "--attribute", metavar="NAME",
        help="An attribute each response may be rated on, 1–5 (repeatable), e.g. "
             "helpfulness; stored in the vote's ratings as a.NAME and b.NAME.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(
        help="Log one line per request (method, path, status; never bodies).")] = True,
) -> None:
    """Serve the voting page (keys A, B, T, S), the live leaderboard and the JSON API.

    Example: prefkit arena serve --port 8100 --rule arena
    """
    from prefkit.cli._common import fail

    if not refit_interval > 0:
        fail(f"--refit-interval must be positive, not {refit_interval}")
    if not 0 <= bootstrap <= 10_000:
        fail(f"--bootstrap must be between 0 and 10000, not {bootstrap}")
    attributes = tuple(dict.fromkeys(" ".join(a.split()) for a in attribute or []))
    if any(not a or len(a) > 60 for a in attributes):
        fail("--attribute: a name is 1–60 characters")
    try:
        import fastapi  # noqa: F401  (checked here: one line, not a traceback, when missing)
        import uvicorn  # noqa: F401

        from prefkit.arena.server import check_exposure, serve_arena
    except ModuleNotFoundError as err:
        package = (err.name or "").split(".")[0]
        if package in ARENA_PACKAGES:
            fail(f"prefkit arena serve needs the optional package '{package}': install "
                 "prefkit[arena] and prefkit[serve]")
        raise
    check_exposure(host, private=private, insecure=insecure)
    _open(store).close()  # the store exists and is migrated, before listening
    _check_port_free(host, port)
    typer.echo(f"prefkit arena: voting page at http://{host}:{port}/vote, leaderboard at "
               f"http://{host}:{port}/leaderboard", err=True)
    serve_arena(store, host=host, port=port, rule=rule.value, refit_interval=refit_interval,
                scale=scale.value, private=private, insecure=insecure, log_level=log_level,
                access_log=access_log, attributes=attributes, bootstrap=bootstrap)


def _check_port_free(host: str, port: int) -> None:
    """One ``error:`` line, before start-up, when ``host:port`` cannot be listened on."""
    import socket

    from prefkit.cli._common import fail

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as err:
        fail(f"cannot listen on {host}:{port}: {err.strerror or err}")


@arena_app.command("export")
def export_command(
    out: Annotated[Path, out_file("Where to write the votes (.jsonl, .csv or .parquet).")],
    store: StoreOpt = DEFAULT_STORE,
    force: ForceOpt = False,
) -> None:
    """Write the votes (a, b, tie; skips left out) as canonical pairwise preference data.

    Example: prefkit arena export --out votes.jsonl --store sqlite:///arena.db
    """
    from prefkit.cli._common import describe_count, fail, output_format, write

    fmt = output_format(out)
    if out.exists() and not force:
        fail(f"{out}: exists; add --force to replace it")
    arena = _open(store)
    try:
        dataset = arena.export_dataset()
    finally:
        arena.close()
    write(dataset, out, fmt)
    typer.echo(f"wrote {describe_count(dataset)} to {out}")


@arena_app.command("status")
def status_command(store: StoreOpt = DEFAULT_STORE, json_output: JsonOpt = False) -> None:
    """Counts of tasks, annotators and votes (by verdict and by annotator).

    Example: prefkit arena status --json
    """
    from prefkit.cli._common import echo_json

    arena = _open(store)
    try:
        info = arena.status()
    finally:
        arena.close()
    if json_output:
        echo_json(info)
        return
    votes = info["votes_by_winner"]
    typer.echo(f"store {info['store']} (schema {info['revision']}): {info['tasks']} tasks "
               f"({info['tasks_voted']} with votes), {info['annotators']} annotators, "
               f"{info['votes']} votes (a {votes['a']}, b {votes['b']}, tie {votes['tie']}, "
               f"skip {votes['skip']})")
    for name, count in info["votes_by_annotator"].items():
        typer.echo(f"  {name}: {count}")
