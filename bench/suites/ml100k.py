"""ML-100k serving: floors (a) HTTP and (b) numpy, (c) /recommendations exact scan, (d) the same with HNSW.

Everything runs side by side in one session, interleaved, so ratios hold on a noisy machine.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import numpy as np

from bench import floors, measure, sqlbench
from bench.context import Context, Target, at_least, at_most
from bench.measure import Endpoint
from bench.service import ApiService
from lensflow import registry
from lensflow.data import load_movielens
from lensflow.models.embedding import EmbeddingModel
from lensflow.store import schema, vectors

log = logging.getLogger("bench")
HNSW_DB = "bench_ml100k_hnsw"
EF_SEARCH = (40, 64, 100, 200)
STEADY_RPS = 800.0


def champion_model(ctx: Context) -> tuple[int, EmbeddingModel]:
    settings = ctx.settings()
    info = registry.champion(settings)
    if info is None:
        raise RuntimeError("no champion in the bench home; run the pipeline suite first")
    return info.version, registry.load_embeddings(settings, info.version)


def steady_state(ctx: Context, dbname: str) -> None:
    """VACUUM ANALYZE: the state autovacuum leaves a minute after a load (index-only scans on ratings)."""
    with ctx.connect(dbname) as conn:
        conn.execute("VACUUM ANALYZE")


def load_hnsw_copy(ctx: Context, version: int, model: EmbeddingModel) -> None:
    """The same champion served from another database whose embedding set has HNSW indexes."""
    ctx.pg.recreate(HNSW_DB)
    from bench.env import data_dir

    with ctx.connect(HNSW_DB) as conn:
        schema.create_schema(conn)
        schema.load_catalog(conn, load_movielens(data_dir()))
        vectors.load_embeddings(conn, model_name="lensflow", version=version, model=model, index="hnsw")
        vectors.set_serving(conn, model_name="lensflow", version=version)
    steady_state(ctx, HNSW_DB)


def recall(ctx: Context, version: int, model: EmbeddingModel, seen: list[np.ndarray]) -> dict[str, Any]:
    """recall@10 of the exact scan against numpy, and of HNSW against the exact scan, over all users."""
    users = [int(u) for u in model.user_ids]
    truth = floors.exact_answers(model.item_vectors(), model.user_vectors(), seen, range(len(users)), 10)
    truth_ids = [[int(model.movie_ids[i]) for i in t] for t in truth]
    exact = sqlbench.for_users(ctx.pg.url("postgres"), model_name="lensflow", version=version, users=users)
    out: dict[str, Any] = {
        "users": len(users),
        "exact_vs_numpy": floors.recall_at_k(truth_ids, exact.movie_ids, 10),
        "exact_sql": exact.summary(),
        "hnsw": [],
    }
    for ef in EF_SEARCH:
        run = sqlbench.for_users(
            ctx.pg.url(HNSW_DB),
            model_name="lensflow",
            version=version,
            users=users,
            settings={"hnsw.ef_search": str(ef)},
        )
        out["hnsw"].append(
            {
                "ef_search": ef,
                "recall_at_10": floors.recall_at_k(exact.movie_ids, run.movie_ids, 10),
                **run.summary(),
            }
        )
    return out


def metrics_count(url: str) -> float:
    """Requests to /recommendations/{user_id} as the service's /metrics reports them (all workers)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("lensflow_http_requests_total{") and 'route="/recommendations/{user_id}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def serve_figures(ctx: Context, services: dict[str, ApiService], user_ids: list[int]) -> dict[str, Any]:
    reps = 2 if ctx.quick else 3
    paths = measure.user_paths(user_ids)
    health = Endpoint("healthz", next(iter(services.values())), ["/healthz"])
    eps = {name: Endpoint(name, svc, paths) for name, svc in services.items()}
    out: dict[str, Any] = {}
    log.info("ml100k: unloaded (sequential) latency")
    out["sequential"] = measure.interleaved(
        [health, *eps.values()], ctx.pg, measure.sequential(1000 if ctx.quick else 3000), reps
    )
    log.info("ml100k: steady %g req/s", STEADY_RPS)
    out["steady_800"] = measure.interleaved(
        [health, *eps.values()], ctx.pg, measure.open_loop(STEADY_RPS, 5 if ctx.quick else 12), reps
    )
    log.info("ml100k: saturation (closed loop)")
    out["saturation"] = measure.interleaved(
        list(eps.values()), ctx.pg, measure.closed_loop(32, 4 if ctx.quick else 8), reps
    )
    return out


