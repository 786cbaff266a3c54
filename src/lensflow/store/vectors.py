"""Embedding sets in pgvector: three tables per model version, loaded by binary COPY.

`_users` and `_items` hold the ranking vectors; the cosine directions of `/movies/{id}/similar` live
apart in `_directions`, so the exact scan behind every recommendation reads half the bytes per movie.

A set is written inside one transaction (tables, COPY, indexes, then its `embedding_sets` row), so a
crash mid-load leaves nothing behind and readers never see a half-loaded set. Serving switches with
one UPDATE of the `serving` row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from lensflow.errors import StoreError
from lensflow.models.embedding import EmbeddingModel

log = logging.getLogger(__name__)

IndexKind = Literal["exact", "hnsw"]
HNSW_MIN_ITEMS = 20_000  # below this an exact scan is faster than any graph walk
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class SetTables:
    """Identifiers of one embedding set's tables."""

    users: sql.Identifier
    items: sql.Identifier
    directions: sql.Identifier

    @classmethod
    def of(cls, model_name: str, version: int) -> SetTables:
        if not _NAME.match(model_name):
            raise StoreError(f"model name {model_name!r} must be lowercase letters, digits and underscores")
        prefix = f"{model_name}_v{int(version)}"
        return cls(
            users=sql.Identifier(f"{prefix}_users"),
            items=sql.Identifier(f"{prefix}_items"),
            directions=sql.Identifier(f"{prefix}_directions"),
        )

    def all(self) -> sql.Composable:
        return sql.SQL(", ").join([self.users, self.items, self.directions])


def embeddings_checksum(model: EmbeddingModel) -> str:
    return _checksum(model.user_ids, model.movie_ids, model.user_vectors(), model.item_vectors())


