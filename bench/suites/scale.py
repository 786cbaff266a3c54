"""Synthetic catalogues (60k and 500k movies, 200k users): ingestion, HNSW build, exact vs HNSW.

Per catalogue: the HNSW set is loaded as version 1 (it is the one served over HTTP) and an exact
set as version 2; both by lensflow's loader. Recall@10 is against numpy's exact answer, which the
exact scan matches (checked on a sample). HNSW queries use pgvector 0.8's iterative scan in
strict order, as the service does, so the rated-movie filter never starves the top-k.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import catalog, floors, measure, sqlbench, synth
from bench.context import Context, Target, at_least, at_most
from bench.measure import Endpoint
from bench.service import ApiService
from bench.suites.ml100k import champion_model
from lensflow.models.embedding import EmbeddingModel

log = logging.getLogger("bench")
N_USERS = 200_000
HNSW_VERSION, EXACT_VERSION = 1, 2
LARGE_BUILD_MEMORY = "2GB"


def _seen(cat: synth.SyntheticCatalog, user_rows: np.ndarray) -> list[np.ndarray]:
    bounds = np.searchsorted(cat.rated_users, cat.model.user_ids[user_rows], side="left")
    ends = np.searchsorted(cat.rated_users, cat.model.user_ids[user_rows], side="right")
    return [cat.rated_movies[b:e] - 1 for b, e in zip(bounds, ends, strict=True)]


def _ids(model: EmbeddingModel, rows: list[np.ndarray]) -> list[list[int]]:
    return [[int(model.movie_ids[i]) for i in r] for r in rows]


@dataclass(frozen=True)
class Sample:
    """Users to query and numpy's exact top-10 for each (rated movies excluded)."""

    users: list[int]
    truth: list[list[int]]

    @classmethod
    def of(cls, source: synth.SyntheticCatalog, size: int) -> Sample:
        rows = np.random.default_rng(7).choice(source.n_users, size=size, replace=False)
        items, user_vecs = source.model.item_vectors(), source.model.user_vectors()[rows]
        answers = floors.exact_answers(items, user_vecs, _seen(source, rows), range(size), 10)
        return cls([int(u) for u in source.model.user_ids[rows]], _ids(source.model, answers))


def exact_figures(ctx: Context, db: str, version: int, sample: Sample, n: int) -> dict[str, Any]:
    run = sqlbench.for_users(ctx.pg.url(db), model_name="lensflow", version=version, users=sample.users[:n])
    return {**run.summary(), "recall_at_10_vs_numpy": floors.recall_at_k(sample.truth[:n], run.movie_ids, 10)}


def hnsw_figures(
    ctx: Context, db: str, version: int, sample: Sample, ef_values: tuple[int, ...]
) -> list[dict[str, Any]]:
    out = []
    for ef in ef_values:
        run = sqlbench.for_users(
            ctx.pg.url(db),
            model_name="lensflow",
            version=version,
            users=sample.users,
            settings={"hnsw.ef_search": str(ef)},
        )
        recall = floors.recall_at_k(sample.truth, run.movie_ids, 10)
        out.append({"ef_search": ef, "recall_at_10": recall, **run.summary()})
    return out


def build_index(ctx: Context, db: str, version: int, maintenance_work_mem: str) -> float:
    """The loader's HNSW statement for the `embedding` column (the one /recommendations uses), timed."""
    table = f"lensflow_v{version}_items"
    with ctx.connect(db) as conn:
        conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        start = time.perf_counter()
        conn.execute(
            f"CREATE INDEX ON {table} USING hnsw (embedding vector_ip_ops)"
            " WITH (m = 16, ef_construction = 64)"  # the loader's defaults
        )
        seconds = time.perf_counter() - start
        conn.execute(f"ANALYZE {table}")
    return seconds


