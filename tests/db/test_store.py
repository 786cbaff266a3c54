"""The pgvector store against a real Postgres: schema, COPY loads, atomic switch, queries vs numpy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector, register_vector_async
from psycopg import sql

from lensflow.data import MovieLens, load_movielens
from lensflow.errors import StoreError
from lensflow.models.embedding import EmbeddingModel, RatingHead
from lensflow.store import queries, schema, vectors
from lensflow.store.queries import SetQueries
from tests.conftest import random_model, run_coroutine


@pytest.fixture(scope="module")
def dataset(ml100k_dir: Path) -> MovieLens:
    return load_movielens(ml100k_dir)


@pytest.fixture
def conn(db_url: str, dataset: MovieLens) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        schema.create_schema(c)
        schema.load_catalog(c, dataset)
        yield c


def run_async(db_url: str, fn):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as aconn:
            await register_vector_async(aconn)
            return await fn(aconn)

    return run_coroutine(main)


def test_schema_is_idempotent_and_has_pgvector_08(conn: psycopg.Connection) -> None:
    schema.create_schema(conn)
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert version is not None
    assert tuple(int(x) for x in version[0].split(".")[:2]) >= (0, 8)
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"movies", "users", "ratings", "embedding_sets", "serving", "catalog_meta"} <= tables


def test_catalog_load_counts_and_skips_when_unchanged(conn: psycopg.Connection, dataset: MovieLens) -> None:
    counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("movies", "users", "ratings")]  # type: ignore[index]
    assert counts == [1682, 943, 100_000]
    assert schema.load_catalog(conn, dataset) is False
    title = conn.execute("SELECT title, year, genres FROM movies WHERE movie_id = 1").fetchone()
    assert title == ("Toy Story (1995)", 1995, ["Animation", "Children's", "Comedy"])


def test_catalog_is_stored_by_user_and_vacuumed_so_the_rated_filter_skips_the_heap(
    conn: psycopg.Connection, dataset: MovieLens
) -> None:
    """The rated-movie filter of a recommendation reads one user's ratings: right after a load that is an
    index-only scan with no heap fetches, over rows stored in (user, movie) order."""
    physical = conn.execute("SELECT user_id, movie_id FROM ratings ORDER BY ctid").fetchall()
    assert physical == sorted(physical)
    vacuumed = conn.execute(
        "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'ratings'"
    ).fetchone()
    assert vacuumed is not None and vacuumed[0] is not None
    vectors.load_embeddings(conn, model_name="lensflow", version=1, model=random_model(dataset, seed=2))
    statement = SetQueries("lensflow", 1)._text(queries._FOR_USER, 10).replace(b"%(user_id)s", b"405")
    plan = "\n".join(r[0] for r in conn.execute(b"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement))
    assert "Index Only Scan using ratings_pkey on ratings" in plan, plan
    assert "Heap Fetches: 0" in plan, plan


def test_copy_load_is_idempotent_and_complete(conn: psycopg.Connection, dataset: MovieLens) -> None:
    model = random_model(dataset, seed=1)
    assert vectors.load_embeddings(conn, model_name="lensflow", version=1, model=model) is True
    assert vectors.load_embeddings(conn, model_name="lensflow", version=1, model=model) is False
    row = conn.execute(
        "SELECT dim, n_users, n_items, index_kind FROM embedding_sets WHERE version = 1"
    ).fetchone()
    assert row == (17, 943, 1682, "exact")
    stored = conn.execute("SELECT count(*) FROM lensflow_v1_items").fetchone()
    assert stored == (1682,)


def test_copy_load_of_several_chunks_stores_every_vector_exactly(conn: psycopg.Connection) -> None:
    """60k users are several COPY chunks (sent by a thread while numpy encodes the next): every row
    arrives once, with the model's float32 values bit for bit, including negative ids and zeros."""
    rng = np.random.default_rng(3)
    n_users, n_items, dim = 60_000, 300, 80
    model = EmbeddingModel(
        user_ids=np.concatenate([[-(2**31), 0], np.arange(1, n_users - 1) * 7]).astype(np.int64),
        movie_ids=np.arange(1, n_items + 1, dtype=np.int64),
        user_factors=rng.normal(size=(n_users, dim)).astype(np.float32),
        item_factors=np.vstack([np.zeros((1, dim)), rng.normal(size=(n_items - 1, dim))]).astype(np.float32),
        item_bias=rng.normal(size=n_items).astype(np.float32),
        user_l2=1.0,
        rating=RatingHead(
            3.5,
            *(np.zeros(n, np.float32) for n in (n_users, n_items)),
            np.zeros((n_users, 2), np.float32),
            np.zeros((n_items, 2), np.float32),
        ),
        meta={},
    )
    assert n_users * (10 + 8 + 4 * (dim + 1)) > 2 * vectors._COPY_CHUNK_BYTES
    assert vectors.load_embeddings(conn, model_name="lensflow", version=7, model=model) is True
    register_vector(conn)
    rows = conn.execute("SELECT user_id, embedding FROM lensflow_v7_users ORDER BY user_id").fetchall()
    order = np.argsort(model.user_ids)
    assert [r[0] for r in rows] == model.user_ids[order].tolist()
    np.testing.assert_array_equal(np.stack([r[1].to_numpy() for r in rows]), model.user_vectors()[order])
    directions = conn.execute("SELECT direction FROM lensflow_v7_directions ORDER BY movie_id").fetchall()
    np.testing.assert_array_equal(np.stack([r[0].to_numpy() for r in directions]), model.item_directions())


