"""Helpers for the observability tests: the repo's paths, required tools, a real Prometheus."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
LOCAL_TEMPLATE = PROMETHEUS_DIR / "prometheus.local.yml.in"
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
SCRAPE_JOB = "lensflow-api"


def require_tool(name: str, install_hint: str) -> str:
    """The path of a command-line tool; fail (never skip) the test when it is missing."""
    # The venv's bin dir first (hadolint comes from a wheel), then PATH, then Debian's /usr/bin.
    candidates = [Path(sys.executable).parent / name, shutil.which(name), Path("/usr/bin") / name]
    path = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if path is None:
        pytest.fail(f"`{name}` is not installed: {install_hint}", pytrace=False)
    return path


def promtool() -> str:
    return require_tool("promtool", "install Debian's `prometheus` package (apt-get install -y prometheus)")


def prometheus_binary() -> str:
    return require_tool("prometheus", "install Debian's `prometheus` package (apt-get install -y prometheus)")


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render_local_config(*, api_target: str, prometheus_target: str, interval: str = "15s") -> str:
    """prometheus/prometheus.local.yml.in filled in the way scripts/monitor.sh fills it."""
    values = {
        "@SCRAPE_INTERVAL@": interval,
        "@SCRAPE_TIMEOUT@": interval,
        "@RULES_DIR@": str(RULES_DIR),
        "@API_TARGET@": api_target,
        "@PROMETHEUS_TARGET@": prometheus_target,
    }
    text = LOCAL_TEMPLATE.read_text(encoding="utf-8")
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def alert_names() -> list[str]:
    return [
        rule["alert"] for group in load_yaml(RULES_DIR / "alerts.yml")["groups"] for rule in group["rules"]
    ]


def recorded_names() -> set[str]:
    groups = load_yaml(RULES_DIR / "recording.yml")["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


class Prometheus:
    """A real Prometheus server on 127.0.0.1:port, stopped by stop() (its own process only)."""

    def __init__(self, args: list[str], port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self._log_path = log_path

    @classmethod
    def start(cls, config: Path, data_dir: Path, port: int) -> Prometheus:
        args = [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        server = cls(args, port, data_dir.parent / "prometheus.log")
        server.wait_ready()
        return server

    def log(self) -> str:
        return self._log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Prometheus exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"Prometheus at {self.url} not ready after {timeout_s} s:\n{self.log()}")

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"/api/v1/{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's samples as [{"metric": {...}, "value": [time, "value"]}, ...]."""
        data = self.api("query", query=expr)
        if data["resultType"] == "vector":
            return list(data["result"])
        return [{"metric": {}, "value": data["result"]}]  # a scalar

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
