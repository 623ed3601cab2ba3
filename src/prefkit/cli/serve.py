"""``prefkit serve``: saved models behind an HTTP scoring service (``docs/serve.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: the packages of the ``serve`` extra (a missing one ends as one ``install prefkit[serve]`` line)
SERVE_PACKAGES = ("fastapi", "uvicorn", "prometheus_client", "starlette", "pydantic")


def serve_command(
    model_dirs: Annotated[list[Path] | None, typer.Argument(
        metavar="MODEL_DIR…",
        help="Saved model directories or Hugging Face causal-LM folders (served under their "
             "folder name).",
        show_default=False)] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    name: Annotated[list[str] | None, typer.Option(
        "--name", metavar="NAME=DIR", help="Serve DIR under NAME (repeatable).",
        show_default=False)] = None,
    token_file: Annotated[Path | None, typer.Option(
        help="File of bearer tokens, one per line; every endpoint but /health then needs one.",
        show_default=False)] = None,
    api_key_env: Annotated[str | None, typer.Option(
        metavar="VAR", help="Environment variable holding a bearer token.",
        show_default=False)] = None,
    insecure: Annotated[bool, typer.Option(
        help="Allow listening on a non-loopback address without a token.")] = False,
    max_batch: Annotated[int, typer.Option(help="Most inputs per model call.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(
        help="How long a batch waits for more requests (ms).")] = 5.0,
    max_queue: Annotated[int, typer.Option(
        help="Most requests waiting per model (503 beyond).")] = 1024,
    max_items: Annotated[int, typer.Option(
        help="Most responses/items/pairs/queries per request (413 beyond).")] = 1024,
    max_text_chars: Annotated[int, typer.Option(
        help="Longest text accepted (413 beyond).")] = 100_000,
    max_body_bytes: Annotated[int, typer.Option(
        help="Largest request body accepted (413 beyond).")] = 16 * 1024 * 1024,
    chat_max_batch: Annotated[int, typer.Option(
        "--max-chat-batch", help="Most chat requests in one generate call.")] = 8,
    chat_timeout: Annotated[float, typer.Option(
        help="Seconds a chat request may take, queue included (504 beyond).")] = 120.0,
    embedding_cache: Annotated[bool, typer.Option(
        help="Keep text embeddings in the on-disk cache (off: a reward server mostly sees new "
             "texts).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(
        help="Log one line per request (method, path, status; never bodies).")] = True,
) -> None:
    """Serve saved models over HTTP: scores, comparisons, OpenRLHF rewards, metrics.

    Example: prefkit serve rm/ --port 8000 && curl -s localhost:8000/v1/models
    """
    from prefkit.cli._common import fail

    named: list[tuple[str, str]] = [(Path(d).resolve().name or str(d), str(d))
                                    for d in model_dirs or []]
    for entry in name or []:
        key, sep, directory = entry.partition("=")
        if not sep or not key or not directory:
            fail(f"--name {entry!r}: expected NAME=DIR")
        named.append((key, directory))
    if not named:
        fail("give at least one MODEL_DIR (or --name NAME=DIR)")
    try:
        import fastapi  # noqa: F401  (checked here: one line, not a traceback, when missing)
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401

        from prefkit.serve.served import load_models
        from prefkit.serve.server import check_exposure, read_tokens, serve
        from prefkit.serve.settings import ServeSettings
    except ModuleNotFoundError as err:
        package = (err.name or "").split(".")[0]
        if package in SERVE_PACKAGES:
            fail(f"prefkit serve needs the optional package '{package}': install prefkit[serve] "
                 "(pip install 'prefkit[serve]')")
        raise
    settings = ServeSettings(
        max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue, max_items=max_items,
        max_text_chars=max_text_chars, max_body_bytes=max_body_bytes,
        chat_max_batch=chat_max_batch, chat_timeout_s=chat_timeout,
        tokens=read_tokens(token_file, api_key_env))
    check_exposure(host, settings.tokens, insecure)  # before the (slow) model loading
    models = load_models(named, embedding_cache=embedding_cache)
    typer.echo(f"prefkit serve: {len(models)} model(s) ({', '.join(models)}) on "
               f"http://{host}:{port} — docs at /docs", err=True)
    serve(models, settings, host=host, port=port, insecure=insecure, log_level=log_level,
          access_log=access_log)
