"""Options and steps shared by the ``prefkit judge`` commands that ask a judge (``pairwise``,
``grade``, ``checklist``): each option is spelled once here — flag, metavar, help — and used as
the type of a parameter, as :mod:`prefkit.cli.options` does for the options of every command.

=====================  ===================================================================
``--endpoint URL``     OpenAI-compatible base URL (:data:`EndpointOpt`; optional in
                       ``pairwise``, where hf:/rm: judges need none: :data:`OptionalEndpointOpt`)
``--model NAME``       one judge model (:data:`ModelOpt`; ``pairwise`` takes a jury instead)
``--concurrency N``    requests in flight (:data:`ConcurrencyOpt`)
``--api-key-env VAR``  where the API key is read from (:data:`ApiKeyEnvOpt`)
``--timeout S``        per-request time-out (:data:`TimeoutOpt`)
``--max-attempts N``   attempts per request (:data:`MaxAttemptsOpt`)
``--reask N``          re-asks of an unparsed answer (:data:`ReaskOpt`)
``--cache FILE``       SQLite reply cache (:data:`CacheOpt`, :func:`reply_cache_path`)
``--progress``         progress bar on stderr (:data:`ProgressOpt`)
=====================  ===================================================================

The steps around the run are the same too: :func:`preflight_unless_cached` (a dead endpoint is
one line before any file exists), :func:`cache_and_progress` and :func:`raise_if_failed` (a run
that could not finish keeps what it received and says so).

This module imports typer and the standard library only (it is imported at start-up).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer


def _endpoint_option() -> Any:
    return typer.Option("--endpoint", metavar="URL",
                        help="OpenAI-compatible base URL (http://host:8000 or …/v1).")


EndpointOpt = Annotated[str, _endpoint_option()]
OptionalEndpointOpt = Annotated[str | None, _endpoint_option()]
ModelOpt = Annotated[str, typer.Option("--model", metavar="NAME", help="Judge model name.")]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", metavar="N", help="Requests in flight at most.")
]
ApiKeyEnvOpt = Annotated[
    str, typer.Option("--api-key-env", metavar="VAR",
                      help="Environment variable holding the API key (never logged).")
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="S", help="Per-request time-out (seconds).")
]
MaxAttemptsOpt = Annotated[
    int, typer.Option("--max-attempts", metavar="N", help="Attempts per request.")
]
ReaskOpt = Annotated[
    int, typer.Option("--reask", metavar="N", help="Re-ask an unparsed answer N times.")
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", metavar="FILE",
                              help="SQLite reply cache (default: OUT + .cache.sqlite).")
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress")]


def reply_cache_path(out: Path, cache: Path | None) -> Path:
    """``--cache``, or the output's name + ``.cache.sqlite`` beside it."""
    return cache or out.with_name(out.name + ".cache.sqlite")


def preflight_unless_cached(backends: Iterable[Any], cache_path: Path) -> None:
    """Nothing cached yet means everything will be asked: check every backend now, before any
    file exists."""
    if not cache_path.exists():
        for backend in backends:
            backend.preflight()


@contextlib.contextmanager
def cache_and_progress(
    cache_path: Path, progress: bool, total: int, what: str, unit: str,
    status: Callable[[], str] | None = None,
) -> Iterator[tuple[Any, Callable[[int], None]]]:
    """``(reply cache, advance)`` for the run: the open :class:`~prefkit.judge.cache.JudgeCache`
    and the progress bar's ``advance``."""
    from prefkit.core.progress import progress_bar
    from prefkit.judge.cache import JudgeCache

    with JudgeCache(cache_path) as reply_cache, \
            progress_bar(progress, total, what, unit=unit, status=status) as advance:
        yield reply_cache, advance


def raise_if_failed(errors: int, examples: list[str], received: int, out: Path,
                    what: str) -> None:
    """Failed requests make the command fail (exit 2) after the run: ``received`` ``what``
    (judgments, results) are kept in ``out`` and the same command asks the rest."""
    from prefkit.judge.backends.openai_http import JudgeBackendError

    if errors:
        raise JudgeBackendError(
            f"{errors} requests failed (e.g. {examples[0]}); the {received} {what} received are "
            f"in {out}: run the same command again to ask the rest")
