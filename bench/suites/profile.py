"""Where an API process spends its time under a steady load: a py-spy profile grouped by layer.

py-spy is a developer tool, not a lensflow dependency; without it this suite records that it was skipped.
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bench import measure
from bench.context import Context
from bench.measure import Endpoint
from bench.service import ApiService
from bench.suites.ml100k import champion_model

log = logging.getLogger("bench")
RATE_RPS = 200.0
SECONDS = 10

# (group, substrings of a frame) checked from the innermost frame outwards; the first match names the sample.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("threadpool hand-off (sync dependency run in a worker thread)", ("threading.py", "queue.py", "anyio/")),
    ("prometheus_client metrics", ("prometheus_client/",)),
    ("pydantic validation and JSON serialisation", ("pydantic", "fastapi/_compat", "encoders.py")),
    ("psycopg driver and pool (send, wait, fetch, rows)", ("psycopg/", "psycopg_pool/", "pgvector/")),
    ("lensflow code (routes, runtime, queries, middleware)", ("lensflow/",)),
    ("FastAPI/Starlette routing, dependencies, middleware", ("fastapi/", "starlette/")),
    ("uvicorn HTTP protocol (httptools parse, socket writes)", ("uvicorn/",)),
    ("event loop and socket I/O (uvloop/asyncio)", ("asyncio/", "uvloop")),
]


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def group_samples(folded: str) -> dict[str, Any]:
    groups: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaves[frames[-1]] += n
        for frame in reversed(frames):
            name = next((g for g, keys in GROUPS if any(k in frame for k in keys)), None)
            if name:
                groups[name] += n
                break
        else:
            groups["other"] += n
    return {
        "samples": total,
        "groups": [{"group": g, "share": round(c / total, 4)} for g, c in groups.most_common()]
        if total
        else [],
        "top_leaf_frames": [{"frame": f, "share": round(c / total, 4)} for f, c in leaves.most_common(15)]
        if total
        else [],
    }


def record(pid: int, seconds: int, out: Path) -> str | None:
    spy = _py_spy()
    if spy is None:
        return None
    subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        capture_output=True,
        timeout=seconds + 60,
        check=True,
    )
    return out.read_text() if out.exists() else None


def run(ctx: Context) -> None:
    if _py_spy() is None:
        ctx.write("profile", {"skipped": "py-spy is not installed (pip install py-spy)", "groups": []}, [])
        return
    champion_model(ctx)
    out = ctx.home / "profile.folded"
    with ApiService(home=ctx.home, database_url=ctx.pg.url("postgres"), name="profile") as svc:
        paths = measure.user_paths(list(range(1, 944)))
        endpoint = Endpoint("exact", svc, paths)
        measure.with_cpu(endpoint, ctx.pg, measure.sequential(300))  # warm the pool and prepared statements
        folded: dict[str, str | None] = {}
        spy = threading.Thread(target=lambda: folded.update(text=record(svc.pids()[0], SECONDS, out)))
        spy.start()
        load = measure.with_cpu(endpoint, ctx.pg, measure.open_loop(RATE_RPS, SECONDS + 2))
        spy.join()
    grouped = group_samples(folded.get("text") or "")
    payload = {
        "load": f"{RATE_RPS:g} req/s open loop on /recommendations/{{user_id}}, 1 worker, {SECONDS} s",
        "tool": "py-spy record --format raw --nonblocking --rate 200",
        **grouped,
        "cpu_per_request": load["cpu"],
        "latency_ms": load["latency_ms"],
    }
    ctx.write("profile", payload, [])
