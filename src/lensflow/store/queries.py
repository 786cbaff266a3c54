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
    title: str
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


class SetQueries:
    """The statements for one embedding set, composed once; psycopg prepares them after a few uses."""

    def __init__(self, model_name: str, version: int) -> None:
        t = SetTables.of(model_name, version)
        self.tables = t
        self._for_user = sql.SQL(
            "SELECT v.movie_id, m.title, -(v.embedding <#> q.embedding) AS score"
            " FROM {items} v JOIN movies m ON m.movie_id = v.movie_id,"
            " (SELECT embedding FROM {users} WHERE user_id = %(user_id)s) q"
            " WHERE NOT EXISTS"
            " (SELECT 1 FROM ratings r WHERE r.user_id = %(user_id)s AND r.movie_id = v.movie_id)"
            " ORDER BY v.embedding <#> q.embedding LIMIT %(k)s"
        ).format(items=t.items, users=t.users)
        self._for_vector = sql.SQL(
            "SELECT v.movie_id, m.title, -(v.embedding <#> %(vec)s) AS score"
            " FROM {items} v JOIN movies m ON m.movie_id = v.movie_id"
            " WHERE v.movie_id <> ALL(%(exclude)s)"
            " ORDER BY v.embedding <#> %(vec)s LIMIT %(k)s"
        ).format(items=t.items)
        self._similar = sql.SQL(
            "SELECT v.movie_id, m.title, -(v.direction <#> q.direction) AS score"
            " FROM {items} v JOIN movies m ON m.movie_id = v.movie_id,"
            " (SELECT direction FROM {items} WHERE movie_id = %(movie_id)s) q"
            " WHERE v.movie_id <> %(movie_id)s"
            " ORDER BY v.direction <#> q.direction LIMIT %(k)s"
        ).format(items=t.items)
        self._user_ids = sql.SQL("SELECT user_id FROM {users} ORDER BY user_id").format(users=t.users)
        self._movie_ids = sql.SQL("SELECT movie_id FROM {items} ORDER BY movie_id").format(items=t.items)

    async def for_user(self, conn: AsyncConn, *, user_id: int, k: int) -> list[ScoredMovie]:
        cur = await conn.execute(self._for_user, {"user_id": user_id, "k": k})
        return [ScoredMovie(*row) for row in await cur.fetchall()]

    async def for_vector(
        self, conn: AsyncConn, *, vector: np.ndarray, exclude: list[int], k: int
    ) -> list[ScoredMovie]:
        cur = await conn.execute(self._for_vector, {"vec": Vector(vector), "exclude": exclude, "k": k})
        return [ScoredMovie(*row) for row in await cur.fetchall()]

    async def similar(self, conn: AsyncConn, *, movie_id: int, k: int) -> list[ScoredMovie]:
        cur = await conn.execute(self._similar, {"movie_id": movie_id, "k": k})
        return [ScoredMovie(*row) for row in await cur.fetchall()]

    async def user_ids(self, conn: AsyncConn) -> np.ndarray:
        cur = await conn.execute(self._user_ids)
        return np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)

    async def movie_ids(self, conn: AsyncConn) -> np.ndarray:
        cur = await conn.execute(self._movie_ids)
        return np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)


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