def http_figures(ctx: Context, db: str, cat: synth.SyntheticCatalog) -> dict[str, Any]:
    home = catalog.fresh(ctx.home / f"synth-{cat.name}")
    with ctx.connect(db) as conn:
        catalog.register(ctx.settings(home, db), cat, conn, HNSW_VERSION)
    reps = 2 if ctx.quick else 3
    rng = np.random.default_rng(11)
    users = [int(u) for u in rng.choice(cat.model.user_ids, size=2000, replace=False)]
    with ApiService(home=home, database_url=ctx.pg.url(db), name=f"synth-{cat.name}") as svc:
        ep = Endpoint("hnsw", svc, measure.user_paths(users))
        out = {
            "ef_search": 40,
            "sequential": measure.interleaved(
                [ep], ctx.pg, measure.sequential(600 if ctx.quick else 2000), reps
            ),
            "saturation": measure.interleaved(
                [ep], ctx.pg, measure.closed_loop(16, 4 if ctx.quick else 8), reps
            ),
            "api_rss_mb": svc.rss_mb(),
        }
    return out


def run_catalog(
    ctx: Context, name: str, n_items: int, reference: EmbeddingModel, *, http: bool
) -> dict[str, Any]:
    """Load both sets with lensflow's loader (HNSW as v1, exact as v2), then query them."""
    cat, result, db = _prepare(ctx, name, n_items, reference)
    with ctx.connect(db) as conn:
        log.info("scale %s: loading the HNSW set (lensflow loader)", name)
        hnsw_load = catalog.timed_load(conn, cat, version=HNSW_VERSION, index="hnsw")
        log.info("scale %s: loading the exact set", name)
        result["ingestion"] = catalog.timed_load(conn, cat, version=EXACT_VERSION, index="exact")
        conn.execute("VACUUM ANALYZE")
    result["hnsw_load"] = hnsw_load
    result["hnsw_build_s"] = round(hnsw_load["seconds"] - result["ingestion"]["seconds"], 2)
    result["hnsw_build_scope"] = "lensflow loader: both indexes (embedding, direction), default settings"
    log.info("scale %s: SQL latency and recall", name)
    sample = Sample.of(cat, 100 if ctx.quick else 300)
    result["sql"] = {
        "sample_users": len(sample.users),
        "exact": exact_figures(ctx, db, EXACT_VERSION, sample, 60),
        "hnsw": hnsw_figures(ctx, db, HNSW_VERSION, sample, (40, 100, 200)),
        "plan_hnsw": sqlbench.plan(
            ctx.pg.url(db), sqlbench.for_user_text(HNSW_VERSION, 10), {"user_id": sample.users[0]}
        ),
    }
    if http:
        log.info("scale %s: over HTTP", name)
        result["http"] = http_figures(ctx, db, cat)
    return result


def run_large_catalog(ctx: Context, name: str, n_items: int, reference: EmbeddingModel) -> dict[str, Any]:
    """One set: exact scan first, then the embedding index built on it (time budget of `make bench`).

    maintenance_work_mem is raised for this build: with the server default (64MB) a 500k-movie graph
    does not fit in memory and the build takes tens of minutes instead of a few.
    """
    cat, result, db = _prepare(ctx, name, n_items, reference)
    with ctx.connect(db) as conn:
        log.info("scale %s: loading the set (lensflow loader, exact)", name)
        result["ingestion"] = catalog.timed_load(conn, cat, version=HNSW_VERSION, index="exact")
        conn.execute("VACUUM ANALYZE")
    sample = Sample.of(cat, 100 if ctx.quick else 300)
    log.info("scale %s: exact scan", name)
    exact = exact_figures(ctx, db, HNSW_VERSION, sample, 15)
    log.info("scale %s: building the HNSW index", name)
    result["hnsw_build_s"] = round(build_index(ctx, db, HNSW_VERSION, LARGE_BUILD_MEMORY), 2)
    result["hnsw_build_scope"] = f"embedding index only, maintenance_work_mem {LARGE_BUILD_MEMORY}"
    result["sql"] = {
        "sample_users": len(sample.users),
        "exact": exact,
        "hnsw": hnsw_figures(ctx, db, HNSW_VERSION, sample, (40, 100, 200)),
        "plan_hnsw": sqlbench.plan(
            ctx.pg.url(db), sqlbench.for_user_text(HNSW_VERSION, 10), {"user_id": sample.users[0]}
        ),
    }
    return result


