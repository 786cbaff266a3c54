"""The real service as a subprocess: `lensflow serve`, exactly as a user starts it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bench.env import REPO, clean_env, process_tree, process_tree_cpu_s, rss_mb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiService:
    """`lensflow serve --port P [--workers N]` against a bench home and database; stopped on exit."""

    def __init__(
        self,
        *,
        home: Path,
        database_url: str,
        workers: int = 1,
        name: str = "api",
        uvicorn_options: list[str] | None = None,
    ) -> None:
        """`uvicorn_options` (e.g. ["--loop", "asyncio"]) run the same app through uvicorn's own CLI."""
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = home / f"{name}-{self.port}.log"
        env = clean_env(
            LENSFLOW_HOME=str(home),
            DATABASE_URL=database_url,
            LENSFLOW_REGISTRY_POLL_S="3600",  # the poller is not part of the request path
        )
        if workers > 1:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self._fresh_multiproc_dir())
        home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        cmd = [sys.executable, "-m", "lensflow.cli", "serve", "--port", str(self.port)]
        if uvicorn_options is not None:
            factory = "lensflow.serve.factory:app"
            cmd = [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(self.port)]
            cmd += ["--log-level", "warning", "--no-access-log", *uvicorn_options]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)

    def _fresh_multiproc_dir(self) -> Path:
        path = self.home / f"prom-multiproc-{self.port}"
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return path

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"API not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""

    def pids(self) -> list[int]:
        """The serving processes: the one process, or uvicorn's workers (not their supervisor)."""
        tree = process_tree(self.proc.pid)
        return tree[1:] if self.workers > 1 and len(tree) > 1 else tree[:1]

    def cpu_s(self) -> float:
        return process_tree_cpu_s(self.proc.pid)

    def rss_mb(self) -> float:
        return round(sum(rss_mb(p) for p in self.pids()), 1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def __enter__(self) -> ApiService:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
