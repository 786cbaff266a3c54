"""The service's mutable parts in one place: settings, connection pool, the current snapshot."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from lensflow.serve import telemetry
from lensflow.serve.state import Snapshot
from lensflow.settings import Settings
from lensflow.store.queries import AsyncConn

log = logging.getLogger(__name__)
T = TypeVar("T")


class ServiceUnavailable(Exception):
    """Answered as 503 with Retry-After: the database or the model is not there right now."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class Runtime:
    settings: Settings
    pool: AsyncConnectionPool | None = None
    snapshot: Snapshot | None = None
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def current(self) -> Snapshot:
        snapshot = self.snapshot
        if snapshot is None:
            raise ServiceUnavailable(
                "no model is loaded; run `lensflow pipeline`, then POST /admin/reload", 5
            )
        return snapshot

    async def query(self, name: str, run: Callable[[AsyncConn], Awaitable[T]]) -> T:
        """Run one query on a pooled connection; an unreachable database fails fast as 503.

        A connection that died while idle in the pool (Postgres restarted) is dropped by the pool, and the
        query, which only reads, runs again on another one within the same time budget.
        """
        if self.pool is None:
            raise ServiceUnavailable("the service is starting")
        start = time.perf_counter()
        deadline = start + self.settings.db_timeout_s
        attempts = self.settings.pool_max_size + 1
        try:
            while True:
                attempts -= 1
                conn: AsyncConn | None = None
                try:
                    async with self.pool.connection(timeout=deadline - time.perf_counter()) as conn:
                        return await run(conn)
                except psycopg.OperationalError:
                    if conn is None or not conn.broken or attempts == 0:
                        raise
                    log.info("dropped a broken pooled connection during %s; retrying", name)
        except (PoolTimeout, psycopg.OperationalError) as exc:
            telemetry.DB_ERRORS.labels(name).inc()
            log.warning(
                "database unavailable during %s: %s",
                name,
                str(exc).strip().splitlines()[0] if str(exc) else exc,
            )
            raise ServiceUnavailable("the database is unavailable; retry shortly") from exc
        finally:
            telemetry.DB_QUERY.labels(name).observe(time.perf_counter() - start)
