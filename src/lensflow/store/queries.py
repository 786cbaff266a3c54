"""The serving queries: one SQL statement per request, ranked by pgvector's inner product.

Scores are -(a <#> b), the inner product itself, so they equal the model's own scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pgvector import Vector
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

from lensflow.store.vectors import SetTables

AsyncConn = AsyncConnection[TupleRow]


@dataclass(frozen=True, slots=True)
class ScoredMovie:
    movie_id: int
    score: float


@dataclass(frozen=True, slots=True)
class RatedMovie:
    movie_id: int
    title: str
    year: int | None
    genres: list[str]
    rating: int


@dataclass(frozen=True, slots=True)
class Movie:
    movie_id: int
    title: str
    year: int | None
    genres: list[str]


_FOR_USER = sql.SQL(
    "SELECT t.movie_id, -t.distance"
    " FROM (SELECT embedding FROM {users} WHERE user_id = %(user_id)s) q,"
    " LATERAL (SELECT v.movie_id, v.embedding <#> q.embedding AS distance FROM {items} v"
    " WHERE v.movie_id NOT IN (SELECT r.movie_id FROM ratings r WHERE r.user_id = %(user_id)s)"
    " ORDER BY distance LIMIT {k}) t"
    " ORDER BY t.distance"
)
_FOR_VECTOR = sql.SQL(
    "SELECT t.movie_id, -t.distance"
    " FROM (SELECT v.movie_id, v.embedding <#> %(vec)s AS distance FROM {items} v"
    " WHERE v.movie_id NOT IN (SELECT unnest(%(exclude)s::integer[]))"
    " ORDER BY distance LIMIT {k}) t"
    " ORDER BY t.distance"
)
_SIMILAR = sql.SQL(
    "SELECT t.movie_id, -t.distance"
    " FROM (SELECT direction FROM {directions} WHERE movie_id = %(movie_id)s) q,"
    " LATERAL (SELECT v.movie_id, v.direction <#> q.direction AS distance FROM {directions} v"
    " WHERE v.movie_id <> %(movie_id)s ORDER BY distance LIMIT {k}) t"
    " ORDER BY t.distance"
)


class SetQueries:
    """The statements for one embedding set, rendered once; psycopg prepares them after a few uses.

    Shape, for speed at any catalogue size: the query vector comes from a one-row LATERAL source, so
    the ORDER BY is `column <#> outer value` and an HNSW index can serve it (a plain join cannot); the
    rated movies are a hashed NOT IN subplan, built once per query instead of hashing the whole
    catalogue; titles are looked up by primary key for the k rows kept, not joined to every movie.

    k is written into the text (one prepared statement per k, in practice one or two): with LIMIT as a
    parameter the planner would assume 10% of the catalogue in a generic plan and skip the HNSW index,
    so Postgres would plan every execution again; with a literal it caches a plan that uses the index.

    Titles are not part of these statements: the service holds the set's titles in memory (`titles`), which
    spares Postgres k primary-key lookups per request.
    """

    def __init__(self, model_name: str, version: int) -> None:
        t = SetTables.of(model_name, version)
        self.tables = t
        self._texts: dict[tuple[int, int], bytes] = {}
        self._user_ids = sql.SQL("SELECT user_id FROM {users} ORDER BY user_id").format(users=t.users)
        self._movie_ids = sql.SQL("SELECT movie_id FROM {items} ORDER BY movie_id").format(items=t.items)
        self._titles = sql.SQL(
            "SELECT v.movie_id, m.title FROM {items} v JOIN movies m USING (movie_id)"
        ).format(items=t.items)

    def _text(self, template: sql.SQL, k: int) -> bytes:
        key = (id(template), int(k))
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) > 1024:  # the API bounds k; this only guards other callers
                self._texts.clear()
            t = self.tables
            composed = template.format(
                items=t.items, users=t.users, directions=t.directions, k=sql.Literal(key[1])
            )
            text = self._texts[key] = composed.as_bytes()
        return text

    async def for_user(self, conn: AsyncConn, *, user_id: int, k: int) -> list[ScoredMovie]:
        cur = await conn.execute(self._text(_FOR_USER, k), {"user_id": user_id})
        return _scored(await cur.fetchall())

    async def for_vector(
        self, conn: AsyncConn, *, vector: np.ndarray, exclude: list[int], k: int
    ) -> list[ScoredMovie]:
        cur = await conn.execute(self._text(_FOR_VECTOR, k), {"vec": Vector(vector), "exclude": exclude})
        return _scored(await cur.fetchall())

    async def similar(self, conn: AsyncConn, *, movie_id: int, k: int) -> list[ScoredMovie]:
        cur = await conn.execute(self._text(_SIMILAR, k), {"movie_id": movie_id})
        return _scored(await cur.fetchall())

    async def user_ids(self, conn: AsyncConn) -> np.ndarray:
        cur = await conn.execute(self._user_ids)
        return np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)

    async def titles(self, conn: AsyncConn) -> dict[int, str]:
        """Title of every movie of the set that is in the catalogue; a movie missing here is never served."""
        cur = await conn.execute(self._titles)
        return {movie_id: title for movie_id, title in await cur.fetchall()}

    async def movie_ids(self, conn: AsyncConn) -> np.ndarray:
        cur = await conn.execute(self._movie_ids)
        return np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)


def _scored(rows: list[TupleRow]) -> list[ScoredMovie]:
    return [ScoredMovie(*row) for row in rows]


async def ping(conn: AsyncConn) -> None:
    await conn.execute("SELECT 1")


async def top_rated(conn: AsyncConn, *, user_id: int, limit: int) -> list[RatedMovie]:
    cur = await conn.execute(
        "SELECT m.movie_id, m.title, m.year, m.genres, r.rating FROM ratings r JOIN movies m USING (movie_id)"
        " WHERE r.user_id = %s ORDER BY r.rating DESC, r.rated_at DESC, m.movie_id LIMIT %s",
        (user_id, limit),
    )
    return [RatedMovie(*row) for row in await cur.fetchall()]


async def search_movies(conn: AsyncConn, *, query: str, limit: int) -> list[Movie]:
    """Case-insensitive title search; the pattern is a bound parameter with LIKE wildcards escaped."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    cur = await conn.execute(
        "SELECT movie_id, title, year, genres FROM movies WHERE title ILIKE %(p)s"
        " ORDER BY (title ILIKE %(prefix)s) DESC, length(title), movie_id LIMIT %(n)s",
        {"p": f"%{escaped}%", "prefix": f"{escaped}%", "n": limit},
    )
    return [Movie(*row) for row in await cur.fetchall()]


async def get_movies(conn: AsyncConn, *, movie_ids: list[int]) -> list[Movie]:
    cur = await conn.execute(
        "SELECT movie_id, title, year, genres FROM movies WHERE movie_id = ANY(%s) ORDER BY movie_id",
        (movie_ids,),
    )
    return [Movie(*row) for row in await cur.fetchall()]
