"""`make monitor` (scripts/monitor.sh): a local Prometheus with the repo's rules, or a hint to `make up`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.observability.prom import (
    REPO,
    RULES_DIR,
    SCRAPE_JOB,
    free_port,
    prometheus_binary,
    recorded_names,
    run,
)

SCRIPT = REPO / "scripts" / "monitor.sh"


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "LENSFLOW_HOME": str(home), **extra}


def test_without_prometheus_points_to_the_compose_stack(tmp_path: Path) -> None:
    result = run(["bash", str(SCRIPT)], env=_env(tmp_path, PROMETHEUS_BIN=str(tmp_path / "no-prometheus")))
    assert result.returncode != 0
    assert "make up" in result.stderr
    assert not (tmp_path / "prometheus").exists()


def test_starts_prometheus_scraping_the_local_api_with_the_repo_rules(tmp_path: Path) -> None:
    api_port, prom_port = free_port(), free_port()
    env = _env(
        tmp_path,
        PROMETHEUS_BIN=prometheus_binary(),
        LENSFLOW_PORT=str(api_port),
        PROMETHEUS_PORT=str(prom_port),
        SCRAPE_INTERVAL="1s",
    )
    log = (tmp_path / "monitor.log").open("w")
    # The script execs Prometheus, so this process is Prometheus itself once it has started.
    process = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{prom_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "monitor.log").read_text()
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "monitor.sh's Prometheus did not become ready in 30 s"
            time.sleep(0.2)

        config = tmp_path / "prometheus" / "prometheus.yml"
        assert config.is_file() and str(RULES_DIR / "alerts.yml") in config.read_text()
        assert (tmp_path / "prometheus" / "data").is_dir()

        deadline = time.monotonic() + 20
        while True:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            scraped = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
            if (SCRAPE_JOB, f"127.0.0.1:{api_port}") in scraped:
                break
            assert time.monotonic() < deadline, f"the API is not among the scraped targets: {scraped}"
            time.sleep(0.5)

        groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        loaded = {rule["name"] for group in groups for rule in group["rules"]}
        assert recorded_names() <= loaded
        assert "LensflowApiDown" in loaded

        # Nothing listens on api_port: the API target is down, and the alert goes pending.
        deadline = time.monotonic() + 20
        while True:
            result = httpx.get(f"{url}/api/v1/query", params={"query": "ALERTS"}, timeout=5).json()
            states = {s["metric"]["alertname"]: s["metric"]["alertstate"] for s in result["data"]["result"]}
            if states.get("LensflowApiDown") == "pending":
                break
            assert time.monotonic() < deadline, f"LensflowApiDown never went pending: {states}"
            time.sleep(0.5)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
    output = (tmp_path / "monitor.log").read_text()
    assert f"{url}/alerts" in output and "nothing listens" in output
