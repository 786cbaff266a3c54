"""SIGKILL in the middle of a load or a training run: what was served stays served, nothing half-made.

The module's home has a seeded champion v1, loaded and served by a real API, on its own database of
the session server (killing a client never disturbs the server).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import LiteralString

import psycopg
import pytest
from psycopg import sql

from lensflow import registry
from lensflow.data import MovieLens
from lensflow.errors import RegistryError
from lensflow.settings import Settings
from lensflow.store import vectors
from tests.conftest import REPO, ApiProcess, make_settings, new_database, settings_env
from tests.reliability.support import LoadGenerator, Outcome, seed_champion

BIG_USERS = 300_000  # enough rows that the COPY lasts seconds, so the kill lands inside it
REQUESTS = [
    lambda i: ("GET", f"/recommendations/{i % 943 + 1}?k=10", None),
    lambda i: ("GET", f"/movies/{i % 1682 + 1}/similar?k=10", None),
    lambda i: ("POST", "/recommendations", {"ratings": [{"movie_id": i % 1682 + 1, "rating": 4}], "k": 10}),
]


@dataclass
class World:
    settings: Settings
    api: ApiProcess
    url: str
    dbname: str


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, pg_server_url: str, dataset: MovieLens
) -> Iterator[World]:
    url = new_database(pg_server_url)
    settings = make_settings(tmp_path_factory.mktemp("crash"), url)
    assert seed_champion(settings, dataset, seed=5) == 1
    api = ApiProcess(settings)
    try:
        api.wait_ready()
        yield World(settings, api, url, str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))
    finally:
        api.stop()


def query(url: str, statement: LiteralString | sql.Composed, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


# What the store shows of a v2 that is being loaded, or whose load was killed, while v1 serves: nothing.
NO_V2_WHILE_V1_SERVES = {"row": [], "serving": [(1,)], "users": None, "items": None, "directions": None}


def set_state(url: str, version: int) -> dict[str, object]:
    """What the store holds of one version: its row, its tables and their row counts."""
    tables = vectors.SetTables.of("lensflow", version)
    names = {"users": tables.users, "items": tables.items, "directions": tables.directions}
    state: dict[str, object] = {
        "row": query(
            url, "SELECT n_users, n_items, checksum FROM embedding_sets WHERE version = %s", version
        ),
        "serving": query(url, "SELECT version FROM serving WHERE model_name = 'lensflow'"),
    }
    for kind, name in names.items():
        exists = query(url, "SELECT to_regclass(%s) IS NOT NULL", name.as_string())[0][0]
        state[kind] = query(url, sql.SQL("SELECT count(*) FROM {}").format(name))[0][0] if exists else None
    return state


def copy_in_progress(url: str, dbname: str) -> int:
    rows = query(
        url,
        "SELECT coalesce(max(tuples_processed), -1) FROM pg_stat_progress_copy WHERE datname = %s",
        dbname,
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def other_backends(url: str, dbname: str) -> int:
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        " AND application_name = 'big_load'",
        dbname,
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def start_big_load(world: World, version: int) -> subprocess.Popen[bytes]:
    url = psycopg.conninfo.make_conninfo(world.url, application_name="big_load")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.big_load", url, str(version), str(BIG_USERS)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def assert_served_v1(outcomes: list[Outcome]) -> None:
    bad = [(o.status, o.path, str(o.body)[:100]) for o in outcomes if o.status != 200]
    assert not bad, f"{len(bad)} of {len(outcomes)} requests failed: {bad[:5]}"
    assert {o.body["model_version"] for o in outcomes} == {"1"}


@pytest.mark.slow
def test_loader_killed_mid_copy_leaves_nothing_and_a_rerun_completes(world: World) -> None:
    v1_before = set_state(world.url, 1)
    with LoadGenerator(world.api.url, REQUESTS, threads=2, pause=0.01) as load:
        load.wait_for(10)
        loader = start_big_load(world, 2)
        try:
            deadline = time.monotonic() + 60
            while copy_in_progress(world.url, world.dbname) < 10_000:
                assert loader.poll() is None, f"the loader ended before the kill: {loader.stderr.read()!r}"  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the COPY never started"
                # Meanwhile nothing of v2 is visible to anyone else.
                assert set_state(world.url, 2) == NO_V2_WHILE_V1_SERVES
                time.sleep(0.02)
            os.kill(loader.pid, signal.SIGKILL)
            assert loader.wait(10) == -signal.SIGKILL
        finally:
            if loader.poll() is None:
                loader.kill()
        deadline = time.monotonic() + 20
        while other_backends(world.url, world.dbname):  # the server notices the dead client and rolls back
            assert time.monotonic() < deadline, "the killed loader's session never ended"
            time.sleep(0.1)
        load.wait_for(20)
    assert set_state(world.url, 2) == NO_V2_WHILE_V1_SERVES
    assert set_state(world.url, 1) == v1_before
    assert_served_v1(load.snapshot())

    again = start_big_load(world, 2)
    _, stderr = again.communicate(timeout=180)
    assert again.returncode == 0, stderr.decode()[-2000:]
    loaded = set_state(world.url, 2)
    assert loaded["row"] and loaded["row"][0][:2] == (BIG_USERS, 1682)  # type: ignore[index]
    assert (loaded["users"], loaded["items"], loaded["serving"]) == (BIG_USERS, 1682, [(1,)])
    assert set_state(world.url, 1) == v1_before


def mlflow_training_started(settings: Settings) -> bool:
    path = settings.home / "mlflow.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute(
            # Parameters are logged before training starts; metrics from its first epoch on.
            "SELECT count(*) FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid WHERE r.status = 'RUNNING'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.slow
def test_pipeline_killed_during_training_leaves_the_champion_served(world: World) -> None:
    settings = world.settings
    v1_before = set_state(world.url, 1)
    with LoadGenerator(world.api.url, REQUESTS, threads=2, pause=0.02) as load:
        pipeline = subprocess.Popen(
            [sys.executable, "-m", "lensflow.cli", "pipeline", "--json", "--epochs", "60"],
            env=settings_env(settings),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 180
            while not mlflow_training_started(settings):
                assert pipeline.poll() is None, "the pipeline ended before the kill"
                assert time.monotonic() < deadline, "training never started"
                time.sleep(0.2)
            os.kill(pipeline.pid, signal.SIGKILL)
            assert pipeline.wait(10) == -signal.SIGKILL
        finally:
            if pipeline.poll() is None:
                pipeline.kill()
        load.wait_for(20)
    assert_served_v1(load.snapshot())

    with pytest.raises(RegistryError):
        registry.get_version(settings, 2)  # the killed run registered nothing
    champion = registry.champion(settings)
    assert champion is not None and champion.version == 1
    assert set_state(world.url, 1) == v1_before
    row = query(world.url, "SELECT n_users, n_items, checksum FROM embedding_sets WHERE version = 1")
    model = registry.load_embeddings(settings, 1)
    assert row == [(len(model.user_ids), len(model.movie_ids), vectors.embeddings_checksum(model))]
    assert (v1_before["users"], v1_before["items"]) == (len(model.user_ids), len(model.movie_ids))
