"""A synthetic catalogue in Postgres and MLflow, so the real service can serve it unchanged.

The catalogue tables (movies, users, ratings) are bench set-up, written by binary COPY built with
numpy; the embedding sets go through lensflow's own loader (`vectors.load_embeddings`), which is
what the ingestion figures time.
"""

from __future__ import annotations

import logging
import shutil
import struct
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from bench.synth import SyntheticCatalog
from lensflow import registry
from lensflow.settings import Settings
from lensflow.store import schema, vectors

log = logging.getLogger("bench")
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
BINARY_TRAILER = struct.pack("!h", -1)


def _ratings_copy(users: np.ndarray, movies: np.ndarray, rng: np.random.Generator) -> bytes:
    """COPY BINARY rows (user_id int4, movie_id int4, rating int2, rated_at timestamptz)."""
    row = np.dtype(
        [
            ("n", ">i2"),
            ("l1", ">i4"),
            ("user", ">i4"),
            ("l2", ">i4"),
            ("movie", ">i4"),
            ("l3", ">i4"),
            ("rating", ">i2"),
            ("l4", ">i4"),
            ("at", ">i8"),
        ]
    )
    rows = np.zeros(len(users), dtype=row)
    rows["n"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 4, 4, 2, 8
    rows["user"], rows["movie"] = users, movies
    rows["rating"] = rng.integers(1, 6, size=len(users))
    start = int((datetime(2020, 1, 1, tzinfo=UTC) - PG_EPOCH).total_seconds() * 1e6)
    rows["at"] = start + rng.integers(0, 3 * 365 * 86400 * 10**6, size=len(users))
    return BINARY_HEADER + rows.tobytes() + BINARY_TRAILER


def load_catalogue(conn: psycopg.Connection, catalog: SyntheticCatalog) -> float:
    """movies, users, ratings of the synthetic catalogue; seconds taken."""
    start = time.perf_counter()
    schema.create_schema(conn)
    with conn.transaction():
        # Bench set-up only: skip the per-row foreign-key triggers on millions of ratings.
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("TRUNCATE ratings, movies, users")
        ids = catalog.model.movie_ids
        movies = "".join(f"{m}\tSynthetic movie {m}\n" for m in ids.tolist())
        with conn.cursor().copy("COPY movies (movie_id, title) FROM STDIN") as copy:
            copy.write(movies)
        with conn.cursor().copy("COPY users (user_id) FROM STDIN") as copy:
            copy.write("\n".join(map(str, catalog.model.user_ids.tolist())) + "\n")
        payload = _ratings_copy(catalog.rated_users, catalog.rated_movies, np.random.default_rng(1))
        with conn.cursor().copy("COPY ratings FROM STDIN WITH (FORMAT BINARY)") as copy:
            for offset in range(0, len(payload), 1 << 24):
                copy.write(payload[offset : offset + (1 << 24)])
        conn.execute(
            "INSERT INTO catalog_meta (fingerprint, loaded_at) VALUES (%s, now())"
            " ON CONFLICT (singleton) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, loaded_at = now()",
            (f"synthetic:{catalog.name}",),
        )
    return time.perf_counter() - start


def timed_load(
    conn: psycopg.Connection, catalog: SyntheticCatalog, *, version: int, index: vectors.IndexKind
) -> dict[str, Any]:
    """lensflow's own loader, timed, with the server's notices (e.g. an HNSW graph outgrowing memory)."""
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
    start = time.perf_counter()
    vectors.load_embeddings(conn, model_name="lensflow", version=version, model=catalog.model, index=index)
    seconds = time.perf_counter() - start
    n = catalog.n_items + catalog.n_users
    return {
        "index": index,
        "version": version,
        "vectors": n,
        "seconds": round(seconds, 3),
        "vectors_per_s": round(n / seconds),
        "notices": sorted(set(notices))[:5],
    }


def register(settings: Settings, catalog: SyntheticCatalog, conn: psycopg.Connection, version: int) -> None:
    """Log the synthetic model in this home's MLflow store and make it the champion serving `version`."""
    with registry.training_run(
        settings, run_name=f"synthetic-{catalog.name}", tags={"bench": "synthetic"}
    ) as run_id:
        uri = registry.log_model(catalog.model)
        registered = registry.register(settings, model_uri=uri, run_id=run_id, metrics={})
    if registered != version:
        raise RuntimeError(
            f"MLflow gave version {registered}; the bench expects a fresh home ({settings.home})"
        )
    vectors.set_serving(conn, model_name="lensflow", version=version)
    registry.move_champion(settings, version=version, action="gate", reason="bench synthetic catalogue")


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
