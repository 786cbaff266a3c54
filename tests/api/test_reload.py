"""/admin/reload swaps in a new champion with no restart and no failed request."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ApiProcess, make_settings, new_database, run_cli


@pytest.mark.slow
def test_reload_under_concurrent_requests_has_zero_failures(tmp_path: Path, pg_server_url: str) -> None:
    settings = make_settings(tmp_path / "home", new_database(pg_server_url))
    assert run_cli(settings, "pipeline", "--json", "--epochs", "5").returncode == 0
    api = ApiProcess(settings)
    try:
        api.wait_ready()
        trained = run_cli(settings, "train", "--json", "--epochs", "3")
        assert trained.returncode == 0, trained.stderr[-2000:]
        promoted = run_cli(settings, "promote", "2")
        assert promoted.returncode == 0, promoted.stderr[-2000:]

        failures: list[str] = []
        versions: list[list[str]] = [[] for _ in range(4)]
        stop = threading.Event()

        def hammer(slot: int) -> None:
            with httpx.Client(base_url=api.url, timeout=10) as c:
                while not stop.is_set():
                    r = c.get(f"/recommendations/{slot + 1}", params={"k": 10})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        versions[slot].append(r.json()["model_version"])

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        while min(len(v) for v in versions) < 20:
            pass
        reload = httpx.post(
            f"{api.url}/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )
        while min(len(v) for v in versions) < 60 or versions[0][-1] != "2":
            pass
        stop.set()
        for t in threads:
            t.join()
        assert reload.status_code == 200, reload.text
        assert reload.json() == {"previous_version": "1", "version": "2", "changed": True}
        assert failures == []
        for seen in versions:
            # each client sees v1 answers, then only v2 answers: the switch happens once
            switch = seen.index("2")
            assert set(seen[:switch]) == {"1"} and set(seen[switch:]) == {"2"}
        assert httpx.get(f"{api.url}/model").json()["version"] == "2"
    finally:
        api.stop()
