"""Repeated load runs against services, aggregated by median (the machine is shared and noisy)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import loadgen
from bench.env import Postgres
from bench.service import ApiService


@dataclass(frozen=True)
class Endpoint:
    """A named service + request mix, e.g. ("exact", svc, ["/recommendations/1?k=10", ...])."""

    name: str
    service: ApiService
    paths: Sequence[str]

    def target(self) -> loadgen.Target:
        return loadgen.Target("127.0.0.1", self.service.port, self.paths)


def user_paths(user_ids: Sequence[int], k: int = 10, *, stride: int = 7919) -> list[str]:
    """Every user once, in a scrambled order (a prime stride) so consecutive requests differ."""
    n = len(user_ids)
    return [f"/recommendations/{user_ids[(i * stride) % n]}?k={k}" for i in range(n)]


def median_of(runs: Sequence[dict[str, Any]], *keys: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return round(statistics.median(values), 3) if values else None


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repetitions of the headline figures, with every repetition kept."""
    out: dict[str, Any] = {
        "repetitions": len(runs),
        "median": {
            "p50_ms": median_of(runs, "latency_ms", "p50"),
            "p95_ms": median_of(runs, "latency_ms", "p95"),
            "p99_ms": median_of(runs, "latency_ms", "p99"),
            "max_ms": median_of(runs, "latency_ms", "max"),
            "achieved_rps": median_of(runs, "achieved_rps"),
            "errors": median_of(runs, "errors"),
            "api_cpu_us_per_req": median_of(runs, "cpu", "api_us_per_req"),
            "pg_cpu_us_per_req": median_of(runs, "cpu", "pg_us_per_req"),
            "client_cpu_share": median_of(runs, "client_cpu_share"),
        },
        "total_errors": sum(int(r.get("errors", 0)) for r in runs),
        "runs": list(runs),
    }
    if any("dispatch_delay_ms" in r for r in runs):
        out["median"]["dispatch_delay_p50_ms"] = median_of(runs, "dispatch_delay_ms", "p50")
        out["median"]["p99_from_dispatch_ms"] = median_of(runs, "latency_from_dispatch_ms", "p99")
    return out


def with_cpu(
    endpoint: Endpoint, pg: Postgres, run: Callable[[loadgen.Target], loadgen.Run]
) -> dict[str, Any]:
    """One load run plus the CPU the API and Postgres spent on it, per request."""
    api0, pg0 = endpoint.service.cpu_s(), pg.cpu_s()
    result = run(endpoint.target())
    api1, pg1 = endpoint.service.cpu_s(), pg.cpu_s()
    summary = result.summary()
    n = max(summary["requests"], 1)
    summary["cpu"] = {
        "api_us_per_req": round((api1 - api0) / n * 1e6, 1),
        "pg_us_per_req": round((pg1 - pg0) / n * 1e6, 1),
        "api_cores": round((api1 - api0) / result.wall_s, 2) if result.wall_s else None,
        "pg_cores": round((pg1 - pg0) / result.wall_s, 2) if result.wall_s else None,
    }
    summary["endpoint"] = endpoint.name
    return summary


def sequential(requests: int) -> Callable[[loadgen.Target], loadgen.Run]:
    return lambda t: loadgen.run_async(lambda: loadgen.sequential(t, requests=requests))


def open_loop(rate: float, duration_s: float) -> Callable[[loadgen.Target], loadgen.Run]:
    return lambda t: loadgen.run_async(lambda: loadgen.open_loop(t, rate=rate, duration_s=duration_s))


def closed_loop(concurrency: int, duration_s: float) -> Callable[[loadgen.Target], loadgen.Run]:
    return lambda t: loadgen.run_async(
        lambda: loadgen.closed_loop(t, concurrency=concurrency, duration_s=duration_s)
    )


def interleaved(
    endpoints: Sequence[Endpoint],
    pg: Postgres,
    run: Callable[[loadgen.Target], loadgen.Run],
    repetitions: int,
) -> dict[str, dict[str, Any]]:
    """Each endpoint `repetitions` times, round-robin, so a noisy minute hits them all alike."""
    runs: dict[str, list[dict[str, Any]]] = {e.name: [] for e in endpoints}
    for _ in range(repetitions):
        for endpoint in endpoints:
            runs[endpoint.name].append(with_cpu(endpoint, pg, run))
    return {name: aggregate(r) for name, r in runs.items()}