def _checksum(*arrays: np.ndarray) -> str:
    """sha256 over the arrays' bytes, read in place (a copy of 260k vectors cost more than the hash)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).data.cast("B"))
    return digest.hexdigest()


def loaded_checksum(conn: psycopg.Connection, *, model_name: str, version: int) -> str | None:
    row = conn.execute(
        "SELECT checksum FROM embedding_sets WHERE model_name = %s AND version = %s", (model_name, version)
    ).fetchone()
    return None if row is None else str(row[0])


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
_COPY_CHUNK_BYTES = 1 << 23


def _be(dtype: str, value: int) -> np.ndarray:
    return np.frombuffer(np.array(value, dtype).tobytes(), np.uint8)


def _binary_rows(ids: np.ndarray, *arrays: np.ndarray) -> Iterator[bytes]:
    """The COPY BINARY payload in chunks of whole rows, laid out by numpy: an int4 id, then one pgvector
    `vector` per array (int2 dim, int2 unused, float4 values; big-endian). Row by row in Python the
    encoding cost more than the COPY itself; in chunks it overlaps with the server reading the last one."""
    if ids.size and (int(ids.min()) < -(2**31) or int(ids.max()) >= 2**31):
        raise StoreError("ids must fit a Postgres integer")
    widths = [a.shape[1] for a in arrays]
    row_bytes = 10 + sum(8 + 4 * w for w in widths)
    step = max(1, _COPY_CHUNK_BYTES // row_bytes)
    yield _COPY_HEADER
    for start in range(0, len(ids), step):
        stop = min(start + step, len(ids))
        rows = np.empty((stop - start, row_bytes), np.uint8)
        rows[:, 0:2] = _be(">i2", 1 + len(arrays))
        rows[:, 2:6] = _be(">i4", 4)
        rows[:, 6:10] = ids[start:stop].astype(">i4").view(np.uint8).reshape(-1, 4)
        at = 10
        for a, w in zip(arrays, widths, strict=True):
            rows[:, at : at + 4] = _be(">i4", 4 + 4 * w)
            rows[:, at + 4 : at + 6] = _be(">i2", w)
            rows[:, at + 6 : at + 8] = 0
            rows[:, at + 8 : at + 8 + 4 * w] = a[start:stop].astype(">f4").view(np.uint8).reshape(-1, 4 * w)
            at += 8 + 4 * w
        yield rows.tobytes()
    yield _COPY_TRAILER


def _copy_vectors(
    conn: psycopg.Connection, table: sql.Identifier, columns: list[str], ids: np.ndarray, *arrays: np.ndarray
) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = conn.cursor()
    # A sending thread: numpy encodes the next chunk while the last one is on its way to the server.
    with cursor.copy(stmt, writer=QueuedLibpqWriter(cursor)) as copy:
        for chunk in _binary_rows(ids, *arrays):
            copy.write(chunk)


def load_embeddings(
    conn: psycopg.Connection,
    *,
    model_name: str,
    version: int,
    model: EmbeddingModel,
    index: IndexKind | None = None,
    hnsw_m: int = 16,
    hnsw_ef_construction: int = 64,
) -> bool:
    """Load a version's vectors; a no-op when the same set is already complete. True when written."""
    register_vector(conn)
    user_vectors, item_vectors = model.user_vectors(), model.item_vectors()
    checksum = _checksum(model.user_ids, model.movie_ids, user_vectors, item_vectors)
    if loaded_checksum(conn, model_name=model_name, version=version) == checksum:
        log.info("embeddings of %s v%s already loaded", model_name, version)
        return False
    kind: IndexKind = index or ("hnsw" if len(model.movie_ids) >= HNSW_MIN_ITEMS else "exact")
    tables = SetTables.of(model_name, version)
    dim, vdim = model.dim, model.vector_dim
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"lensflow.load.{model_name}.{version}",))
        serving = conn.execute(
            "SELECT 1 FROM serving WHERE model_name = %s AND version = %s", (model_name, version)
        ).fetchone()
        if serving:
            raise StoreError(
                f"{model_name} v{version} is serving with other embeddings; refusing to replace them"
            )
        conn.execute(
            "DELETE FROM embedding_sets WHERE model_name = %s AND version = %s", (model_name, version)
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(tables.all()))
        layout = [
            (tables.users, "user_id", "embedding", vdim, model.user_ids, user_vectors),
            (tables.items, "movie_id", "embedding", vdim, model.movie_ids, item_vectors),
            (tables.directions, "movie_id", "direction", dim, model.movie_ids, model.item_directions()),
        ]
        for table, key, column, width, ids, values in layout:
            conn.execute(
                sql.SQL("CREATE TABLE {} ({} integer NOT NULL, {} vector({}) NOT NULL)").format(
                    table, sql.Identifier(key), sql.Identifier(column), sql.Literal(width)
                )
            )
            _copy_vectors(conn, table, [key, column], ids, values)
        # Indexes after the load: building them once is far cheaper than maintaining them row by row.
        for table, key, *_ in layout:
            conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(table, sql.Identifier(key)))
        if kind == "hnsw":
            # Room to build the graph in memory: past the server default (64MB) the build spills and a
            # 500k-movie catalogue takes tens of minutes instead of a few.
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            for table, _, column, *_ in layout[1:]:
                conn.execute(
                    sql.SQL(
                        "CREATE INDEX ON {} USING hnsw ({} vector_ip_ops) WITH (m = {}, ef_construction = {})"
                    ).format(
                        table,
                        sql.Identifier(column),
                        sql.Literal(hnsw_m),
                        sql.Literal(hnsw_ef_construction),
                    )
                )
        conn.execute(
            "INSERT INTO embedding_sets"
            " (model_name, version, dim, n_users, n_items, checksum, index_kind, loaded_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
            (model_name, version, vdim, len(model.user_ids), len(model.movie_ids), checksum, kind),
        )
    conn.execute(sql.SQL("ANALYZE {}").format(tables.all()))
    log.info(
        "loaded %s v%s: %d users, %d movies, index %s",
        model_name,
        version,
        len(model.user_ids),
        len(model.movie_ids),
        kind,
    )
    return True


HAS_DIRECTIONS = "SELECT to_regclass(%s) IS NOT NULL"


