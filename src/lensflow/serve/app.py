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
from lensflow.serve import routes, telemetry
from lensflow.serve.runtime import Runtime, ServiceUnavailable
from lensflow.serve.state import load_champion, publish
from lensflow.settings import Settings
from lensflow.store.server import database_url

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000


class MetricsMiddleware:
    """Counts and times every request by route template (not raw path) and status class."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        telemetry.HTTP_IN_FLIGHT.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            telemetry.HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            labels = (scope["method"], template, telemetry.status_class(status))
            telemetry.HTTP_REQUESTS.labels(*labels).inc()
            telemetry.HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - start)


class BodyLimitMiddleware:
    """Refuse bodies over MAX_BODY_BYTES with 413 before reading them into memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


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
            open=False,
        )
        await pool.open(wait=False)
        runtime.pool = pool
        telemetry.READY.set(0)
        await _load_first_model(runtime)
        if runtime.snapshot is not None:
            telemetry.CHAMPION_VERSION.set(runtime.snapshot.info.version)
        poller = asyncio.create_task(_poll_registry(runtime))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await pool.close()


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="lensflow",
        version=__version__,
        description="Movie recommendations from the MLflow champion, ranked by pgvector.",
        lifespan=_lifespan,
    )
    app.state.runtime = Runtime(settings=settings)
    _install_error_handlers(app)
    app.include_router(routes.router)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(MetricsMiddleware)
    return app
