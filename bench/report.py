"""bench/results/README.md, rendered from the JSON results (never edited by hand)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_SOURCES = ("ml100k", "scale", "pipeline", "soak")
LATENCY_HEADER = [
    "run",
    "endpoint",
    "p50 ms",
    "p99 ms",
    "p99 from dispatch ms",
    "req/s",
    "errors",
    "API CPU µs/req",
    "Postgres CPU µs/req",
]
RUNS_FILE = "runs.json"


def record_run(results: Path, *, names: list[str], quick: bool, wall_s: float) -> None:
    """Append this invocation's wall time to runs.json (the 30-minute budget of `make bench`)."""
    path = results / RUNS_FILE
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append(
        {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "suites": names,
            "quick": quick,
            "wall_min": round(wall_s / 60, 2),
        }
    )
    path.write_text(json.dumps(runs[-50:], indent=2) + "\n")


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _targets(results: Path) -> list[str]:
    rows = []
    for name in TARGET_SOURCES:
        doc = _load(results, name)
        for t in (doc or {}).get("targets", []):
            verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
            measured = f"{_fmt(t['measured'])} {t['unit']}".strip() if t["measured"] is not None else "—"
            rows.append([t["figure"], t["target"], measured, verdict, t.get("note", ""), f"{name}.json"])
    return _table(["figure", "target", "measured", "verdict", "note", "source"], rows)


def _run_stamp(doc: dict[str, Any]) -> str:
    """When, on which commit and under what load a result was written (from its machine record)."""
    m = doc["machine"]
    git = m.get("git", {})
    commit = f"{git.get('commit', '?')[:7]}{' (dirty)' if git.get('dirty') else ''}"
    return f"{m['timestamp']}, commit {commit}, load {m['load_average']}"


def _reruns(results: Path) -> list[str]:
    """A suite run again minutes later (`--only ml100k --save-as ml100k_rerun`): how far figures move."""
    out: list[str] = []
    for name in TARGET_SOURCES:
        first, again = _load(results, name), _load(results, f"{name}_rerun")
        if not first or not again:
            continue
        later = {t["figure"]: t for t in again.get("targets", [])}
        rows = [
            [t["figure"], t["target"], _fmt(t["measured"]), _fmt(later.get(t["figure"], {}).get("measured"))]
            for t in first.get("targets", [])
        ]
        out += [
            f"### {name}: the same suite again ({name}_rerun.json)",
            "",
            "; ".join(f"{label} {_run_stamp(doc)}" for label, doc in (("first", first), ("again", again)))
            + ".",
            "",
            *_table(["figure", "target", "first run", "again"], rows),
        ]
    return out


def _latency_rows(section: dict[str, Any], label: str) -> list[list[Any]]:
    rows = []
    for name, agg in section.items():
        m = agg["median"]
        rows.append(
            [
                label,
                name,
                m["p50_ms"],
                m["p99_ms"],
                m.get("p99_from_dispatch_ms"),
                m["achieved_rps"],
                agg["total_errors"],
                m["api_cpu_us_per_req"],
                m["pg_cpu_us_per_req"],
            ]
        )
    return rows


def _ml100k(doc: dict[str, Any]) -> list[str]:
    out = ["## ML-100k serving (medians of repetitions)", ""]
    r = doc["ratios"]
    out += _table(
        ["floor / path", "p50 ms", "ratio to (a)+(b)"],
        [
            ["(a) HTTP floor: GET /healthz", r["floor_http_p50_ms"], None],
            ["(b) compute floor: numpy top-k, rated excluded", r["floor_compute_p50_ms"], None],
            ["(a)+(b)", r["floors_p50_ms"], 1.0],
            ["(c) /recommendations, exact scan", r["exact_p50_ms"], r["exact_ratio_to_floors"]],
            ["(d) /recommendations, HNSW", r["hnsw_p50_ms"], r["hnsw_ratio_to_floors"]],
        ],
    )
    rows = []
    for workers, part in (("1 worker", doc["one_worker"]), ("2 workers", doc["two_workers"])):
        for mode in ("sequential", "steady_800", "saturation"):
            if mode in part:
                rows += _latency_rows(part[mode], f"{workers}, {mode}")
    out += _table(LATENCY_HEADER, rows)
    rec = doc["recall"]
    out += [
        f"recall@10 of the exact scan against numpy: {rec['exact_vs_numpy']} over {rec['users']} users.",
        "",
    ]
    out += _table(
        ["HNSW ef_search", "recall@10 vs exact", "SQL p50 ms", "SQL p99 ms"],
        [
            [h["ef_search"], h["recall_at_10"], h["latency_ms"]["p50"], h["latency_ms"]["p99"]]
            for h in rec["hnsw"]
        ],
    )
    agg = doc["two_workers"].get("metrics_aggregate")
    if agg:
        out += [
            f"Two workers with PROMETHEUS_MULTIPROC_DIR: /metrics counted {agg['counted_by_metrics']:.0f}"
            f" /recommendations requests for at least {agg['requests_sent_at_least']} sent.",
            "",
        ]
    return out


