"""The stages wired together: data -> train -> evaluate -> register -> load -> promote.

Order matters for safety: a version's embeddings are fully loaded into pgvector before the
`champion` alias may point at it, so the service never finds a champion it cannot serve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from lensflow import registry
from lensflow.data import MovieLens, load_movielens, resolve_data_dir
from lensflow.evaluate import Evaluation, evaluate, genre_matrix
from lensflow.indexing import IdIndex
from lensflow.models.config import TrainConfig
from lensflow.settings import Settings
from lensflow.split import stratified_split
from lensflow.store import schema, vectors
from lensflow.store.server import database_url

log = logging.getLogger(__name__)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(time.perf_counter() - start, 3)


@contextmanager
def connect(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection with the schema in place; starts the embedded server when there is no DATABASE_URL."""
    with database_url(settings) as url, psycopg.connect(url, autocommit=True) as conn:
        schema.create_schema(conn)
        yield conn


@dataclass(frozen=True)
class TrainedVersion:
    version: int
    run_id: str
    evaluation: Evaluation


def train_and_register(
    settings: Settings, dataset: MovieLens, *, cfg: TrainConfig, timings: dict[str, float]
) -> TrainedVersion:
    from lensflow.train import train_model  # torch loads only for commands that train

    split = stratified_split(dataset.ratings, ratio=0.75, seed=42)
    users = IdIndex.from_ids(dataset.users["user_id"])
    items = IdIndex.from_ids(dataset.movies["movie_id"])
    tags = {"protocol": split.protocol, "dataset.fingerprint": dataset.fingerprint}
    with registry.training_run(
        settings, run_name=f"{cfg.model}-d{cfg.dim}", tags={**tags, "model": cfg.model}
    ) as run_id:
        registry.log_params(
            {
                **cfg.as_params(),
                "protocol": split.protocol,
                "dataset_sha256": dataset.fingerprint,
                "n_train": len(split.train),
                "n_test": len(split.test),
            }
        )
        with _timed(timings, "train"):
            result = train_model(split.train, users=users, items=items, cfg=cfg, on_epoch=registry.log_epoch)
        registry.log_metrics(result.validation)
        with _timed(timings, "evaluate"):
            ev = evaluate(
                result.model,
                split,
                users=users,
                items=items,
                item_genres=genre_matrix(dataset.movies, dataset.genres, items),
            )
            registry.log_metrics(ev.metrics)
            registry.log_metrics(ev.baseline, prefix="baseline_popularity_")
            registry.log_json_artifact(ev.report(), path="evaluation/report.json")
        with _timed(timings, "register"):
            model_uri = registry.log_model(result.model)
            version = registry.register(settings, model_uri=model_uri, run_id=run_id, metrics=ev.metrics)
    log.info("registered %s v%d (run %s)", settings.model_name, version, run_id)
    return TrainedVersion(version, run_id, ev)


def load_version(conn: psycopg.Connection, settings: Settings, version: int) -> bool:
    model = registry.load_embeddings(settings, version)
    return vectors.load_embeddings(conn, model_name=settings.model_name, version=version, model=model)


def promote(
    conn: psycopg.Connection, settings: Settings, version: int, *, action: str, reason: str
) -> dict[str, Any]:
    """Load (if needed), switch the store's serving pointer, then move the alias; in that order."""
    load_version(conn, settings, version)
    vectors.set_serving(conn, model_name=settings.model_name, version=version)
    entry = registry.move_champion(settings, version=version, action=action, reason=reason)
    champion = registry.champion(settings)
    vectors.prune_sets(
        conn,
        model_name=settings.model_name,
        keep=settings.keep_versions,
        protect={version}
        | ({entry["previous"]} if entry["previous"] else set())
        | ({champion.version} if champion else set()),
    )
    return entry


def run_pipeline(settings: Settings, *, data_dir: Path | None, cfg: TrainConfig) -> dict[str, Any]:
    timings: dict[str, float] = {}
    with _timed(timings, "data"):
        dataset = load_movielens(resolve_data_dir(settings, data_dir))
    trained = train_and_register(settings, dataset, cfg=cfg, timings=timings)
    promoted = False
    with _timed(timings, "load"), connect(settings) as conn:
        schema.load_catalog(conn, dataset)
        load_version(conn, settings, trained.version)
        allowed, reason = registry.gate_allows(settings, candidate_ndcg=trained.evaluation.metrics["ndcg@10"])
        log.info("quality gate: %s", reason)
        if allowed:
            promote(conn, settings, trained.version, action="gate", reason=reason)
            promoted = True
    ev = trained.evaluation
    keys = ("ndcg@10", "precision@10", "recall@10", "map@10")
    return {
        "model_name": settings.model_name,
        "model_version": str(trained.version),
        "promoted": promoted,
        "gate": reason,
        "run_id": trained.run_id,
        "protocol": ev.protocol,
        "metrics": {k: round(ev.metrics[k], 6) for k in (*keys, "rmse", "coverage@10")},
        "baseline": {"name": "popularity", **{k: round(ev.baseline[k], 6) for k in keys}},
        "timings_s": timings,
    }
