"""Postgres stops while requests flow: answers stay fast 503s, then the service heals by itself.

The module runs its own embedded Postgres, so stopping it never disturbs the session's server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lensflow.data import MovieLens
from tests.conftest import ApiProcess, make_settings
from tests.reliability.support import LoadGenerator, Outcome, OwnPostgres, seed_champion

FAST_S = 1.0  # the longest a request may take while the database is down
RECOVERY_S = 10.0  # from `pg_ctl start` returning to /readyz answering 200

REQUESTS = [
    lambda i: ("GET", f"/recommendations/{i % 900 + 1}?k=10", None),
    lambda i: ("GET", f"/movies/{i % 1600 + 1}/similar?k=5", None),
    lambda i: ("POST", "/recommendations", {"ratings": [{"movie_id": i % 1600 + 1, "rating": 5}], "k": 5}),
    lambda i: ("GET", "/movies/search?q=star", None),
    lambda i: ("GET", f"/users/{i % 900 + 1}/ratings", None),
    lambda i: ("GET", f"/movies/{i % 1600 + 1}", None),
]


@dataclass
class World:
    pg: OwnPostgres
    api: ApiProcess


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dataset: MovieLens) -> Iterator[World]:
    """A Postgres of this module's own, a seeded champion and an API serving it."""
    pg = OwnPostgres()
    try:
        settings = make_settings(tmp_path_factory.mktemp("outage"), pg.new_database())
        seed_champion(settings, dataset)
        api = ApiProcess(settings)
        try:
            api.wait_ready()
            yield World(pg, api)
        finally:
            api.stop()
    finally:
        pg.close()


def probe(url: str, path: str) -> tuple[int, float, dict[str, Any], httpx.Headers]:
    started = time.monotonic()
    r = httpx.get(f"{url}{path}", timeout=5)
    return r.status_code, time.monotonic() - started, r.json(), r.headers


def wait_until_ready(url: str, timeout: float) -> float:
    """Seconds until /readyz answers 200; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if probe(url, "/readyz")[0] == 200:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/readyz not 200 within {timeout}s of the database coming back")


def describe(outcomes: list[Outcome]) -> str:
    return "; ".join(f"{o.status} {o.path} {o.elapsed:.2f}s {str(o.body)[:120]}" for o in outcomes[:5])


@pytest.mark.slow
def test_outage_fails_fast_and_service_recovers_without_restart(world: World) -> None:
    api, pg = world.api, world.pg
    with LoadGenerator(api.url, REQUESTS, threads=3) as load:
        load.wait_for(30)
        down_at = time.monotonic()
        pg.stop()
        stopped_at = time.monotonic()
        load.wait_for(45)  # every thread keeps getting answers: nothing hangs
        for _ in range(3):
            status, elapsed, body, headers = probe(api.url, "/readyz")
            assert (status, body["status"]) == (503, "unavailable") and elapsed < FAST_S, body
            assert headers["Retry-After"].isdigit()
            assert probe(api.url, "/healthz")[0] == 200
        up_at = time.monotonic()
        pg.start()
        recovery = wait_until_ready(api.url, RECOVERY_S)
        ready_at = time.monotonic()
        load.wait_for(45)
    assert api.proc.poll() is None, "the API process must survive the outage"

    outcomes = load.snapshot()
    before = [o for o in outcomes if o.started + o.elapsed < down_at]
    during = [o for o in outcomes if stopped_at < o.started and o.started + o.elapsed < up_at]
    after = [o for o in outcomes if o.started > ready_at]
    assert before and during and after, (len(before), len(during), len(after))
    assert all(o.status == 200 for o in before), describe([o for o in before if o.status != 200])
    assert all(o.status == 503 for o in during), describe([o for o in during if o.status != 503])
    unexpected = [o for o in outcomes if o.status not in (200, 503)]
    assert not unexpected, f"only 200 or 503 may be answered: {describe(unexpected)}"
    slow = [o for o in during if o.elapsed >= FAST_S]
    assert not slow, f"requests during the outage must fail fast: {describe(slow)}"
    unavailable = [o for o in outcomes if o.status == 503]
    for o in unavailable:
        assert o.headers.get("retry-after", "").isdigit(), o
        assert o.body["error"] == "unavailable" and "database" in o.body["message"], o.body
    failed_after = [o for o in after if o.status != 200]
    assert not failed_after, (
        f"after /readyz is 200 again every request must succeed: {describe(failed_after)}"
    )
    print(
        f"\noutage: {len(outcomes)} requests, {len(unavailable)} fast 503s (max"
        f" {max(o.elapsed for o in during):.3f}s), ready {recovery:.2f}s after Postgres was back"
    )


@pytest.mark.slow
def test_restart_while_idle_loses_no_request(world: World) -> None:
    """Connections idle in the pool die with the server; the next requests must not see them."""
    api, pg = world.api, world.pg
    with httpx.Client(base_url=api.url, timeout=5) as client:
        for i in range(6):  # the pool holds warm connections
            assert client.get(f"/recommendations/{i + 1}").status_code == 200
        pg.stop()
        pg.start()
        answers = []
        for i in range(2 * len(REQUESTS)):
            method, path, body = REQUESTS[i % len(REQUESTS)](i)
            answers.append(client.request(method, path, json=body))
    failed = [(r.status_code, r.request.url.path, r.text[:100]) for r in answers if r.status_code != 200]
    assert not failed, f"requests after a quick Postgres restart failed: {failed}"