def run(ctx: Context) -> None:
    version, model = champion_model(ctx)
    steady_state(ctx, "postgres")
    log.info("ml100k: loading an HNSW copy of v%s", version)
    load_hnsw_copy(ctx, version, model)
    with ctx.connect() as conn:
        seen = floors.seen_positions(conn, model.movie_ids, model.user_ids)
    floor = floors.compute_floor(model.item_vectors(), model.user_vectors(), seen)
    log.info("ml100k: recall")
    recall_figures = recall(ctx, version, model, seen)
    user_ids = [int(u) for u in model.user_ids]
    exact = ApiService(home=ctx.home, database_url=ctx.pg.url("postgres"), name="exact")
    hnsw = ApiService(home=ctx.home, database_url=ctx.pg.url(HNSW_DB), name="hnsw")
    with exact, hnsw:
        figures = serve_figures(ctx, {"exact": exact, "hnsw": hnsw}, user_ids)
    log.info("ml100k: two workers")
    two = ApiService(home=ctx.home, database_url=ctx.pg.url("postgres"), workers=2, name="exact-2w")
    with two:
        figures_2w = serve_figures(ctx, {"exact_2_workers": two}, user_ids)
        sent = sum(r["requests"] for part in figures_2w.values() for r in part["exact_2_workers"]["runs"])
        counted = metrics_count(two.url)
    figures_2w["metrics_aggregate"] = {"requests_sent_at_least": sent, "counted_by_metrics": counted}
    ctx.shared["ml100k_saturation_1w_rps"] = figures["saturation"]["exact"]["median"]["achieved_rps"]
    payload = {
        "model_version": version,
        "catalog": {"movies": len(model.movie_ids), "users": len(model.user_ids), "dim": model.vector_dim},
        "compute_floor": floor,
        "recall": recall_figures,
        "one_worker": figures,
        "two_workers": figures_2w,
        "ratios": ratios(figures, floor),
    }
    ctx.write("ml100k", payload, targets(figures, figures_2w, floor, recall_figures))


def _p(section: dict[str, Any], name: str, key: str) -> float | None:
    value = section.get(name, {}).get("median", {}).get(key)
    return None if value is None else float(value)


def ratios(figures: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    http = _p(figures["sequential"], "healthz", "p50_ms")
    compute = floor["latency_ms"]["p50"]
    base = (http or 0) + compute
    out: dict[str, Any] = {"floor_http_p50_ms": http, "floor_compute_p50_ms": compute, "floors_p50_ms": base}
    for name in ("exact", "hnsw"):
        p50 = _p(figures["sequential"], name, "p50_ms")
        out[f"{name}_p50_ms"] = p50
        out[f"{name}_ratio_to_floors"] = round(p50 / base, 2) if p50 and base else None
    return out


def targets(
    one: dict[str, Any], two: dict[str, Any], floor: dict[str, Any], rec: dict[str, Any]
) -> list[Target]:
    seq = one["sequential"]
    best_sat = max(
        (_p(one["saturation"], "exact", "achieved_rps") or 0, "1 worker"),
        (_p(two["saturation"], "exact_2_workers", "achieved_rps") or 0, "2 workers"),
    )
    best_steady = min(
        (_p(one["steady_800"], "exact", "p99_ms") or float("inf"), "1 worker"),
        (_p(two["steady_800"], "exact_2_workers", "p99_ms") or float("inf"), "2 workers"),
    )
    hnsw_recalls = {r["ef_search"]: r["recall_at_10"] for r in rec["hnsw"]}
    r = ratios(one, floor)
    return [
        at_most("ML-100k /recommendations unloaded p50", 1.0, _p(seq, "exact", "p50_ms"), "ms", "exact scan"),
        at_most("ML-100k /recommendations unloaded p99", 2.5, _p(seq, "exact", "p99_ms"), "ms", "exact scan"),
        at_most("ML-100k p99 at a steady 800 req/s", 5.0, best_steady[0], "ms", best_steady[1]),
        at_least("ML-100k saturated throughput", 1500, best_sat[0], "req/s", best_sat[1]),
        at_most("ML-100k ratio of p50 to floors (a)+(b)", 3.0, r["exact_ratio_to_floors"], "x", "exact scan"),
        at_least("ML-100k recall@10, exact scan vs numpy", 1.0, rec["exact_vs_numpy"], ""),
        at_least(
            "ML-100k recall@10, HNSW (real embeddings) vs exact",
            0.95,
            hnsw_recalls.get(40),
            "",
            "default ef_search 40; "
            + ", ".join(f"ef {ef}: {v}" for ef, v in hnsw_recalls.items() if ef != 40),
        ),
    ]
