"""`python -m bench.levers --lever NAME`: a short, fixed measurement of the tree as it is now, appended to
bench/results/levers.json. Used to keep before/after numbers of each performance change.

Code levers are measured by running this before and after the change; runtime levers have options
(`--workers`, `--uvicorn-options "--loop asyncio --http h11"`). CPU per request (API and Postgres)
is the least noisy figure on a shared machine; latencies are medians of repetitions.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from datetime import UTC, datetime
from typing import Any

from bench import measure
from bench.context import ML100K_DB, Context
from bench.env import RESULTS, bench_home, machine_info, postgres
from bench.measure import Endpoint
from bench.service import ApiService
from bench.suites import pipeline

log = logging.getLogger("bench")


def measure_tree(
    ctx: Context, *, workers: int, uvicorn_options: list[str] | None, reps: int
) -> dict[str, Any]:
    svc = ApiService(
        home=ctx.home, database_url=ctx.pg.url(ML100K_DB), workers=workers, uvicorn_options=uvicorn_options
    )
    with svc:
        paths = measure.user_paths(list(range(1, 944)))
        rec = Endpoint("recommendations", svc, paths)
        health = Endpoint("healthz", svc, ["/healthz"])
        seq = measure.interleaved([health, rec], ctx.pg, measure.sequential(2000), reps)
        sat = measure.interleaved([rec], ctx.pg, measure.closed_loop(32, 6), reps)
        steady = measure.interleaved([rec], ctx.pg, measure.open_loop(800, 8), reps)
    m, s, st = (
        seq["recommendations"]["median"],
        sat["recommendations"]["median"],
        steady["recommendations"]["median"],
    )
    return {
        "healthz_p50_ms": seq["healthz"]["median"]["p50_ms"],
        "p50_ms": m["p50_ms"],
        "p99_ms": m["p99_ms"],
        "api_cpu_us_per_req": m["api_cpu_us_per_req"],
        "pg_cpu_us_per_req": m["pg_cpu_us_per_req"],
        "saturated_rps": s["achieved_rps"],
        "saturated_api_cpu_us_per_req": s["api_cpu_us_per_req"],
        "saturated_pg_cpu_us_per_req": s["pg_cpu_us_per_req"],
        "p99_at_800_ms": st["p99_ms"],
        "errors_at_800": steady["recommendations"]["total_errors"],
        "raw": {"sequential": seq, "saturation": sat, "steady_800": steady},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.levers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lever", required=True, help="what this measurement is of, e.g. 'baseline'")
    parser.add_argument("--kept", choices=["yes", "no", "n/a"], default="n/a")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--uvicorn-options", default=None, help='e.g. "--loop asyncio --http h11"')
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    home = bench_home()
    if not pipeline.has_champion(home):
        raise SystemExit("no bench home yet; run `python -m bench.run --only pipeline` first")
    with postgres(home / "pg") as pg:
        ctx = Context(home=home, pg=pg, quick=True)
        with ctx.connect() as conn:
            conn.execute("VACUUM ANALYZE")
        options = shlex.split(args.uvicorn_options) if args.uvicorn_options is not None else None
        figures = measure_tree(ctx, workers=args.workers, uvicorn_options=options, reps=args.reps)
        info = machine_info(pg)
    entry = {
        "lever": args.lever,
        "kept": args.kept,
        "workers": args.workers,
        "uvicorn_options": args.uvicorn_options,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": info["load_average"],
        "git": info["git"],
        **figures,
    }
    path = RESULTS / "levers.json"
    doc = json.loads(path.read_text()) if path.exists() else {"levers": []}
    doc["note"] = (
        "Each row: `python -m bench.levers` on the tree after that change (ML-100k, exact scan, 1 worker"
        " unless stated); medians of 3 repetitions. CPU per request is the steadiest figure on this"
        " shared machine."
    )
    doc["levers"].append(entry)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in entry.items() if k != "raw"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
