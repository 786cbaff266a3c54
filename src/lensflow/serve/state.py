"""What the service serves: one immutable snapshot (model, version, queries), swapped whole on reload.

A request reads the snapshot once and uses it to the end, so each answer comes from one version's
model and embeddings even while a reload swaps in the next.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from lensflow import registry
from lensflow.errors import LensflowError, StoreError
from lensflow.indexing import IdIndex
from lensflow.models.embedding import EmbeddingModel
from lensflow.registry import VersionInfo
from lensflow.serve import telemetry
from lensflow.settings import CHAMPION_ALIAS, Settings
from lensflow.store.queries import SetQueries
from lensflow.store.vectors import HAS_DIRECTIONS, SetTables, layout_upgrade

log = logging.getLogger(__name__)

EXPORTED_METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10", "rmse", "coverage@10")


@dataclass(frozen=True)
class Snapshot:
    info: VersionInfo
    model: EmbeddingModel
    queries: SetQueries
    users: IdIndex
    movies: IdIndex
    titles: dict[int, str]
    loaded_at: float
    ndcg_curve: dict[str, float] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.info.version)

    def offline_metrics(self) -> dict[str, float]:
        return {
            name: self.info.metrics[registry.metric_key(name)]
            for name in EXPORTED_METRICS
            if registry.metric_key(name) in self.info.metrics
        }


async def _set_is_loaded(pool: AsyncConnectionPool, settings: Settings, version: int) -> bool:
    async with pool.connection(timeout=5) as conn:
        cur = await conn.execute(
            "SELECT 1 FROM embedding_sets WHERE model_name = %s AND version = %s",
            (settings.model_name, version),
        )
        return await cur.fetchone() is not None


async def _upgrade_layout(pool: AsyncConnectionPool, settings: Settings, version: int) -> None:
    """A set loaded by an older lensflow gets the current table layout before it is served."""
    tables = SetTables.of(settings.model_name, version)
    async with pool.connection(timeout=5) as conn:
        cur = await conn.execute(HAS_DIRECTIONS, (tables.directions.as_string(),))
        if await cur.fetchone() == (True,):
            return
        async with conn.transaction():
            cur = await conn.execute(
                "SELECT index_kind FROM embedding_sets WHERE model_name = %s AND version = %s",
                (settings.model_name, version),
            )
            row = await cur.fetchone()
            lock, *steps = layout_upgrade(settings.model_name, version, str(row[0]) if row else "exact")
            await conn.execute(lock)
            cur = await conn.execute(HAS_DIRECTIONS, (tables.directions.as_string(),))
            if await cur.fetchone() == (True,):
                return  # another worker upgraded it meanwhile
            for step in steps:
                await conn.execute(step)
            log.info("moved %s v%s to the split table layout", settings.model_name, version)


async def _titles(pool: AsyncConnectionPool, set_queries: SetQueries) -> dict[int, str]:
    async with pool.connection(timeout=5) as conn:
        return await set_queries.titles(conn)


async def load_champion(settings: Settings, pool: AsyncConnectionPool) -> Snapshot:
    """Resolve the alias once, then load that exact version (the alias may move meanwhile)."""
    info = await asyncio.to_thread(registry.champion, settings)
    if info is None:
        raise LensflowError(f"no model version has alias '{CHAMPION_ALIAS}'; run `lensflow pipeline` first")
    if not await _set_is_loaded(pool, settings, info.version):
        raise StoreError(
            f"embeddings of v{info.version} are not in Postgres; run `lensflow load {info.version}`"
        )
    await _upgrade_layout(pool, settings, info.version)
    model = await asyncio.to_thread(registry.load_embeddings, settings, info.version)
    report = (
        await asyncio.to_thread(registry.evaluation_report, settings, info.run_id) if info.run_id else None
    )
    curve = {str(k): float(v) for k, v in (report or {}).get("ndcg_curve", {}).items()}
    set_queries = SetQueries(settings.model_name, info.version)
    return Snapshot(
        info=info,
        model=model,
        queries=set_queries,
        users=IdIndex.from_ids(model.user_ids),
        movies=IdIndex.from_ids(model.movie_ids),
        titles=await _titles(pool, set_queries),
        loaded_at=time.time(),
        ndcg_curve=curve,
    )


def publish(snapshot: Snapshot, previous: Snapshot | None) -> None:
    """Export the serving model's identity and offline metrics as gauges."""
    if previous is not None:
        telemetry.MODEL_INFO.remove(previous.info.name, previous.version, previous.info.run_id)
    telemetry.MODEL_INFO.labels(snapshot.info.name, snapshot.version, snapshot.info.run_id).set(1)
    telemetry.SERVING_VERSION.set(snapshot.info.version)
    telemetry.MODEL_LOADED_AT.set(snapshot.loaded_at)
    for name, value in snapshot.offline_metrics().items():
        telemetry.OFFLINE_METRIC.labels(name).set(value)


def settle_heap() -> None:
    """Move everything alive now (imported libraries, the loaded model) out of the garbage collector's view.

    The process holds a few hundred thousand long-lived objects from MLflow, pandas and torch; every
    full collection walked all of them, a pause of 100-280 ms that stalled every request in flight
    (9 such pauses in 20 s at 800 req/s). Frozen objects are still freed by reference counting; only
    the cycle collector skips them. Called after start-up and after each reload.
    """
    gc.collect()
    gc.freeze()
