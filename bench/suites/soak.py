"""Soak: `lensflow serve` (1 worker, ML-100k, exact scan) at half its saturated rate for 10 minutes.

Reports errors (must be 0), latency per minute (drift) and the API process's RSS at start and end
(growth within 10%). The rate is half the saturation measured by the ml100k suite in this run, or in
bench/results/ml100k.json when the suite runs alone.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from bench import loadgen, measure
from bench.context import ML100K_DB, Context, Target, at_most
from bench.measure import Endpoint
from bench.service import ApiService

log = logging.getLogger("bench")
DURATION_S = 600
QUICK_DURATION_S = 60
FALLBACK_RATE = 200.0


def _saturation(ctx: Context) -> tuple[float, str]:
    if "ml100k_saturation_1w_rps" in ctx.shared:
        return float(ctx.shared["ml100k_saturation_1w_rps"]), "ml100k suite, this run"
    path = ctx.results_dir / "ml100k.json"
    if path.exists():
        doc = json.loads(path.read_text())
        rps = doc["one_worker"]["saturation"]["exact"]["median"]["achieved_rps"]
        if rps:
            return float(rps), f"ml100k.json of {doc['machine']['timestamp']}"
    return 2 * FALLBACK_RATE, "no saturation figure; fallback"


def run(ctx: Context) -> None:
    saturation, source = _saturation(ctx)
    rate = round(saturation / 2)
    duration = QUICK_DURATION_S if ctx.quick else DURATION_S
    log.info("soak: %d req/s for %d s (half of %.0f req/s from %s)", rate, duration, saturation, source)
    rss: list[dict[str, float]] = []
    with ApiService(home=ctx.home, database_url=ctx.pg.url(ML100K_DB), name="soak") as svc:
        endpoint = Endpoint("exact", svc, measure.user_paths(list(range(1, 944))))
        measure.with_cpu(endpoint, ctx.pg, measure.sequential(500))  # warm-up: pool, prepared plans
        start_rss = svc.rss_mb()
        stop = threading.Event()

        def sample_rss() -> None:
            elapsed = 0
            while not stop.wait(30):
                elapsed += 30
                rss.append({"t_s": elapsed, "mb": svc.rss_mb()})

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        target = endpoint.target()
        api0, pg0 = svc.cpu_s(), ctx.pg.cpu_s()
        result = loadgen.run_async(lambda: loadgen.open_loop(target, rate=rate, duration_s=duration))
        api1, pg1 = svc.cpu_s(), ctx.pg.cpu_s()
        stop.set()
        sampler.join()
        end_rss = svc.rss_mb()
    summary = result.summary()
    growth = (end_rss - start_rss) / start_rss * 100 if start_rss else 0.0
    per_minute = result.per_window(60.0)
    p99s = [w["latency_ms"].get("p99") for w in per_minute if w["latency_ms"]]
    payload: dict[str, Any] = {
        "rate_rps": rate,
        "rate_source": f"half of {saturation:.0f} req/s ({source})",
        "duration_s": duration,
        "errors": summary["errors"],
        "statuses": summary["statuses"],
        "summary": summary,
        "per_minute": per_minute,
        "p99_drift_ms": round(max(p99s) - min(p99s), 3) if p99s else None,
        "rss_mb": {"start": start_rss, "end": end_rss, "growth_pct": round(growth, 2), "samples": rss},
        "cpu": {
            "api_us_per_req": round((api1 - api0) / max(summary["requests"], 1) * 1e6, 1),
            "pg_us_per_req": round((pg1 - pg0) / max(summary["requests"], 1) * 1e6, 1),
        },
    }
    ctx.write("soak", payload, targets(payload))


def targets(payload: dict[str, Any]) -> list[Target]:
    return [
        at_most(
            "soak errors",
            0,
            payload["errors"],
            "",
            f"{payload['duration_s'] / 60:g} min at {payload['rate_rps']} req/s",
        ),
        at_most("soak API RSS growth", 10.0, payload["rss_mb"]["growth_pct"], "%", "start to end"),
    ]
