"""`lensflow evaluate --report`: every model over the seeds -> quality.{json,md,html}, logged to MLflow."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from lensflow import registry
from lensflow.models.config import RANKING_MODELS
from lensflow.quality.params import load_best
from lensflow.quality.render import html_page, markdown, summarise
from lensflow.quality.runner import DEFAULT_SEEDS, run_all
from lensflow.settings import Settings

log = logging.getLogger(__name__)


def build_report(
    settings: Settings,
    data_dir: Path,
    *,
    seeds: tuple[int, ...] = DEFAULT_SEEDS,
    out_dir: Path,
    jobs: int = 2,
    models: tuple[str, ...] = RANKING_MODELS,
    best: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate everything, write the three files to `out_dir`, log them as a run's artifacts.

    `best` defaults to tuning/best_params.json.
    """
    best = load_best() if best is None else best
    start = time.perf_counter()
    results = run_all(data_dir, seeds=seeds, models=models, best=best, jobs=jobs)
    summary = summarise(results, seeds)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    summary["params"] = {r["kind"]: r["params"] for r in results if "params" in r and r["seed"] == seeds[0]}
    notes = [
        "Top-10 over all movies minus those the user rated in train; any test rating is relevant; "
        "seed s means stratified_split(seed=s), so each seed is a different split.",
        "Every epoch count and hyperparameter was chosen on validation splits carved from train "
        "(tuning/best_params.json); test ratings are read only to score.",
        "Anchor rows are single-split (seed 42) numbers published in Microsoft recommenders' table.",
        f"Wall time {summary['seconds']:.0f} s with {jobs} worker process(es).",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "quality.json": json.dumps({"summary": summary, "runs": results}, indent=2, default=float) + "\n",
        "quality.md": markdown(summary, notes=notes),
        "quality.html": html_page(summary, notes=notes),
    }
    for name, text in files.items():
        (out_dir / name).write_text(text)
    tags = {"kind": "quality-report", "protocol": f"ms-stratified-75-25-seeds-{seeds[0]}-{seeds[-1]}"}
    with registry.parent_run(settings, run_name="quality-report", tags=tags):
        registry.log_params({"seeds": ",".join(map(str, seeds)), "models": ",".join(models), "jobs": jobs})
        for name, model in summary["models"].items():
            means = {metric: s["mean"] for metric, s in model["over_seeds"].items()}
            registry.log_metrics(means, prefix=f"{name}/")
        if summary["rating"]["u1"] is not None:
            registry.log_metrics({"rating_head/rmse_u1": summary["rating"]["u1"]["rmse"]})
        for name in files:
            registry.log_artifact_file(out_dir / name, artifact_path="quality")
    log.info("quality report in %s (%.0f s)", out_dir, summary["seconds"])
    return summary
