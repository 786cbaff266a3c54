"""The quality report as data (mean ± std over seeds), Markdown, and one self-contained HTML page.

The HTML has no external JS or CSS: its NDCG@k plot is an inline SVG drawn here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage@10", "novelty@10", "diversity@10")
HEADERS = ("NDCG@10", "P@10", "R@10", "MAP@10", "coverage", "novelty", "ILD (genre)")
# Published rows of Microsoft recommenders' ML-100k table (protocol ms-stratified-75-25-seed42).
ANCHORS: dict[str, dict[str, float]] = {
    "BiVAE (MS table)": {"ndcg@10": 0.475, "precision@10": 0.412, "recall@10": 0.219, "map@10": 0.146},
    "BPR (MS table)": {"ndcg@10": 0.442, "precision@10": 0.388, "recall@10": 0.213, "map@10": 0.132},
    "LightGCN (MS table)": {"ndcg@10": 0.420},
    "SAR (MS table)": {"ndcg@10": 0.382},
}
RMSE_ANCHORS = {"SVD, ms-stratified seed 42 (MS table)": 0.939, "GC-MC, u1": 0.905, "GLocal-K, u1": 0.889}
TARGETS = {"ndcg@10": 0.48, "precision@10": 0.42, "recall@10": 0.225, "map@10": 0.15}
RMSE_TARGET = 0.905
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _stats(values: Sequence[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}


def summarise(results: list[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """Per model: metric mean/std over seeds, the seed-42 (first seed) row, and the mean NDCG@k curve."""
    ranking = [r for r in results if "metrics" in r]
    models: dict[str, list[dict[str, Any]]] = {}
    for r in ranking:
        models.setdefault(r["kind"], []).append(r)
    # The baseline is the same for every model of a seed; take it from the first model's runs.
    first = next(iter(models.values()))
    rows: dict[str, list[dict[str, Any]]] = {"popularity": [
        {"seed": r["seed"], "metrics": r["baseline"], "ndcg_curve": r["baseline_ndcg_curve"]} for r in first
    ], **models}  # fmt: skip
    summary: dict[str, Any] = {"seeds": list(seeds), "models": {}}
    for name, runs in rows.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        curve_keys = sorted(runs[0]["ndcg_curve"], key=int)
        summary["models"][name] = {
            "over_seeds": {m: _stats([r["metrics"][m] for r in runs]) for m in METRICS},
            "first_seed": {m: runs[0]["metrics"][m] for m in METRICS},
            "ndcg_curve": {int(k): float(np.mean([r["ndcg_curve"][k] for r in runs])) for k in curve_keys},
            "seconds": float(np.mean([r.get("seconds", 0.0) for r in runs])),
            "epochs": [r.get("epochs") for r in runs],
        }
    ratings = sorted((r for r in results if r["kind"] == "rating"), key=lambda r: r["seed"])
    u1 = next((r for r in results if r["kind"] == "u1"), None)
    summary["rating"] = {
        "over_seeds": _stats([r["rmse"] for r in ratings]) if ratings else None,
        "first_seed": ratings[0]["rmse"] if ratings else None,
        "u1": u1,
    }
    summary["targets"] = _targets(summary)
    return summary


def _targets(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target against the best model's mean over seeds (RMSE: u1, epoch chosen on validation)."""
    out: dict[str, dict[str, Any]] = {}
    candidates = {n: m for n, m in summary["models"].items() if n != "popularity"}
    for metric, goal in TARGETS.items():
        name = max(candidates, key=lambda n: candidates[n]["over_seeds"][metric]["mean"])
        value = candidates[name]["over_seeds"][metric]["mean"]
        out[metric] = {"target": goal, "value": value, "model": name, "met": value >= goal}
    u1 = summary["rating"]["u1"]
    if u1 is not None:
        out["rmse(u1)"] = {"target": RMSE_TARGET, "value": u1["rmse"], "model": "rating head",
                           "met": u1["rmse"] <= RMSE_TARGET}  # fmt: skip
    return out


def _cell(stats: dict[str, float] | float | None) -> str:
    if stats is None:
        return "–"
    if isinstance(stats, dict):
        return f"{stats['mean']:.4f} ± {stats['std']:.4f}"
    return f"{stats:.4f}"


