"""Builders for Grafana dashboard JSON (schema 39): panels, targets, grid layout.

Used by grafana/dashboards.py; standard library only.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
Query = tuple[str, str]  # (PromQL, legend)

# Must match the uid in grafana/provisioning/datasources/prometheus.yml.
DATASOURCE: Json = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 39


def target(expr: str, legend: str = "", *, ref: str = "A", table: bool = False) -> Json:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not table,
        "instant": table,
        "format": "table" if table else "time_series",
    }


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"value": value, "color": color} for value, color in steps]}


def _panel(kind: str, title: str, description: str, width: int, queries: list[Query]) -> Json:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [target(expr, legend, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)],
        "_width": width,  # consumed by layout()
    }


def timeseries(
    title: str,
    description: str,
    *queries: Query,
    width: int,
    unit: str,
    threshold: float | None = None,
    stack: bool = False,
) -> Json:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 20 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "off" if threshold is None else "line+area"},
    }
    steps = [(None, "green")] + ([] if threshold is None else [(threshold, "red")])
    defaults = {
        "unit": unit,
        "min": 0,
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": thresholds(*steps),
    }
    legend = {
        "showLegend": True,
        "displayMode": "table",
        "placement": "bottom",
        "calcs": ["lastNotNull", "max"],
    }
    return _panel("timeseries", title, description, width, list(queries)) | {
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(
    title: str,
    description: str,
    *queries: Query,
    width: int,
    unit: str = "none",
    steps: Json | None = None,
    mappings: list[Json] | None = None,
    decimals: int | None = None,
) -> Json:
    defaults: Json = {
        "unit": unit,
        "color": {"mode": "thresholds"},
        "thresholds": steps or thresholds((None, "blue")),
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    return _panel("stat", title, description, width, list(queries)) | {
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": reduce, "colorMode": "background", "graphMode": "none",
                    "justifyMode": "auto", "textMode": "auto", "orientation": "auto"},
    }  # fmt: skip


def gauge(
    title: str, description: str, expr: str, *, width: int, low: float, high: float, steps: Json
) -> Json:
    defaults = {"unit": "none", "decimals": 3, "min": low, "max": high, "color": {"mode": "thresholds"},
                "thresholds": steps}  # fmt: skip
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    return _panel("gauge", title, description, width, [(expr, title)]) | {
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": reduce, "showThresholdLabels": False, "showThresholdMarkers": True},
    }


def table(
    title: str, description: str, expr: str, *, width: int, columns: list[str], hide: list[str]
) -> Json:
    """An instant query shown as one row per series, label values as columns in the given order."""
    panel = _panel("table", title, description, width, [])
    organize = {"excludeByName": dict.fromkeys(["Time", "Value", "__name__", *hide], True),
                "indexByName": {name: i for i, name in enumerate(columns)}}  # fmt: skip
    return panel | {
        "targets": [target(expr, ref="A", table=True)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [{"id": "organize", "options": organize}],
    }


def quantiles(metric: str, selector: str, by: str, legend: str, *qs: str) -> list[Query]:
    """histogram_quantile over the rate of a histogram's buckets, one query per quantile."""
    rate = f"rate({metric}_bucket{{{selector}}}[$__rate_interval])"
    return [
        (f"histogram_quantile({q}, sum by (le, {by}) ({rate}))", f"{legend} p{round(float(q) * 100)}")
        for q in qs
    ]


def layout(rows: list[tuple[int, list[Json]]]) -> list[Json]:
    """Place (height, panels) rows on Grafana's 24-column grid; ids follow reading order."""
    placed: list[Json] = []
    y = 0
    for height, row in rows:
        x = 0
        for panel in row:
            width = panel.pop("_width")
            placed.append(
                {"id": len(placed) + 1, "gridPos": {"x": x, "y": y, "w": width, "h": height}, **panel}
            )
            x += width
        if x != 24:
            raise ValueError(f"the row of {[p['title'] for p in row]} is {x} columns wide, not 24")
        y += height
    return placed


def dashboard(
    uid: str, title: str, description: str, rows: list[tuple[int, list[Json]]], variables: list[Json]
) -> Json:
    builtin_annotations = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    sibling_links = {"title": "lensflow dashboards", "type": "dashboards", "tags": ["lensflow"],
                     "asDropdown": False, "includeVars": False, "keepTime": True, "targetBlank": False,
                     "icon": "external link", "tooltip": "", "url": ""}  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["lensflow"],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser",
        "annotations": {"list": [builtin_annotations]},
        "links": [sibling_links],
        "templating": {"list": variables},
        "panels": layout(rows),
    }