def _scale(doc: dict[str, Any]) -> list[str]:
    out = ["## Synthetic catalogues", ""]
    rows = []
    for c in doc["catalogs"]:
        rows.append(
            [
                c["name"],
                c["n_items"],
                c["n_users"],
                c["ingestion"]["vectors"],
                c["ingestion"]["seconds"],
                c["ingestion"]["vectors_per_s"],
                c["hnsw_build_s"],
                c.get("hnsw_build_scope", ""),
            ]
        )
    out += _table(
        ["catalogue", "movies", "users", "vectors", "ingest s", "vectors/s", "HNSW build s", "build scope"],
        rows,
    )
    ing = doc["ml100k_ingestion"]
    out += [
        f"ML-100k embeddings ({ing['vectors']} vectors) through the same loader: {ing['seconds']} s"
        f" (median of {len(ing['runs'])}).",
        "",
    ]
    rows = []
    for c in doc["catalogs"]:
        rows.append(
            [
                "exact scan",
                c["name"],
                None,
                c["sql"]["exact"]["latency_ms"].get("p50"),
                c["sql"]["exact"]["latency_ms"].get("p99"),
                1.0,
            ]
        )
        for h in c["sql"]["hnsw"]:
            rows.append(
                [
                    "HNSW",
                    c["name"],
                    h["ef_search"],
                    h["latency_ms"].get("p50"),
                    h["latency_ms"].get("p99"),
                    h["recall_at_10"],
                ]
            )
    out += _table(
        ["SQL (service statement)", "catalogue", "ef_search", "p50 ms", "p99 ms", "recall@10 vs exact"], rows
    )
    for c in doc["catalogs"]:
        http = c.get("http")
        if http:
            out += [f"### {c['name']} over HTTP (HNSW, ef_search {http.get('ef_search', 40)})", ""]
            rows = []
            for mode in ("sequential", "saturation"):
                rows += _latency_rows(http[mode], mode)
            out += _table(LATENCY_HEADER, rows)
    return out


def _pipeline(doc: dict[str, Any]) -> list[str]:
    rows = [[stage, seconds] for stage, seconds in doc["timings_s"].items()]
    rows += [["sum of stages", doc["stages_sum_s"]], ["wall (process)", doc["wall_s"]]]
    return [
        "## Pipeline (`lensflow pipeline --json`, fresh home)",
        "",
        *_table(["stage", "seconds"], rows),
        f"Peak RSS {doc['peak_rss_mb']} MB; CPU {doc['cpu_s']} s ({doc['cpu_share_of_wall']} of wall).",
        "",
    ]


def _soak(doc: dict[str, Any]) -> list[str]:
    rows = [
        [w["window"] + 1, w["requests"], w["errors"], w["latency_ms"].get("p50"), w["latency_ms"].get("p99")]
        for w in doc["per_minute"]
    ]
    return [
        f"## Soak: {doc['duration_s'] / 60:.0f} min at {doc['rate_rps']:g} req/s",
        "",
        f"Errors {doc['errors']}; API RSS {doc['rss_mb']['start']} MB -> {doc['rss_mb']['end']} MB"
        f" ({doc['rss_mb']['growth_pct']:+.1f}%).",
        "",
        *_table(["minute", "requests", "errors", "p50 ms", "p99 ms"], rows),
    ]


def _profile(doc: dict[str, Any]) -> list[str]:
    out = [f"## Where the time goes (py-spy, {doc['load']})", ""]
    out += _table(
        ["share of API samples", "frames"], [[f"{g['share']:.1%}", g["group"]] for g in doc["groups"]]
    )
    return out


def _variant_table(variants: dict[str, dict[str, float]]) -> list[str]:
    """One SQL statement variant per row, as `bench.sqllevers` times them."""
    return _table(
        ["variant", "p50 ms", "client CPU µs/query", "Postgres backend CPU µs/query"],
        [[name, v["p50_ms"], v["client_cpu_us"], v["backend_cpu_us"]] for name, v in variants.items()],
    )


def _levers(results: Path) -> list[str]:
    doc = _load(results, "levers")
    if not doc:
        return []
    out = ["## Performance levers, one at a time", "", doc.get("note", ""), ""]
    rows = [
        [
            lv["lever"],
            lv["kept"],
            lv.get("p50_ms"),
            lv.get("p99_ms"),
            lv.get("api_cpu_us_per_req"),
            lv.get("pg_cpu_us_per_req"),
            lv.get("saturated_rps"),
            lv.get("p99_at_800_ms"),
            lv["load_average"][0],
        ]
        for lv in doc["levers"]
    ]
    out += _table(
        [
            "lever",
            "kept",
            "unloaded p50 ms",
            "p99 ms",
            "API CPU µs/req",
            "Postgres CPU µs/req",
            "saturated req/s",
            "p99 at 800 req/s ms",
            "load avg",
        ],
        rows,
    )
    sql = _load(results, "sql_levers")
    if sql:
        vacuumed = {True: "vacuumed", False: "not yet vacuumed"}.get(sql.get("served_ratings_vacuumed"), "")
        out += [
            f"Statement levers, `python -m bench.sqllevers`, statement: {sql['statement']}; the served"
            f" `ratings` {vacuumed or 'in an unrecorded state'}. Filter shapes other than the served one"
            " return the same answers (checked); the no-filter row is a floor, not a candidate.",
            "",
        ]
        out += _variant_table(sql["variants"])
    return out