def tables(summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table, shared by the Markdown and the HTML renderers."""
    seeds = summary["seeds"]
    over = f"ms-stratified-75-25 over seeds {seeds[0]}..{seeds[-1]} (mean ± std, n={len(seeds)})"
    single = f"ms-stratified-75-25-seed{seeds[0]} (single split)"
    out = []
    for title, key in ((over, "over_seeds"), (single, "first_seed")):
        rows = [
            [name, *(_cell(m[key][metric]) for metric in METRICS)] for name, m in summary["models"].items()
        ]
        rows += [[name, *(_cell(a.get(metric)) for metric in METRICS)] for name, a in ANCHORS.items()]
        out.append((title, ["model", *HEADERS], rows))
    rating = summary["rating"]
    u1 = rating["u1"]
    rating_rows = [
        ["lensflow rating head, ms-stratified over seeds", _cell(rating["over_seeds"])],
        ["lensflow rating head, ms-stratified seed 42", _cell(rating["first_seed"])],
        ["lensflow rating head, u1 (epoch chosen on a u1.base holdout)", _cell(u1["rmse"] if u1 else None)],
        *([name, f"{value:.3f}"] for name, value in RMSE_ANCHORS.items()),
    ]
    out.append(("Rating prediction (RMSE, lower is better)", ["model", "RMSE"], rating_rows))
    target_rows = [
        [metric, f"{t['target']:g}", f"{t['value']:.4f} ({t['model']})", "met" if t["met"] else "not met"]
        for metric, t in summary["targets"].items()
    ]
    out.append(("Targets (mean over seeds)", ["metric", "target", "best", "status"], target_rows))
    return out


def markdown(summary: dict[str, Any], *, notes: Sequence[str] = ()) -> str:
    lines = ["# lensflow model quality", ""]
    lines += [f"- {note}" for note in notes]
    for title, headers, rows in tables(summary):
        lines += ["", f"## {title}", "", "| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join(" --- " for _ in headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        "## NDCG@k, mean over seeds",
        "",
        "| model | " + " | ".join(f"@{k}" for k in (1, 5, 10, 20)) + " |",
    ]
    lines.append("| --- |" + " --- |" * 4)
    for name, m in summary["models"].items():
        lines.append(f"| {name} | " + " | ".join(f"{m['ndcg_curve'][k]:.4f}" for k in (1, 5, 10, 20)) + " |")
    return "\n".join(lines) + "\n"


def ndcg_svg(summary: dict[str, Any], *, width: int = 640, height: int = 360) -> str:
    """NDCG@k for k = 1..20 per model as an inline SVG line chart."""
    left, right, top, bottom = 56, 150, 20, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    curves = {n: m["ndcg_curve"] for n, m in summary["models"].items()}
    ks = sorted(next(iter(curves.values())))
    y_max = max(max(c.values()) for c in curves.values()) * 1.1

    def x(k: int) -> float:
        return left + (k - ks[0]) / (ks[-1] - ks[0]) * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="NDCG at k per model">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for tick in np.linspace(0, y_max, 6):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick:.2f}</text>'
        )
    for k in ks:
        if k == 1 or k % 5 == 0:
            parts.append(
                f'<text x="{x(k):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">{k}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="12" text-anchor="middle">k</text>'
    )
    mid = top + plot_h / 2
    parts.append(
        f'<text x="14" y="{mid}" font-size="12" transform="rotate(-90 14 {mid})" '
        'text-anchor="middle">NDCG@k</text>'
    )
    for n, (name, curve) in enumerate(curves.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(k):.1f},{y(curve[k]):.1f}" for k in ks)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        legend_y = top + 16 + 18 * n
        x0 = left + plot_w + 12
        parts.append(
            f'<line x1="{x0}" x2="{x0 + 20}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{left + plot_w + 36}" y="{legend_y + 4}" font-size="12">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(summary: dict[str, Any], *, notes: Sequence[str] = ()) -> str:
    body = [
        "<h1>lensflow model quality</h1>",
        "<ul>",
        *(f"<li>{html.escape(n)}</li>" for n in notes),
        "</ul>",
    ]
    for title, headers, rows in tables(summary):
        body += [f"<h2>{html.escape(title)}</h2>", "<table>"]
        body.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
        body += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
        body.append("</table>")
    body += ["<h2>NDCG@k for k = 1..20 (mean over seeds)</h2>", ndcg_svg(summary)]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px}"
        "td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>lensflow model quality</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