def layout_upgrade(model_name: str, version: int, index_kind: str) -> list[sql.Composed]:
    """Statements that move a set written before 0.2 (directions beside the ranking vectors in `_items`)
    to the current layout. The first statement takes the set's load lock: run it, check the layout again
    (another process may have upgraded the set meanwhile), then run the rest in the same transaction."""
    t = SetTables.of(model_name, version)
    old = sql.Identifier(f"{model_name}_v{int(version)}_items_before_split")
    steps = [
        sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(
            sql.Literal(f"lensflow.load.{model_name}.{version}")
        ),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(t.items, old),
        sql.SQL("CREATE TABLE {} AS SELECT movie_id, embedding FROM {}").format(t.items, old),
        sql.SQL("CREATE TABLE {} AS SELECT movie_id, direction FROM {}").format(t.directions, old),
        sql.SQL("DROP TABLE {}").format(old),
    ]
    for table, column in ((t.items, "embedding"), (t.directions, "direction")):
        steps.append(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (movie_id)").format(table))
        if index_kind == "hnsw":
            steps.append(
                sql.SQL("CREATE INDEX ON {} USING hnsw ({} vector_ip_ops)").format(
                    table, sql.Identifier(column)
                )
            )
    return steps


def upgrade_layouts(conn: psycopg.Connection) -> list[int]:
    """Bring every loaded set to the current table layout; returns the versions changed."""
    changed = []
    sets = conn.execute("SELECT model_name, version, index_kind FROM embedding_sets").fetchall()
    for model_name, version, kind in sets:
        t = SetTables.of(model_name, version)
        if conn.execute(HAS_DIRECTIONS, (t.directions.as_string(),)).fetchone() == (True,):
            continue
        lock, *steps = layout_upgrade(model_name, version, kind)
        with conn.transaction():
            conn.execute(lock)
            if conn.execute(HAS_DIRECTIONS, (t.directions.as_string(),)).fetchone() == (True,):
                continue  # another process upgraded it meanwhile
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            for step in steps:
                conn.execute(step)
        log.info("moved %s v%s to the split table layout", model_name, version)
        changed.append(int(version))
    return changed


def is_loaded(conn: psycopg.Connection, *, model_name: str, version: int) -> bool:
    return loaded_checksum(conn, model_name=model_name, version=version) is not None


def set_serving(conn: psycopg.Connection, *, model_name: str, version: int) -> None:
    """Point `serving` at a complete set, atomically (one statement)."""
    if not is_loaded(conn, model_name=model_name, version=version):
        raise StoreError(
            f"embeddings of {model_name} v{version} are not loaded; run `lensflow load {version}`"
        )
    with conn.transaction():
        conn.execute(
            "INSERT INTO serving (model_name, version, switched_at) VALUES (%s, %s, now())"
            " ON CONFLICT (model_name) DO UPDATE SET version = EXCLUDED.version, switched_at = now()",
            (model_name, version),
        )


def serving_version(conn: psycopg.Connection, *, model_name: str) -> int | None:
    row = conn.execute("SELECT version FROM serving WHERE model_name = %s", (model_name,)).fetchone()
    return None if row is None else int(row[0])


def prune_sets(conn: psycopg.Connection, *, model_name: str, keep: int, protect: set[int]) -> list[int]:
    """Drop all but the newest `keep` sets, never the serving one or those in `protect`."""
    rows = conn.execute(
        "SELECT e.version FROM embedding_sets e LEFT JOIN serving s USING (model_name, version)"
        " WHERE e.model_name = %s AND s.version IS NULL ORDER BY e.version DESC OFFSET %s",
        (model_name, keep),
    ).fetchall()
    dropped = []
    for (version,) in rows:
        if version in protect:
            continue
        tables = SetTables.of(model_name, version)
        with conn.transaction():
            conn.execute(
                "DELETE FROM embedding_sets WHERE model_name = %s AND version = %s", (model_name, version)
            )
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(tables.all()))
        dropped.append(int(version))
    return dropped