def _before_after(results: Path) -> list[str]:
    """`--only ml100k --quick` on the tree before issue 6 and after it, side by side."""
    before, after = _load(results, "perf_before_quick"), _load(results, "perf_after_quick")
    if not before or not after:
        return []
    rows = []
    for label, path in (
        ("unloaded p50 ms", ("one_worker", "sequential", "exact", "median", "p50_ms")),
        ("unloaded p99 ms", ("one_worker", "sequential", "exact", "median", "p99_ms")),
        ("API CPU µs/req (unloaded)", ("one_worker", "sequential", "exact", "median", "api_cpu_us_per_req")),
        (
            "Postgres CPU µs/req (unloaded)",
            ("one_worker", "sequential", "exact", "median", "pg_cpu_us_per_req"),
        ),
        ("p99 at 800 req/s ms", ("one_worker", "steady_800", "exact", "median", "p99_ms")),
        ("saturated req/s", ("one_worker", "saturation", "exact", "median", "achieved_rps")),
        ("HNSW set: unloaded p50 ms", ("one_worker", "sequential", "hnsw", "median", "p50_ms")),
        ("HNSW set: saturated req/s", ("one_worker", "saturation", "hnsw", "median", "achieved_rps")),
    ):
        values = []
        for doc in (before, after):
            value: Any = doc
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        rows.append([label, *values])
    rows.append(
        [
            "load average (1 min) when written",
            before["machine"]["load_average"][0],
            after["machine"]["load_average"][0],
        ]
    )
    return [
        "## Before and after (ML-100k, exact scan, 1 worker, `--only ml100k --quick`)",
        "",
        *_table(["figure", "before (perf_before_quick.json)", "after (perf_after_quick.json)"], rows),
    ]


def _ingestion_levers(results: Path) -> list[str]:
    doc = _load(results, "ingest_before_after")
    if not doc:
        return []
    rows = [
        [side, doc[side]["code"], ", ".join(_fmt(m) for m in doc[side]["medians_s"])]
        for side in ("before", "after")
    ]
    steps = doc.get("breakdown_before_s", {})
    return [
        "## Embedding ingestion, before and after (ingest_before_after.json)",
        "",
        doc["what"] + ".",
        "",
        *_table(["", "loader", "median s per run"], rows),
        "Where a load went before: "
        + ", ".join(f"{k.replace('_', ' ')} {v} s" for k, v in steps.items() if k != "note")
        + f". WAL per load: {doc.get('wal_mb_per_load')} MB.",
        "",
    ]


def render(results: Path) -> Path:
    runs = json.loads((results / RUNS_FILE).read_text()) if (results / RUNS_FILE).exists() else []
    full = [r for r in runs if not r["quick"] and len(r["suites"]) == 5]
    lines = [
        "# lensflow benchmarks",
        "",
        "Rendered by `python -m bench.run` from the JSON files beside this one;"
        " `make bench` runs everything.",
        "Every figure is a median over repetitions on a shared 2-core machine with the load generator",
        "on the same machine; each JSON file records the machine, versions and time of its run.",
        "",
    ]
    if full:
        lines += [f"Last full `make bench`: {full[-1]['wall_min']} min ({full[-1]['at']}).", ""]
    lines += [
        "How to read: latencies are in ms; open-loop runs (steady rates, soak) measure from each request's",
        "due time, so queueing behind a slow answer counts (no coordinated omission); *p99 from dispatch*",
        "leaves out the load generator's own pacing lateness. CPU µs/req is read from /proc for the API",
        "process(es) and for all Postgres processes; on a shared machine it is steadier than latency.",
        "",
    ]
    lines += ["## Targets of issue 6", "", *_targets(results), *_reruns(results)]
    loads = []
    for name in (*TARGET_SOURCES, "profile"):
        doc = _load(results, name)
        if doc:
            loads.append(f"{name} {doc['machine']['timestamp']} (load {doc['machine']['load_average']})")
    if loads:
        lines += ["Written: " + "; ".join(loads) + ".", ""]
    for name, section in (
        ("pipeline", _pipeline),
        ("ml100k", _ml100k),
        ("scale", _scale),
        ("soak", _soak),
        ("profile", _profile),
    ):
        doc = _load(results, name)
        if doc:
            lines += section(doc)
    lines += _before_after(results)
    lines += _ingestion_levers(results)
    lines += _levers(results)
    path = results / "README.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