def test_failed_load_leaves_previous_set_serving_and_nothing_half_written(
    conn: psycopg.Connection, dataset: MovieLens
) -> None:
    good = random_model(dataset, seed=1)
    vectors.load_embeddings(conn, model_name="lensflow", version=1, model=good)
    vectors.set_serving(conn, model_name="lensflow", version=1)
    bad = random_model(dataset, seed=2)
    bad.item_factors[-1, 0] = np.nan  # pgvector refuses NaN: the COPY fails on the last row
    with pytest.raises(psycopg.Error):
        vectors.load_embeddings(conn, model_name="lensflow", version=2, model=bad)
    assert vectors.is_loaded(conn, model_name="lensflow", version=2) is False
    assert conn.execute("SELECT to_regclass('lensflow_v2_items')").fetchone() == (None,)
    assert vectors.serving_version(conn, model_name="lensflow") == 1
    with pytest.raises(StoreError):
        vectors.set_serving(conn, model_name="lensflow", version=2)


def test_switch_is_one_row_and_refuses_replacing_a_serving_set(
    conn: psycopg.Connection, dataset: MovieLens
) -> None:
    for version in (1, 2):
        vectors.load_embeddings(
            conn, model_name="lensflow", version=version, model=random_model(dataset, seed=version)
        )
    vectors.set_serving(conn, model_name="lensflow", version=1)
    vectors.set_serving(conn, model_name="lensflow", version=2)
    assert vectors.serving_version(conn, model_name="lensflow") == 2
    with pytest.raises(StoreError, match="serving"):
        vectors.load_embeddings(conn, model_name="lensflow", version=2, model=random_model(dataset, seed=9))


def test_prune_keeps_serving_and_newest(conn: psycopg.Connection, dataset: MovieLens) -> None:
    for version in (1, 2, 3, 4):
        vectors.load_embeddings(
            conn, model_name="lensflow", version=version, model=random_model(dataset, seed=version)
        )
    vectors.set_serving(conn, model_name="lensflow", version=1)
    dropped = vectors.prune_sets(conn, model_name="lensflow", keep=2, protect=set())
    assert dropped == [2]
    left = [r[0] for r in conn.execute("SELECT version FROM embedding_sets ORDER BY version")]
    assert left == [1, 3, 4]


def _numpy_top(scores: np.ndarray, ids: np.ndarray, exclude: set[int], k: int) -> list[int]:
    allowed = np.array([m not in exclude for m in ids])
    masked = np.where(allowed, scores.astype(np.float64), -np.inf)
    return [int(ids[i]) for i in np.argsort(-masked, kind="stable")[:k]]


def test_queries_equal_numpy_on_the_same_vectors(
    conn: psycopg.Connection, db_url: str, dataset: MovieLens
) -> None:
    model = random_model(dataset, seed=3)
    vectors.load_embeddings(conn, model_name="lensflow", version=1, model=model)
    q = SetQueries("lensflow", 1)
    ratings = dataset.ratings
    uv, iv, dirs = model.user_vectors(), model.item_vectors(), model.item_directions()
    for user_id in (1, 13, 500, 943):
        seen = set(ratings.loc[ratings.user_id == user_id, "movie_id"].tolist())
        got = run_async(db_url, lambda c, u=user_id: q.for_user(c, user_id=u, k=10))
        scores = iv @ uv[user_id - 1]
        assert [r.movie_id for r in got] == _numpy_top(scores, model.movie_ids, seen, 10)
        assert np.allclose([r.score for r in got], [scores[r.movie_id - 1] for r in got], atol=1e-4)
        assert not seen & {r.movie_id for r in got}

    vec = model.fold_in(np.array([0, 49, 180]))
    got = run_async(db_url, lambda c: q.for_vector(c, vector=vec, exclude=[1, 50, 181], k=20))
    assert [r.movie_id for r in got] == _numpy_top(iv @ vec, model.movie_ids, {1, 50, 181}, 20)

    got = run_async(db_url, lambda c: q.similar(c, movie_id=1, k=10))
    cos = dirs @ dirs[0]
    assert [r.movie_id for r in got] == _numpy_top(cos, model.movie_ids, {1}, 10)
    assert np.allclose([r.score for r in got], [cos[r.movie_id - 1] for r in got], atol=1e-5)


