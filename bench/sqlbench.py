"""The service's own SQL (lensflow.store.queries) timed in-process: no HTTP, same statements."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async

from bench.loadgen import percentiles
from lensflow.store.queries import SetQueries


@dataclass
class QueryRun:
    movie_ids: list[list[int]]
    latency_s: np.ndarray

    def summary(self) -> dict[str, Any]:
        return {"queries": int(self.latency_s.size), "latency_ms": percentiles(self.latency_s * 1e3)}


async def _for_users(
    url: str, model_name: str, version: int, users: Sequence[int], k: int, settings: dict[str, str]
) -> QueryRun:
    # The service's connection set-up (app._configure_connection), plus the settings under test.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await register_vector_async(conn)
        await conn.execute("SET statement_timeout = 20000")
        await conn.execute("SET hnsw.iterative_scan = strict_order")
        for name, value in settings.items():
            await conn.execute(f"SET {name} = {value}")
        queries = SetQueries(model_name, version)
        for user_id in users[:10]:  # past psycopg's prepare threshold, so timings see the prepared plan
            await queries.for_user(conn, user_id=int(user_id), k=k)
        found, times = [], []
        for user_id in users:
            start = time.perf_counter()
            rows = await queries.for_user(conn, user_id=int(user_id), k=k)
            times.append(time.perf_counter() - start)
            found.append([r.movie_id for r in rows])
        return QueryRun(found, np.array(times))


def for_users(
    url: str,
    *,
    model_name: str,
    version: int,
    users: Sequence[int],
    k: int = 10,
    settings: dict[str, str] | None = None,
) -> QueryRun:
    return asyncio.run(_for_users(url, model_name, version, users, k, settings or {}))


def plan(url: str, sql_text: str, params: dict[str, Any], settings: dict[str, str] | None = None) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET hnsw.iterative_scan = strict_order")
        for name, value in (settings or {}).items():
            conn.execute(f"SET {name} = {value}")
        rows = conn.execute(f"EXPLAIN (COSTS OFF) {sql_text}", params).fetchall()
        return "\n".join(r[0] for r in rows)


def for_user_text(version: int, k: int, model_name: str = "lensflow") -> str:
    """The exact statement the service sends for GET /recommendations/{user_id} (for EXPLAIN)."""
    from lensflow.store import queries

    return queries.SetQueries(model_name, version)._text(queries._FOR_USER, k).decode()
