"""Run an arena under uvicorn (``prefkit arena serve``): checks before listening, then serve.

Exposure follows ``prefkit serve`` (:mod:`prefkit.serve.server`): votes always need an
annotator's token, and the read-only pages are open — so the server listens on a loopback
address only, unless ``private`` (every page needs a signed-in annotator) or ``insecure``.
"""

from __future__ import annotations

import logging

from prefkit.arena.store import ArenaStore
from prefkit.serve.server import is_loopback
from prefkit.serve.settings import ServeConfigError


def check_exposure(host: str, *, private: bool, insecure: bool) -> None:
    """Refuse a non-loopback address with open pages (unless ``insecure``)."""
    if not is_loopback(host) and not private and not insecure:
        raise ServeConfigError(f"refusing to serve the arena's open pages on {host}: add "
                               "--private (every page then needs a sign-in) or --insecure")


def serve_arena(store_url: str, *, host: str = "127.0.0.1", port: int = 8100,
                rule: str = "arena", refit_interval: float = 1.0, scale: str = "elo",
                private: bool = False, insecure: bool = False, log_level: str = "info",
                access_log: bool = True, attributes: tuple[str, ...] = (),
                bootstrap: int = 0) -> None:
    """Listen on ``host:port`` until SIGINT/SIGTERM."""
    import uvicorn

    from prefkit.arena.app import create_app
    from prefkit.arena.live import LiveBoard

    check_exposure(host, private=private, insecure=insecure)
    store = ArenaStore(store_url)
    board = LiveBoard(store, rule=rule, interval=refit_interval, scale=scale,
                      bootstrap=bootstrap)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(store, board, private=private, attributes=attributes)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log,
                    timeout_graceful_shutdown=10)
    finally:
        store.close()
