"""The FastAPI application: routes, error bodies, and one micro-batcher per model.

Build it with :func:`create_app` (``models`` from :func:`prefkit.serve.served.load_models`);
``prefkit serve`` runs it under uvicorn (:mod:`prefkit.serve.server`).  Every error is one JSON
line ``{"error": "…", "field": …}``: 401 without a valid token, 404 unknown model or route, 413
over a size limit, 422 a malformed request (naming the field), 503 a full queue (with
``Retry-After``), 500 a model failure (with an ``id`` that the server log repeats; never a
traceback to the client).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefkit import __version__
from prefkit.errors import PrefkitError
from prefkit.serve.batcher import MicroBatcher, Overloaded
from prefkit.serve.chat import ChatJob, ChatRequest, GenerationTimeout
from prefkit.serve.metrics import ServeMetrics
from prefkit.serve.openrlhf import split_queries
from prefkit.serve.schemas import (
    CompareRequest,
    CompareResponse,
    ErrorBody,
    GetRewardRequest,
    GetRewardResponse,
    Health,
    ModelList,
    ScoreRequest,
    ScoreResponse,
)
from prefkit.serve.security import Gate
from prefkit.serve.served import Pair, RequestError, ServedModel
from prefkit.serve.settings import ServeSettings

log = logging.getLogger("prefkit.serve")

ROUTES = frozenset({"/v1/score", "/v1/compare", "/get_reward", "/v1/models", "/health",
                    "/metrics", "/docs", "/openapi.json", "/v1/chat/completions"})
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 404, 413, 422, 500, 503, 504)}


def create_app(models: dict[str, ServedModel], settings: ServeSettings | None = None) -> Any:
    """The ASGI app serving ``models`` (name → :class:`ServedModel`) under ``settings``."""
    settings = settings or ServeSettings()
    if not models:
        raise PrefkitError("no model to serve")
    metrics = ServeMetrics()
    batchers: dict[str, MicroBatcher] = {}
    chat_queues: dict[str, MicroBatcher] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name, served in models.items():
            batchers[name] = MicroBatcher(
                _operations(served), max_batch=settings.max_batch,
                max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue,
                on_batch=lambda op, n, s, name=name: metrics.observe_batch(name, op, n, s))
            batchers[name].start()
            if served.chat is not None:  # chat requests batched into one generate call
                chat_queues[name] = MicroBatcher(
                    {"chat": lambda jobs, served=served: served.chat.complete_batch(
                        jobs, served.name)},
                    max_batch=settings.chat_max_batch, max_wait_ms=settings.max_wait_ms,
                    max_queue=settings.max_queue,
                    on_batch=lambda op, n, s, name=name: metrics.observe_batch(name, op, n, s))
                chat_queues[name].start()
        yield
        for batcher in [*batchers.values(), *chat_queues.values()]:
            await batcher.stop()

    app = FastAPI(title="prefkit serve", version=__version__, lifespan=lifespan,
                  description="Scores, comparisons and OpenRLHF rewards from saved prefkit "
                              "models (docs/serve.md).")
    app.state.models, app.state.settings, app.state.metrics = models, settings, metrics
    _install_error_handlers(app)

    async def run(served: ServedModel, op: str, inputs: list[Any]) -> list[Any]:
        batcher = (chat_queues if op == "chat" else batchers)[served.name]
        metrics.queue_depth.labels(served.name).set(batcher.depth())
        try:
            return await batcher.submit(op, inputs)
        except Overloaded:
            metrics.rejected.labels(served.name).inc()
            raise

    # ------------------------------------------------------------------ routes
    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """200 once every model is loaded (open without a token)."""
        return Health(status="ok", models=list(models))

    @app.get("/v1/models", response_model=ModelList, tags=["service"], responses=ERRORS)
    async def list_models() -> dict[str, Any]:
        """The served models, OpenAI list shape, with what each can answer."""
        return {"object": "list", "data": [m.describe() for m in models.values()]}

    @app.get("/metrics", tags=["service"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text: requests by route and status, latency, batch sizes, queue depth."""
        for name, batcher in batchers.items():
            metrics.queue_depth.labels(name).set(batcher.depth())
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/score", response_model=ScoreResponse, tags=["scoring"], responses=ERRORS)
    async def score(body: ScoreRequest) -> ScoreResponse:
        """Rewards of responses to one prompt, or scalar scores of items."""
        served = _pick(models, body.model)
        _no_user(served, body.user_id)
        if body.responses is not None:
            _check_sizes(settings, "responses", body.responses)
            _check_text(settings, "prompt", body.prompt)
            prompts = body.prompts if body.prompts is not None else \
                [body.prompt] * len(body.responses)
            for k, prompt in enumerate(prompts):
                _check_text(settings, f"prompts[{k}]", prompt)
            _require(served.can_reward_texts, served, "responses")
            values = await run(served, "texts", list(zip(prompts, body.responses, strict=True)))
        else:
            items = body.items or []
            _check_sizes(settings, "items", items)
            _require(served.can_score_items, served, "items")
            served.check_items(items, "items")
            values = await run(served, "items", items)
        return ScoreResponse(model=served.name, rewards=[float(v) for v in values])

    @app.post("/v1/compare", response_model=CompareResponse, tags=["scoring"],
              responses=ERRORS)
    async def compare(body: CompareRequest) -> CompareResponse:
        """P(a ≻ b) per pair, and P(tie) where the model has ties."""
        served = _pick(models, body.model)
        if not served.can_compare:
            raise RequestError(f"model {served.name!r} ({served.tag}) only chats; use "
                               "/v1/chat/completions", field="model")
        _check_count(settings, "pairs", len(body.pairs))
        _check_text(settings, "user_id", body.user_id)
        pairs = []
        for k, p in enumerate(body.pairs):
            for key in ("a", "b", "prompt", "user_id", "pair_id"):
                _check_text(settings, f"pairs[{k}].{key}", getattr(p, key))
            if served.inputs != "pair_ids":
                for key in ("a", "b"):
                    if getattr(p, key) is None:
                        raise RequestError(f"pairs[{k}].{key}: field required",
                                           field=f"pairs[{k}].{key}")
            pairs.append(Pair(p.a or "", p.b or "", p.prompt, p.user_id or body.user_id,
                              p.pair_id))
        if served.inputs == "items":
            served.check_items([p.a for p in pairs], "pairs[].a")
            served.check_items([p.b for p in pairs], "pairs[].b")
        elif served.inputs == "pair_ids":
            pairs = served.check_pair_ids(pairs)
        users = {p.user_id for p in pairs if p.user_id is not None}
        if users and not served.has_users:
            raise RequestError(f"model {served.name!r} ({served.tag}) does not take a user_id",
                               field="user_id")
        out = await run(served, "pairs", pairs)
        p_tie = [float(t) for _, t in out] if served.has_ties else None
        known = [p.user_id is not None and p.user_id in served.users for p in pairs] \
            if served.has_users else None
        return CompareResponse(model=served.name, p_a=[_probability(p) for p, _ in out],
                               p_tie=p_tie, user_known=known,
                               unknown_users=sorted(u for u in users if u not in served.users))

    @app.post("/v1/chat/completions", tags=["OpenAI"], responses=ERRORS)
    async def chat_completions(body: ChatRequest) -> dict[str, Any]:
        """OpenAI chat completions from a local causal LM (greedy at temperature 0)."""
        served = _pick_chat(models, body.model)
        for k, message in enumerate(body.messages):
            if isinstance(message.content, str):
                _check_text(settings, f"messages[{k}].content", message.content)
        timeout = settings.chat_timeout_s
        job = ChatJob(body, time.monotonic() + timeout)
        try:  # a little grace: the generation itself stops at its deadline, at the next token
            return (await asyncio.wait_for(run(served, "chat", [job]), timeout + 1.0))[0]
        except asyncio.TimeoutError:
            raise GenerationTimeout("the request waited longer than the generation timeout"
                                    ) from None

    @app.post("/get_reward", response_model=GetRewardResponse, tags=["OpenRLHF"],
              responses=ERRORS)
    async def get_reward(
        body: GetRewardRequest,
        model: str | None = Query(None, description="Model name (default: the first reward "
                                                    "model served)."),
    ) -> GetRewardResponse:
        """OpenRLHF's remote reward model: one reward per query (prompt + response)."""
        served = _pick(models, model, texts=True)
        _check_sizes(settings, "query", body.query)
        for name, values in (("prompts", body.prompts), ("labels", body.labels)):
            if values is not None and len(values) != len(body.query):
                raise RequestError(f"{name} has {len(values)} entries, query has "
                                   f"{len(body.query)}", field=name)
        if body.prompts is not None:
            _check_sizes(settings, "prompts", body.prompts)
        _require(served.can_reward_texts, served, "query")
        prompts, responses = split_queries(body.query, body.prompts)
        inputs = list(zip(prompts, responses, strict=True))
        rewards = [float(v) for v in await run(served, "texts", inputs)]
        return GetRewardResponse(rewards=rewards, scores=rewards,
                                 extra_logs={"prefkit_reward": rewards})

    return Gate(app, tokens=settings.tokens, max_body_bytes=settings.max_body_bytes,
                metrics=metrics, routes=ROUTES, strict_json=True)