def _prepare(
    ctx: Context, name: str, n_items: int, reference: EmbeddingModel
) -> tuple[synth.SyntheticCatalog, dict[str, Any], str]:
    log.info("scale %s: generating %d movies x %d users", name, n_items, N_USERS)
    t0 = time.perf_counter()
    cat = synth.generate(name, n_items=n_items, n_users=N_USERS, reference=reference)
    generated = time.perf_counter() - t0
    db = f"bench_synth_{name}"
    ctx.pg.recreate(db)
    with ctx.connect(db) as conn:
        catalogue_s = catalog.load_catalogue(conn, cat)
    result: dict[str, Any] = {
        "name": name,
        "n_items": n_items,
        "n_users": N_USERS,
        "ratings": len(cat.rated_users),
        "generate_s": round(generated, 2),
        "catalogue_load_s": round(catalogue_s, 2),
    }
    return cat, result, db


def ml100k_ingestion(ctx: Context, reference: EmbeddingModel) -> dict[str, Any]:
    """The real 2.6k vectors (943 users + 1682 movies) through the same loader, median of 5."""
    db = "bench_ingest_ml100k"
    ctx.pg.recreate(db)
    cat = synth.SyntheticCatalog("ml100k", reference, np.empty(0, np.int64), np.empty(0, np.int64))
    runs = []
    with ctx.connect(db) as conn:
        catalog.load_catalogue(conn, cat)
        for i in range(5):
            runs.append(catalog.timed_load(conn, cat, version=10 + i, index="exact"))
    seconds = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    n = runs[0]["vectors"]
    return {
        "vectors": n,
        "seconds": seconds,
        "vectors_per_s": round(n / seconds),
        "runs": [r["seconds"] for r in runs],
    }


def run(ctx: Context) -> None:
    _, reference = champion_model(ctx)
    payload: dict[str, Any] = {"ml100k_ingestion": ml100k_ingestion(ctx, reference), "catalogs": []}
    payload["catalogs"].append(run_catalog(ctx, "60k", 60_000, reference, http=True))
    if not ctx.quick:
        payload["catalogs"].append(run_large_catalog(ctx, "500k", 500_000, reference))
    ctx.write("scale", payload, targets(payload))


def targets(payload: dict[str, Any]) -> list[Target]:
    c60 = payload["catalogs"][0]
    http = c60.get("http", {})
    seq = http.get("sequential", {}).get("hnsw", {}).get("median", {})
    sat = http.get("saturation", {}).get("hnsw", {}).get("median", {})
    ing = payload["ml100k_ingestion"]
    return [
        at_most("60k catalogue /recommendations unloaded p50 (HNSW)", 4.0, seq.get("p50_ms"), "ms"),
        at_most("60k catalogue /recommendations unloaded p99 (HNSW)", 12.0, seq.get("p99_ms"), "ms"),
        at_least("60k catalogue saturated throughput", 300, sat.get("achieved_rps"), "req/s", "1 worker"),
        at_most("ingestion, ML-100k (2.6k vectors)", 0.1, ing["seconds"], "s", f"{ing['vectors']} vectors"),
        at_most(
            "ingestion, 60k catalogue (260k vectors)",
            2.0,
            c60["ingestion"]["seconds"],
            "s",
            f"{c60['ingestion']['vectors']} vectors, exact set incl. primary keys",
        ),
        at_most(
            "HNSW build, 60k catalogue", 40.0, c60["hnsw_build_s"], "s", "both indexes (embedding, direction)"
        ),
    ]
