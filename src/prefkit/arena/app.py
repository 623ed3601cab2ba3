"""The arena's FastAPI application: the voting page, the leaderboard page and their JSON API.

Pages (HTML rendered by Jinja2 with autoescape on, so every text a user or a dataset supplied is
escaped; scripts and styles are files under ``/static`` — no inline script, no CDN — and the
``Content-Security-Policy`` forbids anything else):

``GET /signin#token=…``   the sign-in link of ``prefkit arena add-annotator``: the token stays in
                          the URL fragment (never sent in a request line, never in a log); the
                          page posts it to ``/api/signin``, which sets an HttpOnly cookie.
``GET /vote``             the next task: two responses side by side, keys A, B, T (tie), S (skip),
                          an optional rationale.
``GET /leaderboard``      the report's leaderboard section (:mod:`prefkit.report.leaderboard`):
                          rank (upper-bound rule), rating, asymmetric 95 % interval, votes,
                          the style-controlled rank and rating beside the raw ones when the
                          tasks have response texts; interval plot, win-fraction and
                          battle-count heat maps.  Sortable; the page swaps in
                          ``GET /leaderboard/section`` (the same fragment) when votes arrive.

API (JSON; an annotator authenticates with ``Authorization: Bearer TOKEN`` or the cookie):

``GET /api/next``         ``{"task": {...}}`` or ``{"task": null}`` when the annotator is done.
``POST /api/vote``        ``{"task_id", "winner": a|b|tie|skip, "rationale"?, "ratings"?}`` →
                          201 ``{"vote_id", …}`` once committed; 401 no or a wrong token, 404
                          unknown task, 409 a second vote on the task, 413 too large, 422 a
                          malformed field — and then nothing is stored.
``GET /api/leaderboard``  the current snapshot of :class:`prefkit.arena.live.LiveBoard`.
``GET /api/status``       counts of tasks and votes.  ``GET /health``: 200 (always open).

The request gate of the serve layer (:class:`prefkit.serve.security.Gate`: body-size limit,
Prometheus metrics at ``/metrics``) wraps the app.  A request authenticated by the cookie that
carries an ``Origin`` of another host is refused (403), and the cookie is ``SameSite=Strict``.
With ``private=True`` the leaderboard pages need a signed-in annotator too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefkit import __version__
from prefkit.arena.live import LiveBoard
from prefkit.arena.store import AnnotatorRef, ArenaError, ArenaStore, VoteRejected
from prefkit.serve.metrics import ServeMetrics
from prefkit.serve.security import Gate

log = logging.getLogger("prefkit.arena")

HERE = Path(__file__).parent
COOKIE = "prefkit_arena"
MAX_BODY_BYTES = 64 * 1024
ROUTES = frozenset({"/", "/signin", "/vote", "/leaderboard", "/health", "/metrics", "/api/next",
                    "/api/vote", "/api/signin", "/api/signout", "/api/leaderboard",
                    "/api/status", "/leaderboard/section"})
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Denied(Exception):
    """A request without a valid annotator (401) or from another origin (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def templates() -> Any:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["version"] = __version__
    return env


def create_app(store: ArenaStore, board: LiveBoard, *, private: bool = False,
               attributes: tuple[str, ...] = ()) -> Any:
    """The ASGI app of one arena (``board`` is started and stopped with the app).

    ``attributes``: names rated 1–5 per response on the voting page (optional for the
    annotator), stored as the vote's ratings ``{"a.NAME": k, "b.NAME": k}``.
    """
    pages = templates()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(board.start)
        yield
        await run_in_threadpool(board.stop)

    app = FastAPI(title="prefkit arena", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    metrics = ServeMetrics()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    # ------------------------------------------------------------------ helpers
    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(pages.get_template(name).render(**context), status_code=status)

    async def annotator(request: Request, *, write: bool = False) -> AnnotatorRef:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Denied(401, "missing or invalid bearer token")
            token = token.strip()
        else:
            token = request.cookies.get(COOKIE, "")
            origin = request.headers.get("origin")
            if write and token and origin and urlsplit(origin).netloc != request.headers.get(
                    "host"):
                raise Denied(403, "cross-origin request refused")
        if not token:
            raise Denied(401, "missing or invalid bearer token")
        who = await run_in_threadpool(store.annotator_for_token, token)
        if who is None:
            raise Denied(401, "missing or invalid bearer token")
        return who

    async def reader(request: Request) -> None:
        if private:
            await annotator(request)

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise VoteRejected(422, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise VoteRejected(422, "the request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ errors
    @app.exception_handler(Denied)
    async def denied(request: Request, err: Denied) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": err.message}, status_code=err.status,
                                headers={"www-authenticate": "Bearer"})
        return render("message.html", err.status, title="Sign in to vote",
                      message="Open the sign-in link you were given "
                              "(prefkit arena add-annotator prints it).")

    @app.exception_handler(VoteRejected)
    async def rejected(_: Request, err: VoteRejected) -> JSONResponse:
        return JSONResponse({"error": err.message, "field": err.field}, status_code=err.status)

    @app.exception_handler(ArenaError)
    async def store_down(_: Request, err: ArenaError) -> JSONResponse:
        log.error("store error: %s", err)
        return JSONResponse({"error": "the vote store is unavailable; try again"},
                            status_code=503, headers={"retry-after": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        message = "not found" if err.status_code == 404 else str(err.detail)
        return JSONResponse({"error": message}, status_code=err.status_code)

    # ------------------------------------------------------------------ service
    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "votes_fitted": board.snapshot.votes}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/")
    async def index() -> RedirectResponse:
        return RedirectResponse("/vote", status_code=303)

    # ------------------------------------------------------------------ sign-in
    @app.get("/signin")
    async def signin_page() -> HTMLResponse:
        return render("signin.html", title="Sign in")

    @app.post("/api/signin")
    async def signin(request: Request) -> JSONResponse:
        body = await json_body(request)
        token = body.get("token")
        who = (await run_in_threadpool(store.annotator_for_token, token)
               if isinstance(token, str) else None)
        if who is None:
            raise Denied(401, "unknown sign-in token")
        response = JSONResponse({"annotator": who.name})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                            max_age=30 * 24 * 3600, secure=request.url.scheme == "https")
        return response

    @app.post("/api/signout")
    async def signout() -> JSONResponse:
        response = JSONResponse({"signed_out": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ voting
    @app.get("/vote")
    async def vote_page(request: Request) -> HTMLResponse:
        who = await annotator(request)
        task = await run_in_threadpool(store.next_task, who.id, board.choose)
        recent = await run_in_threadpool(store.recent_votes, who.id)
        return render("vote.html", title="Vote", annotator=who.name, task=task, recent=recent,
                      attributes=attributes)

    @app.get("/api/next")
    async def next_task(request: Request) -> dict[str, Any]:
        who = await annotator(request)
        task = await run_in_threadpool(store.next_task, who.id, board.choose)
        return {"annotator": who.name, "task": task}

    @app.post("/api/vote", status_code=201)
    async def vote(request: Request) -> JSONResponse:
        who = await annotator(request, write=True)
        body = await json_body(request)
        unknown = sorted(set(body) - {"task_id", "winner", "rationale", "ratings"})
        if unknown:
            raise VoteRejected(422, f"unknown field {unknown[0]!r}", unknown[0])
        vote_id = await run_in_threadpool(
            lambda: store.cast_vote(who.id, body.get("task_id"), body.get("winner"),
                                    rationale=body.get("rationale"),
                                    ratings=body.get("ratings")))
        return JSONResponse({"vote_id": vote_id, "task_id": body["task_id"],
                             "winner": body["winner"], "annotator": who.name}, status_code=201)

    # ------------------------------------------------------------------ leaderboard
    @app.get("/api/leaderboard")
    async def leaderboard_json(request: Request) -> dict[str, Any]:
        await reader(request)
        return board.snapshot.to_dict()

    @app.get("/leaderboard")
    async def leaderboard_page(request: Request) -> HTMLResponse:
        await reader(request)
        snap = board.snapshot
        section = await run_in_threadpool(board_section, snap)
        return render("leaderboard.html", title="Leaderboard", board=snap, section=section)

    @app.get("/leaderboard/section")
    async def leaderboard_fragment(request: Request) -> HTMLResponse:
        await reader(request)
        snap = board.snapshot
        section = await run_in_threadpool(board_section, snap)
        return HTMLResponse(str(section), headers={"x-votes": str(snap.votes)})

    @app.get("/api/status")
    async def status(request: Request) -> dict[str, Any]:
        await reader(request)
        info = await run_in_threadpool(store.status)
        info.pop("votes_by_annotator", None)  # names stay private
        return {**info, "votes_fitted": board.snapshot.votes}

    return Gate(app, tokens=(), max_body_bytes=MAX_BODY_BYTES, metrics=metrics, routes=ROUTES)


def board_section(snapshot: Any) -> Any:
    """The leaderboard of ``snapshot`` as the report's section (an HTML fragment): table,
    interval plot and heat maps drawn by :mod:`prefkit.report.leaderboard` (every text escaped
    there); empty before the first fit."""
    from markupsafe import Markup

    from prefkit.report.leaderboard import leaderboard_summary, render_leaderboard_section

    if not snapshot.rows:
        return Markup("")
    details = {"scale": snapshot.scale, "level": snapshot.level,
               "ci": "bootstrap" if snapshot.bootstrap else "sandwich",
               "bootstrap": snapshot.bootstrap}
    board = {"model": "Bradley–Terry", "rows": snapshot.rows, "n": snapshot.votes,
             "details": details}
    style_board = None
    if snapshot.style is not None:
        style_board = {"model": "Bradley–Terry with style control", "details": {
            **details, "covariates": snapshot.style["coef"]}, "rows": [
            {"name": r["name"], "rank": r["style_rank"], "rating": r["style_rating"]}
            for r in snapshot.rows if r.get("style_rank") is not None]}
    summary = leaderboard_summary(board, snapshot.dataset, style_board=style_board)
    return Markup(render_leaderboard_section(summary, table_id="board", digits=1))


__all__ = ["board_section", "create_app"]