# ---------------------------------------------------------------------- helpers
def _operations(served: ServedModel) -> dict[str, Any]:
    def texts(inputs: list[tuple[str | None, str]]) -> Sequence[float]:
        return served.reward_texts([p for p, _ in inputs], [r for _, r in inputs]).tolist()

    def items(inputs: list[str]) -> Sequence[float]:
        return served.item_scores(inputs).tolist()

    def pairs(inputs: list[Pair]) -> Sequence[tuple[float, float | None]]:
        p_a, p_tie = served.compare(inputs)
        ties = p_tie.tolist() if p_tie is not None else [None] * len(inputs)
        return list(zip(p_a.tolist(), ties, strict=True))

    return {"texts": texts, "items": items, "pairs": pairs}


def _probability(p: float) -> float | None:
    """A probability for JSON: NaN (a judge without a verdict) → null."""
    p = float(p)
    return p if p == p else None


def _pick(models: dict[str, ServedModel], name: str | None, *, texts: bool = False
          ) -> ServedModel:
    if name is not None:
        if name not in models:
            raise RequestError(f"unknown model {name!r} (served: {', '.join(models)})",
                               field="model", status=404)
        return models[name]
    if len(models) == 1:
        return next(iter(models.values()))
    if texts:
        for served in models.values():
            if served.can_reward_texts:
                return served
    raise RequestError(f"give 'model': {len(models)} models are served ({', '.join(models)})",
                       field="model")


