"""Every Prometheus metric of the service, defined in one place.

Labels are bounded: route templates (never raw paths), status classes, query names. Never a user
or movie id. With PROMETHEUS_MULTIPROC_DIR set (several workers), gauges aggregate across processes.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Buckets from 0.5 ms up: the service answers in about a millisecond, so the default buckets are too coarse.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

HTTP_REQUESTS = Counter(
    "lensflow_http_requests_total",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status_class"],
)
HTTP_LATENCY = Histogram(
    "lensflow_http_request_duration_seconds",
    "Time from request received to response sent, by method, route template and status class.",
    ["method", "route", "status_class"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "lensflow_http_requests_in_flight",
    "Requests being handled right now.",
    multiprocess_mode="livesum",
)
MODEL_INFERENCE = Histogram(
    "lensflow_model_inference_seconds",
    "In-process model work per request (fold-in of a new user's ratings).",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
DB_QUERY = Histogram(
    "lensflow_db_query_seconds",
    "pgvector query time including the wait for a pooled connection, by query.",
    ["query"],
    buckets=LATENCY_BUCKETS,
)
DB_ERRORS = Counter(
    "lensflow_db_errors_total",
    "Queries that failed because the database was unreachable or timed out.",
    ["query"],
)
RECOMMENDATIONS_SERVED = Counter(
    "lensflow_recommendations_served_total",
    "Movies returned to clients, by endpoint kind (user, new_user, similar).",
    ["kind"],
)
MODEL_INFO = Gauge(
    "lensflow_model_info",
    "1 for the model being served; its name, version and run id as labels.",
    ["name", "version", "run_id"],
    multiprocess_mode="max",
)
SERVING_VERSION = Gauge(
    "lensflow_serving_model_version",
    "Registry version number of the model being served (0 when none).",
    multiprocess_mode="max",
)
CHAMPION_VERSION = Gauge(
    "lensflow_registry_champion_version",
    "Version the registry's champion alias points at, as last read by the service (0 when unknown).",
    multiprocess_mode="max",
)
MODEL_LOADED_AT = Gauge(
    "lensflow_model_loaded_timestamp_seconds",
    "Unix time the serving model was loaded.",
    multiprocess_mode="max",
)
READY = Gauge(
    "lensflow_ready",
    "1 when the database answers and a model with its embeddings is loaded, else 0.",
    multiprocess_mode="min",
)
OFFLINE_METRIC = Gauge(
    "lensflow_model_offline_metric",
    "Offline evaluation metric of the serving model, as recorded in the registry.",
    ["metric"],
    multiprocess_mode="max",
)
RELOADS = Counter(
    "lensflow_model_reloads_total",
    "Model reloads, by outcome (success, failure, unchanged).",
    ["outcome"],
)


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


def render_latest() -> bytes:
    """The exposition text; aggregated over worker processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
