"""The FastAPI application: lifespan (pool, champion), metrics middleware, JSON errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pgvector.psycopg import register_vector_async
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lensflow import __version__, registry
from lensflow.errors import LensflowError
from lensflow.serve import routes, telemetry, ui
from lensflow.serve.runtime import Runtime, ServiceUnavailable
from lensflow.serve.schemas import ErrorBody
from lensflow.serve.state import load_champion, publish, settle_heap
from lensflow.settings import Settings
from lensflow.store.server import database_url

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
RECONNECT_TIMEOUT_S = 2.0


class ServiceMiddleware:
    """One ASGI layer for what every request needs: the body limit, and metrics by route template.

    Bodies over MAX_BODY_BYTES are refused with 413 before they are read into memory, whether they declare
    a Content-Length or stream. Requests are counted and timed by route template (never the raw path) and
    status class. One layer instead of two: each ASGI layer costs a coroutine per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        received = 0
        declared_too_large = any(
            name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES)
            for name, value in scope["headers"]
        )

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge()
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        telemetry.HTTP_IN_FLIGHT.inc()
        try:
            if declared_too_large:
                raise _BodyTooLarge()
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            status = 413
            await _too_large(scope, receive, send)
        finally:
            telemetry.HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            labels = (scope["method"], template, telemetry.status_class(status))
            children = self._children.get(labels)
            if children is None:
                if len(self._children) > 1000:  # methods are bounded by uvicorn, routes by the app
                    self._children.clear()
                children = self._children[labels] = (
                    telemetry.HTTP_REQUESTS.labels(*labels),
                    telemetry.HTTP_LATENCY.labels(*labels),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - start)


class _BodyTooLarge(StarletteHTTPException):
    """An HTTPException, so FastAPI's body parsing lets it through as a 413 instead of a 400."""

    def __init__(self) -> None:
        super().__init__(413, f"request body exceeds {MAX_BODY_BYTES} bytes")


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    body = {"error": "payload_too_large", "message": f"request body exceeds {MAX_BODY_BYTES} bytes"}
    await JSONResponse(body, status_code=413)(scope, receive, send)


def _error(
    status: int, code: str, message: str, *, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_request",
    503: "unavailable",
}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(
            exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:3])
        return _error(422, "invalid_request", summary or "invalid request", details=details)

    @app.exception_handler(psycopg.DataError)
    async def unusable_value(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # Postgres refuses some values a request can carry, such as a NUL character in a search text.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _error(422, "invalid_request", f"a value in the request cannot be used: {reason}")

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(503, "unavailable", exc.message, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "internal error; see the service log")


async def _configure_connection(conn: AsyncConnection) -> None:
    await register_vector_async(conn)
    # A hung query must not hold a request (and a pool slot) for long.
    await conn.execute("SET statement_timeout = 2000")
    await conn.execute("SET hnsw.iterative_scan = strict_order")


async def _load_first_model(runtime: Runtime) -> None:
    """Load the champion when none is served yet (at start, or later if the DB or registry was down)."""
    assert runtime.pool is not None
    async with runtime.reload_lock:
        if runtime.snapshot is not None:
            return
        try:
            snapshot = await load_champion(runtime.settings, runtime.pool)
        except (LensflowError, PoolTimeout, psycopg.OperationalError) as exc:
            telemetry.RELOADS.labels("failure").inc()
            log.warning("no model loaded yet: %s", exc)
            return
        runtime.snapshot = snapshot
        publish(snapshot, None)
        telemetry.RELOADS.labels("success").inc()
        log.info("serving %s v%s", snapshot.info.name, snapshot.version)


async def _poll_registry(runtime: Runtime) -> None:
    """Export the registry's champion version so an alert can catch a promotion never reloaded;
    and keep trying to load a first model while none is served."""
    while True:
        await asyncio.sleep(runtime.settings.registry_poll_s)
        try:
            info = await asyncio.to_thread(registry.champion, runtime.settings)
            telemetry.CHAMPION_VERSION.set(info.version if info else 0)
        except Exception as exc:  # a registry outage must not kill the poller
            log.warning("could not read the champion alias: %s", exc)
        if runtime.snapshot is None:
            await _load_first_model(runtime)


async def _watch_readiness(runtime: Runtime, interval_s: float = 5.0) -> None:
    """Keep the readiness gauge current even when nobody calls /readyz (an outage must show)."""
    assert runtime.pool is not None
    while True:
        ready = runtime.snapshot is not None
        if ready:
            try:
                async with runtime.pool.connection(timeout=1) as conn:
                    await conn.execute("SELECT 1")
            except (PoolTimeout, psycopg.OperationalError):
                ready = False
        telemetry.READY.set(1 if ready else 0)
        await asyncio.sleep(interval_s)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    with ExitStack() as stack:
        url = stack.enter_context(database_url(settings))
        pool = AsyncConnectionPool(
            url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.db_timeout_s,
            configure=_configure_connection,
            kwargs={"connect_timeout": 3, "autocommit": True},
            # psycopg_pool retries a failed connect with a doubling delay for up to 5 minutes, so after an
            # outage the pool could stay empty for minutes; giving up early lets the next request that
            # finds no connection start a fresh attempt at once.
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            open=False,
        )
        await pool.open(wait=False)
        runtime.pool = pool
        telemetry.READY.set(0)
        await _load_first_model(runtime)
        if runtime.snapshot is not None:
            telemetry.CHAMPION_VERSION.set(runtime.snapshot.info.version)
        settle_heap()
        tasks = [asyncio.create_task(_poll_registry(runtime)), asyncio.create_task(_watch_readiness(runtime))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()


_ERROR_ANSWERS = {
    "400": "The body is not parseable JSON.",
    "401": "The bearer token is missing or wrong.",
    "404": "No such user or movie.",
    "409": "The champion cannot be loaded.",
    "413": f"The body is larger than {MAX_BODY_BYTES} bytes.",
    "422": "A parameter or the body is invalid; `details` says which.",
    "503": "The database or the model is unavailable; retry after `Retry-After` seconds.",
}


def _error_statuses(path: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, judged from what it takes and where it lives."""
    statuses = ["413"] if path == "/healthz" else ["413", "503"]
    if "requestBody" in operation:
        statuses += ["400", "422"]
    if operation.get("parameters"):
        statuses.append("422")
    if "{" in path:
        statuses.append("404")
    if path.startswith("/admin/"):
        statuses += ["401", "409"]
    return statuses


def _document_errors(app: FastAPI) -> None:
    """Describe every error answer in the OpenAPI document as the ErrorBody the handlers send."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for status in _error_statuses(path, operation):
                    if status == "422" or status not in answers:
                        answers[status] = {"description": _ERROR_ANSWERS[status], "content": body}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="lensflow",
        version=__version__,
        description="Movie recommendations from the MLflow champion, ranked by pgvector.",
        lifespan=_lifespan,
    )
    token = settings.admin_token
    if token is not None and not token.get_secret_value().strip():
        # A blank LENSFLOW_ADMIN_TOKEN would admit a blank "Authorization: Bearer"; it means "unset".
        log.warning("LENSFLOW_ADMIN_TOKEN is blank; the admin endpoints stay disabled")
        settings = settings.model_copy(update={"admin_token": None})
    app.state.runtime = Runtime(settings=settings)
    _install_error_handlers(app)
    _document_errors(app)
    app.include_router(routes.router)
    app.include_router(ui.router)
    app.add_middleware(ServiceMiddleware)
    return app
