"""Grafana dashboards: structure, and every panel query returns data from a real Prometheus.

The live part starts Debian's Prometheus on a free port, scraping the real API (the `live_api`
fixture from tests/conftest.py) every second with the repo's rules, drives a short load through
every route, then evaluates each panel's PromQL through Prometheus' HTTP API.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.observability.prom import (
    DASHBOARD_DIR,
    REPO,
    SCRAPE_JOB,
    Prometheus,
    alert_names,
    free_port,
    load_yaml,
    recorded_names,
    render_local_config,
    run,
)

DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))
DATASOURCE_UID = load_yaml(REPO / "grafana/provisioning/datasources/prometheus.yml")["datasources"][0]["uid"]
# What Grafana would put in place of its built-in variables, sized for a 1 s scrape interval.
BUILTIN_VARIABLES = {"__rate_interval": "30s", "__interval": "5s", "__range": "5m"}
TELEMETRY = REPO / "src" / "lensflow" / "serve" / "telemetry.py"


def _dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARD_FILES}


def _targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (name, panel, target)
        for name, dashboard in _dashboards().items()
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def substitute(expr: str, dashboard: dict[str, Any]) -> str:
    """Replace Grafana variables the way Grafana would with every template variable set to All."""
    values = dict(BUILTIN_VARIABLES)
    for variable in dashboard.get("templating", {}).get("list", []):
        values[variable["name"]] = variable.get("allValue") or ".*"
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
    assert "$" not in expr, f"an unknown Grafana variable is left in: {expr}"
    return expr


# --- structure -----------------------------------------------------------------------------------


def test_dashboards_are_generated_from_the_script() -> None:
    result = run([sys.executable, str(REPO / "grafana" / "dashboards.py"), "--check"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_two_dashboards_exist() -> None:
    titles = {d["uid"]: d["title"] for d in _dashboards().values()}
    assert titles == {"lensflow-service": "lensflow service", "lensflow-model": "lensflow model"}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"] and 36 <= dashboard["schemaVersion"] <= 41
    panels = dashboard["panels"]
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        where = f"{path.name}: panel {panel['id']} {panel.get('title')!r}"
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "gauge", "table"}, where
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, where
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0, where
        assert grid["x"] + grid["w"] <= 24, f"{where} is wider than the 24-column grid"
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{where} overlaps another panel"
        occupied |= cells
        targets = panel["targets"]
        assert targets, f"{where} has no query"
        assert len({t["refId"] for t in targets}) == len(targets), where
        for target in targets:
            assert target["expr"].strip(), where
            assert target["datasource"]["uid"] == DATASOURCE_UID, where


def test_service_dashboard_has_the_panels_the_issue_asks_for() -> None:
    exprs = {
        p["title"]: " ".join(t["expr"] for t in p["targets"])
        for p in _dashboards()["lensflow-service"]["panels"]
    }
    every = " ".join(exprs.values())
    assert "lensflow_http_requests:rate1m" in exprs["Request rate by route"]
    assert "lensflow_http_errors:ratio_rate5m" in exprs["Error ratio (5xx) by route"]
    latency = exprs["Latency p50 / p95 / p99 by route"]
    assert all(f"p{q}_rate5m" in latency for q in (50, 95, 99)) and "route" in latency
    for metric in (
        "lensflow_model_inference_seconds_bucket",
        "lensflow_db_query_seconds_bucket",
        "lensflow_recommendations_served_total",
        "lensflow_serving_model_version",
        "lensflow_ready",
    ):
        assert metric in every, f"no panel shows {metric}"


def test_model_dashboard_has_a_gauge_per_offline_metric() -> None:
    gauges = [p for p in _dashboards()["lensflow-model"]["panels"] if p["type"] == "gauge"]
    shown = {m for p in gauges for t in p["targets"] for m in re.findall(r'metric="([^"]+)"', t["expr"])}
    assert {"ndcg@10", "recall@10", "rmse", "coverage@10"} <= shown


def test_dashboards_read_only_recorded_series_and_metrics_the_service_exports() -> None:
    exported = set(re.findall(r'"(lensflow_[a-z_]+)"', TELEMETRY.read_text(encoding="utf-8")))
    suffixes = ("_bucket", "_count", "_sum")
    recorded = recorded_names()
    for name, panel, target in _targets():
        for series in re.findall(r"\b([a-z_]+:[a-z_0-9]+:[a-z_0-9]+)\b", target["expr"]):
            assert series in recorded, f"{name} / {panel['title']}: {series} is not a recording rule"
        for metric in re.findall(r"(?<![\w:])(lensflow_[a-z_]+)(?![\w:])", target["expr"]):
            base = next((metric.removesuffix(s) for s in suffixes if metric.endswith(s)), metric)
            assert base in exported, f"{name} / {panel['title']}: {metric} is not in serve/telemetry.py"


def test_grafana_variables_are_all_substituted() -> None:
    for name, _panel, target in _targets():
        substitute(target["expr"], _dashboards()[name])


# --- against a real Prometheus scraping the real API ------------------------------------------------

NEW_USER = {
    "ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 50, "rating": 4}, {"movie_id": 181, "rating": 5}],
    "k": 10,
}
# (method, path, body, expected status or None when any answer will do)
ROUND: list[tuple[str, str, Any, int | None]] = [
    ("GET", "/recommendations/1?k=10", None, 200),
    ("GET", "/recommendations/2?k=5", None, 200),
    ("GET", "/recommendations/999999?k=10", None, 404),
    ("GET", "/recommendations/1?k=0", None, 422),
    ("POST", "/recommendations", NEW_USER, 200),
    ("POST", "/recommendations", {"ratings": [{"movie_id": 999999, "rating": 5}], "k": 10}, 422),
    ("GET", "/movies/1/similar?k=10", None, 200),
    ("GET", "/movies/999999/similar?k=10", None, 404),
    ("GET", "/model", None, 200),
    ("GET", "/healthz", None, 200),
    ("GET", "/readyz", None, 200),
    ("GET", "/metrics", None, 200),
    ("GET", "/", None, None),  # the web page; its content is tests/api's business
    ("GET", "/no-such-route", None, 404),
    ("POST", "/admin/reload", None, None),  # no token: refused, whatever the code
]
TRICKLE = [ROUND[0], ROUND[4], ROUND[6], ROUND[10]]


class Load:
    """Bounded traffic to the API on this machine: a burst, then a trickle until stop() or its cap."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def send(self, requests: list[tuple[str, str, Any, int | None]], *, check: bool = False) -> None:
        for method, path, body, expected in requests:
            response = self.client.request(method, path, json=body)
            self.sent += 1
            if check and expected is not None:
                assert response.status_code == expected, (
                    f"{method} {path}: {response.status_code} {response.text[:300]}"
                )

    def burst(self, rounds: int = 20, seconds: float = 6.0) -> None:
        self.send(ROUND, check=True)
        for _ in range(rounds - 1):
            self.send(ROUND)
            time.sleep(seconds / rounds)  # spread over several 1 s scrapes

    def _trickle(self, max_seconds: float = 600.0, max_requests: int = 12_000) -> None:
        # Runs while the module's queries do, so 30 s rate windows and quantiles keep fresh data.
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline and self.sent < max_requests:
            self.send(TRICKLE)
            self._stop.wait(0.25)

    def start_trickle(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self.client.close()


def _finite(samples: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in samples)


def _eventually(prometheus: Prometheus, expr: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
    """The query's samples once at least one is a finite number, else its last answer after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = prometheus.query(expr)
        if _finite(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(1)


@pytest.fixture(scope="module")
def scraped(live_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        render_local_config(
            api_target=urlsplit(live_api).netloc, prometheus_target=f"127.0.0.1:{port}", interval="1s"
        )
    )
    prometheus = Prometheus.start(config, workdir / "data", port)
    load = Load(live_api)
    try:
        load.burst()
        load.start_trickle()
        # rate() needs two samples in its window; wait for a few scrapes and rule evaluations.
        scrapes = _eventually(prometheus, f'count_over_time(up{{job="{SCRAPE_JOB}"}}[1m]) >= 5')
        assert scrapes, f"Prometheus has not scraped {live_api} five times:\n{prometheus.log()}"
        assert prometheus.query(f'up{{job="{SCRAPE_JOB}"}}')[0]["value"][1] == "1"
        assert _eventually(prometheus, "sum(job_route:lensflow_http_requests:rate1m) > 0")
        yield prometheus
    finally:
        load.stop()
        prometheus.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dashboard", "panel", "target"),
    _targets(),
    ids=[f"{name}/{panel['title']}/{target['refId']}" for name, panel, target in _targets()],
)
def test_every_panel_query_returns_data(
    scraped: Prometheus, dashboard: str, panel: dict[str, Any], target: dict[str, Any]
) -> None:
    expr = substitute(target["expr"], _dashboards()[dashboard])
    samples = _eventually(scraped, expr)
    assert samples, f"{dashboard} / {panel['title']}: no data for\n  {expr}"
    assert _finite(samples), f"{dashboard} / {panel['title']}: only NaN/Inf for\n  {expr}\n  {samples}"


@pytest.mark.slow
def test_route_variable_lists_route_templates_not_raw_paths(scraped: Prometheus) -> None:
    variable = _dashboards()["lensflow-service"]["templating"]["list"][0]
    metric, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"]).groups()  # type: ignore[union-attr]
    routes = {s["metric"][label] for s in scraped.query(f"group by ({label}) ({metric})")}
    assert {
        "/recommendations/{user_id}",
        "/recommendations",
        "/movies/{movie_id}/similar",
        "/model",
    } <= routes
    assert {"/healthz", "/readyz", "/metrics"} <= routes
    leaked = {r for r in routes if re.search(r"/\d+(/|$)", r) or "no-such-route" in r}
    assert not leaked, f"raw paths as route labels (unbounded cardinality): {leaked}"


@pytest.mark.slow
def test_rules_evaluate_cleanly_on_real_metrics(scraped: Prometheus) -> None:
    groups = scraped.api("rules")["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert recorded_names() | set(alert_names()) <= set(rules)
    broken = {name: rule.get("lastError") for name, rule in rules.items() if rule["health"] != "ok"}
    assert not broken, broken
    for record in sorted(recorded_names()):
        assert _eventually(scraped, record), f"recording rule {record} has no data"


@pytest.mark.slow
def test_a_healthy_api_trips_no_availability_or_model_alert(scraped: Prometheus) -> None:
    quiet = ["LensflowApiDown", "LensflowNotReady", "LensflowNoModelLoaded", "LensflowStaleModel"]
    active = scraped.query(f'ALERTS{{alertname=~"{"|".join(quiet)}"}}')
    assert not active, [s["metric"] for s in active]
    assert float(scraped.query(f'lensflow_serving_model_version{{job="{SCRAPE_JOB}"}}')[0]["value"][1]) > 0
