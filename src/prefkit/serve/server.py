"""Run the app under uvicorn (``prefkit serve``): checks before listening, then serve."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from prefkit.serve.served import ServedModel
from prefkit.serve.settings import ServeConfigError, ServeSettings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_tokens(token_file: Path | None, api_key_env: str | None) -> tuple[str, ...]:
    """Bearer tokens: one per non-empty line of ``token_file`` and/or the env var's value."""
    tokens: list[str] = []
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as err:
            raise ServeConfigError(f"{token_file}: cannot read the token file: {err.strerror}"
                                   ) from None
        tokens += [line.strip() for line in text.splitlines() if line.strip()]
        if not tokens:
            raise ServeConfigError(f"{token_file}: the token file holds no token")
    if api_key_env is not None:
        value = os.environ.get(api_key_env, "").strip()
        if not value:
            raise ServeConfigError(f"--api-key-env: environment variable {api_key_env} is unset "
                                   "or empty")
        tokens.append(value)
    return tuple(tokens)


def check_exposure(host: str, tokens: tuple[str, ...], insecure: bool) -> None:
    """Refuse a non-loopback address without a token (unless ``insecure``)."""
    if not tokens and not is_loopback(host) and not insecure:
        raise ServeConfigError(f"refusing to listen on {host} without a token: give "
                               "--token-file or --api-key-env, or --insecure")


def serve(models: dict[str, ServedModel], settings: ServeSettings, *, host: str, port: int,
          insecure: bool = False, log_level: str = "info", access_log: bool = True) -> None:
    """Listen on ``host:port`` until SIGINT/SIGTERM (in-flight requests are drained).

    Without a token the server listens on loopback only, unless ``insecure``.
    """
    import uvicorn

    from prefkit.serve.app import create_app

    check_exposure(host, settings.tokens, insecure)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(models, settings)
    # uvicorn's access log names method, path and status only (never bodies or headers)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_graceful_shutdown=30)