def test_hnsw_set_answers_like_exact_scan(conn: psycopg.Connection, db_url: str, dataset: MovieLens) -> None:
    model = random_model(dataset, seed=4)
    vectors.load_embeddings(conn, model_name="lensflow", version=1, model=model, index="hnsw")
    indexes = conn.execute(
        "SELECT tablename FROM pg_indexes"
        " WHERE tablename LIKE 'lensflow_v1_%' AND indexdef LIKE '%USING hnsw%'"
    ).fetchall()
    assert sorted(r[0] for r in indexes) == ["lensflow_v1_directions", "lensflow_v1_items"]
    q = SetQueries("lensflow", 1)

    async def top(c):  # type: ignore[no-untyped-def]
        await c.execute("SET hnsw.ef_search = 200")
        await c.execute("SET hnsw.iterative_scan = strict_order")
        return await q.for_user(c, user_id=7, k=10)

    got = [r.movie_id for r in run_async(db_url, top)]
    seen = set(dataset.ratings.loc[dataset.ratings.user_id == 7, "movie_id"].tolist())
    exact = _numpy_top(model.item_vectors() @ model.user_vectors()[6], model.movie_ids, seen, 10)
    assert len(set(got) & set(exact)) >= 9


def _back_to_old_layout(conn: psycopg.Connection, version: int, dim: int) -> None:
    """How lensflow 0.1 stored a set: the directions as a second column of `_items`, no `_directions`."""
    t = vectors.SetTables.of("lensflow", version)
    conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN direction vector({})").format(t.items, sql.Literal(dim)))
    conn.execute(
        sql.SQL("UPDATE {} i SET direction = d.direction FROM {} d WHERE d.movie_id = i.movie_id").format(
            t.items, t.directions
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(t.directions))


def _layout(conn: psycopg.Connection, version: int) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_name LIKE %s ORDER BY table_name, ordinal_position",
        (f"lensflow_v{version}_%",),
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table.rsplit("_", 1)[1], []).append(column)
    return out


def test_sets_of_the_old_layout_are_upgraded_by_the_cli_and_by_the_service(
    conn: psycopg.Connection, db_url: str, dataset: MovieLens
) -> None:
    from psycopg_pool import AsyncConnectionPool

    from lensflow.serve.state import _upgrade_layout
    from lensflow.settings import Settings

    model = random_model(dataset, seed=5)
    vectors.load_embeddings(conn, model_name="lensflow", version=1, model=model, index="hnsw")
    vectors.set_serving(conn, model_name="lensflow", version=1)
    current = {"directions": ["movie_id", "direction"], "items": ["movie_id", "embedding"]}
    current["users"] = ["user_id", "embedding"]
    assert _layout(conn, 1) == current
    dirs = model.item_directions()
    expected = _numpy_top(dirs @ dirs[0], model.movie_ids, {1}, 10)
    q = SetQueries("lensflow", 1)

    _back_to_old_layout(conn, 1, model.dim)
    assert _layout(conn, 1)["items"] == ["movie_id", "embedding", "direction"]
    schema.create_schema(conn)  # every CLI command passes here
    assert _layout(conn, 1) == current
    assert [r.movie_id for r in run_async(db_url, lambda c: q.similar(c, movie_id=1, k=10))] == expected
    hnsw = conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'").fetchall()
    assert sorted(r[0] for r in hnsw) == ["lensflow_v1_directions", "lensflow_v1_items"]

    _back_to_old_layout(conn, 1, model.dim)

    async def serve_start() -> None:
        async with AsyncConnectionPool(db_url, min_size=1, kwargs={"autocommit": True}) as pool:
            await _upgrade_layout(pool, Settings(database_url=db_url), 1)

    run_coroutine(serve_start)
    assert _layout(conn, 1) == current
    assert [r.movie_id for r in run_async(db_url, lambda c: q.similar(c, movie_id=1, k=10))] == expected
