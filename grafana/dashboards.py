"""Generate grafana/dashboards/*.json: the "lensflow service" and "lensflow model" dashboards.

    python grafana/dashboards.py          # rewrite the JSON files
    python grafana/dashboards.py --check  # exit 1 if they differ from what this script makes

The JSON is committed and provisioned into Grafana as is. tests/observability checks it is up to
date, checks its structure, and evaluates every panel's query against a real Prometheus that has
scraped the real API. Most panels read the recording rules in prometheus/rules/recording.yml.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from panels import DATASOURCE, Json, gauge, quantiles, stat, table, thresholds, timeseries
from panels import dashboard as make_dashboard

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
JOB = 'job="lensflow-api"'  # the scrape job in prometheus/*.yml
ROUTE = f'{JOB}, route=~"$route"'
SERVING = (f"max(lensflow_serving_model_version{{{JOB}}})", "serving")
CHAMPION = (f"max(lensflow_registry_champion_version{{{JOB}}})", "champion")
RED_UNTIL_ONE = thresholds((None, "red"), (1, "green"))
READY_MAPPINGS = [
    {"type": "value", "options": {"0": {"text": "NOT READY", "color": "red", "index": 0},
                                  "1": {"text": "READY", "color": "green", "index": 1}}},
]  # fmt: skip
ROUTE_VARIABLE: Json = {
    "name": "route",
    "label": "route",
    "type": "query",
    "datasource": DATASOURCE,
    "query": {"query": f"label_values(lensflow_http_requests_total{{{JOB}}}, route)", "refId": "routes"},
    "definition": f"label_values(lensflow_http_requests_total{{{JOB}}}, route)",
    "refresh": 2,
    "multi": True,
    "includeAll": True,
    "allValue": ".*",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "sort": 1,
    "hide": 0,
    "options": [],
}


def service_dashboard() -> Json:
    overview = [
        stat(
            "Readiness",
            "lensflow_ready: 1 when the DB answers and a model with embeddings is loaded.",
            (f"min(lensflow_ready{{{JOB}}})", ""),
            width=4,
            steps=RED_UNTIL_ONE,
            mappings=READY_MAPPINGS,
        ),
        stat(
            "Serving model version",
            "Version being served, and the registry's champion as last read.",
            SERVING,
            CHAMPION,
            width=4,
        ),
        stat(
            "Model loaded",
            "When the serving model was loaded.",
            (f"max(lensflow_model_loaded_timestamp_seconds{{{JOB}}}) * 1000", ""),
            width=4,
            unit="dateTimeFromNow",
        ),
        stat(
            "API targets up",
            "Scrapes of the API that succeeded (up == 1).",
            (f"sum(up{{{JOB}}})", ""),
            width=4,
            steps=RED_UNTIL_ONE,
        ),
        stat(
            "Requests/s",
            "Requests per second to the served routes (not probes or scrapes), over 5m.",
            ("sum(job:lensflow_http_requests:rate5m)", ""),
            width=4,
            unit="reqps",
            decimals=2,
        ),
        stat(
            "5xx ratio",
            "Share of served requests that failed with 5xx over 5m; the alert fires above 5%.",
            ("max(job:lensflow_http_errors:ratio_rate5m)", ""),
            width=4,
            unit="percentunit",
            decimals=2,
            steps=thresholds((None, "green"), (0.01, "orange"), (0.05, "red")),
        ),
    ]
    traffic = [
        timeseries(
            "Request rate by route",
            "Requests per second by route template, over 1m.",
            (f"sum by (route) (job_route:lensflow_http_requests:rate1m{{{ROUTE}}})", "{{route}}"),
            width=12,
            unit="reqps",
        ),
        timeseries(
            "Responses by status class",
            "Requests per second by status class, over 1m.",
            (
                f"sum by (status_class) (job_route_status_class:lensflow_http_requests:rate1m{{{ROUTE}}})",
                "{{status_class}}",
            ),
            width=12,
            unit="reqps",
            stack=True,
        ),
    ]
    errors = [
        timeseries(
            "Error ratio (5xx) by route",
            "5xx / all requests over 5m, by route and over all served routes; the alert fires above 5%.",
            (f"job_route:lensflow_http_errors:ratio_rate5m{{{ROUTE}}}", "{{route}}"),
            ("job:lensflow_http_errors:ratio_rate5m", "all served routes"),
            width=12,
            unit="percentunit",
            threshold=0.05,
        ),
        timeseries(
            "Requests in flight",
            "Requests being handled right now.",
            (f"sum(lensflow_http_requests_in_flight{{{JOB}}})", "in flight"),
            width=12,
            unit="short",
        ),
    ]
    latency = [
        timeseries(
            "Latency p50 / p95 / p99 by route",
            "Response time quantiles by route over 5m, from the request duration histogram; "
            "the p99 alert fires above 250 ms.",
            *[
                (
                    f"job_route:lensflow_http_request_duration_seconds:p{q}_rate5m{{{ROUTE}}}",
                    f"{{{{route}}}} p{q}",
                )
                for q in (50, 95, 99)
            ],
            width=24,
            unit="s",
            threshold=0.25,
        ),
    ]
    internals = [
        timeseries(
            "Model inference time (fold-in)",
            "In-process model work per new-user request: folding the ratings into an embedding.",
            *quantiles(
                "lensflow_model_inference_seconds", JOB, "operation", "{{operation}}", "0.5", "0.95", "0.99"
            ),
            width=12,
            unit="s",
        ),
        timeseries(
            "DB query time by query",
            "pgvector query time including the wait for a pooled connection.",
            *quantiles("lensflow_db_query_seconds", JOB, "query", "{{query}}", "0.5", "0.95"),
            width=12,
            unit="s",
        ),
    ]
    served = [
        timeseries(
            "Recommendations served by kind",
            "Movies returned per second, by endpoint kind.",
            (
                f"sum by (kind) (rate(lensflow_recommendations_served_total{{{JOB}}}[$__rate_interval]))",
                "{{kind}}",
            ),
            width=12,
            unit="short",
        ),
        # The `or ... * 0` branch draws a flat zero for every query that ran without an error.
        timeseries(
            "Database errors by query",
            "Queries that failed: database unreachable or timed out.",
            (
                f"sum by (query) (rate(lensflow_db_errors_total{{{JOB}}}[$__rate_interval])) or "
                f"sum by (query) (rate(lensflow_db_query_seconds_count{{{JOB}}}[$__rate_interval])) * 0",
                "{{query}}",
            ),
            width=12,
            unit="reqps",
        ),
    ]
    model = [
        timeseries(
            "Serving vs champion model version",
            "Apart for more than 5 minutes: LensflowStaleModel.",
            SERVING,
            CHAMPION,
            width=12,
            unit="none",
        ),
        timeseries(
            "Readiness by instance",
            "1 ready, 0 not ready (database down or no model loaded).",
            (f"lensflow_ready{{{JOB}}}", "{{instance}}"),
            width=12,
            unit="none",
        ),
    ]
    rows = [(4, overview), (8, traffic), (8, errors), (9, latency), (8, internals), (8, served), (8, model)]
    description = "Traffic, errors, latency, model and database health of the lensflow API."
    return make_dashboard("lensflow-service", "lensflow service", description, rows, [ROUTE_VARIABLE])


def offline(metric: str) -> str:
    return f'max(lensflow_model_offline_metric{{{JOB}, metric="{metric}"}})'


def model_dashboard() -> Json:
    blue = thresholds((None, "blue"))
    # On ms-stratified-75-25-seed42 the popularity baseline scores NDCG@10 ~0.25: below it is red.
    ranking = [
        gauge(
            "NDCG@10",
            "Offline NDCG@10 of the serving model (ms-stratified-75-25-seed42).",
            offline("ndcg@10"),
            width=6,
            low=0,
            high=1,
            steps=thresholds((None, "red"), (0.25, "orange"), (0.3, "green")),
        ),
        gauge(
            "Recall@10",
            "Offline Recall@10 of the serving model.",
            offline("recall@10"),
            width=6,
            low=0,
            high=1,
            steps=blue,
        ),
        gauge(
            "RMSE",
            "Offline RMSE of the serving model on u1 (lower is better).",
            offline("rmse"),
            width=6,
            low=0.7,
            high=1.3,
            steps=thresholds((None, "green"), (0.95, "orange"), (1.05, "red")),
        ),
        gauge(
            "Coverage@10",
            "Share of the catalogue that appears in some user's top 10.",
            offline("coverage@10"),
            width=6,
            low=0,
            high=1,
            steps=blue,
        ),
    ]
    more = [
        gauge(
            "Precision@10",
            "Offline Precision@10 of the serving model.",
            offline("precision@10"),
            width=6,
            low=0,
            high=1,
            steps=blue,
        ),
        gauge(
            "MAP@10",
            "Offline MAP@10 of the serving model.",
            offline("map@10"),
            width=6,
            low=0,
            high=1,
            steps=blue,
        ),
        table(
            "Serving model",
            "lensflow_model_info: name, version and MLflow run id of the serving model.",
            f"lensflow_model_info{{{JOB}}} == 1",
            width=12,
            columns=["name", "version", "run_id", "instance"],
            hide=["job", "service"],
        ),
    ]
    history = [
        timeseries(
            "Ranking metrics over time",
            "Offline @10 metrics of whichever model was serving.",
            (f'max by (metric) (lensflow_model_offline_metric{{{JOB}, metric!="rmse"}})', "{{metric}}"),
            width=12,
            unit="none",
        ),
        timeseries(
            "RMSE over time",
            "Offline RMSE of whichever model was serving.",
            (offline("rmse"), "rmse"),
            width=12,
            unit="none",
        ),
    ]
    versions = [
        timeseries(
            "Serving vs champion model version",
            "A promotion shows as the champion line moving first.",
            SERVING,
            CHAMPION,
            width=12,
            unit="none",
        ),
        timeseries(
            "Model reloads",
            "Reloads of the champion in the service over the last hour, by outcome.",
            (f"sum by (outcome) (increase(lensflow_model_reloads_total{{{JOB}}}[1h]))", "{{outcome}}"),
            width=12,
            unit="short",
        ),
    ]
    rows = [(7, ranking), (7, more), (8, history), (8, versions)]
    description = "Offline evaluation metrics of the serving model, as recorded in the MLflow registry."
    return make_dashboard("lensflow-model", "lensflow model", description, rows, [])


DASHBOARDS: dict[str, Callable[[], Json]] = {
    "lensflow-service.json": service_dashboard,
    "lensflow-model.json": model_dashboard,
}


def render(build: Callable[[], Json]) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = DASHBOARD_DIR / name, render(build)
        if not args.check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path.name)
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python grafana/dashboards.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