def _pick_chat(models: dict[str, ServedModel], name: str | None) -> ServedModel:
    if name is not None:
        served = _pick(models, name)
        if served.chat is None:
            raise RequestError(f"model {name!r} ({served.tag}) is not a language model; "
                               "see GET /v1/models for what it answers", field="model")
        return served
    chat = [m for m in models.values() if m.chat is not None]
    if len(chat) == 1:
        return chat[0]
    raise RequestError("give 'model': " + (f"{len(chat)} language models are served" if chat
                                           else "no language model is served"), field="model")


def _require(ok: bool, served: ServedModel, field: str) -> None:
    if not ok:
        if served.chat is not None and not served.can_compare:
            what = "only chats: use /v1/chat/completions"
        elif field in ("responses", "query"):
            what = "this model has no scalar reward (use /v1/compare)" if served.can_compare \
                else "this model has no scalar reward"
        else:
            what = "has no scalar item scores"
        raise RequestError(f"model {served.name!r} ({served.tag}): {what}; see "
                           "GET /v1/models for what it answers", field=field)


def _no_user(served: ServedModel, user_id: str | None) -> None:
    if user_id is not None:
        raise RequestError(f"/v1/score does not take a user_id for model {served.name!r}; "
                           "use /v1/compare", field="user_id")


def _check_count(settings: ServeSettings, field: str, n: int) -> None:
    if n > settings.max_items:
        raise RequestError(f"{field} has {n} entries, more than the limit of "
                           f"{settings.max_items} per request", field=field, status=413)


def _check_text(settings: ServeSettings, field: str, text: str | None) -> None:
    if text is None:
        return
    if len(text) > settings.max_text_chars:
        raise RequestError(f"{field} is {len(text)} characters long, more than the limit of "
                           f"{settings.max_text_chars}", field=field, status=413)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate ("\ud800"): no tokenizer takes it
        raise RequestError(f"{field} is not valid Unicode text (character {err.start} is a "
                           "lone surrogate)", field=field) from None


def _check_sizes(settings: ServeSettings, field: str, texts: list[str]) -> None:
    _check_count(settings, field, len(texts))
    for k, text in enumerate(texts):
        _check_text(settings, f"{field}[{k}]", text)


def _error(status: int, message: str, field: str | None = None,
           headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": " ".join(str(message).split())}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: Sequence[Any]) -> str | None:
    """``("pairs", 0, "a")`` → ``pairs[0].a``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        field = _field_path([x for x in first.get("loc", ()) if x != "body"])
        message = str(first.get("msg", "invalid request"))
        if first.get("type") == "json_invalid":
            message = f"malformed JSON: {first.get('ctx', {}).get('error', message)}"
            field = None
        where = f"{field}: " if field else "request body: "
        return _error(422, f"{where}{message}", field)

    @app.exception_handler(RequestError)
    async def refused(_: Request, err: RequestError) -> JSONResponse:
        return _error(err.status, err.message, err.field)

    @app.exception_handler(Overloaded)
    async def overloaded(_: Request, err: Overloaded) -> JSONResponse:
        return _error(503, f"overloaded: {err}; retry later", headers={"Retry-After": "1"})

    @app.exception_handler(GenerationTimeout)
    async def timed_out(_: Request, err: GenerationTimeout) -> JSONResponse:
        return _error(504, f"timeout: {err} (limit {app.state.settings.chat_timeout_s:g} s)")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 400:  # FastAPI could not parse the body (e.g. nested too deeply)
            return _error(422, f"malformed JSON: {err.detail}")
        return _error(err.status_code, str(err.detail), headers=getattr(err, "headers", None))

    @app.exception_handler(PrefkitError)
    async def data_error(_: Request, err: PrefkitError) -> JSONResponse:
        return _error(422, getattr(err, "message", None) or str(err),
                      getattr(err, "field", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("error id %s on %s %s: %s: %s", error_id, request.method, request.url.path,
                  type(err).__name__, err, exc_info=err)
        return _error(500, f"the model failed on this request (error id {error_id})",
                      id=error_id)
