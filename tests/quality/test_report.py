"""The report end to end on tiny models: seeds really change the split, files land, MLflow gets them."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from lensflow.quality.report import build_report
from lensflow.settings import Settings

TINY = {
    "rating-head": {"params": {"rating_model": "mf", "rating_dim": 4, "rating_epochs": 2}},
    "softmax-mf": {"params": {"dim": 8, "epochs": 3}},
}


def test_report_over_two_seeds(tmp_path: Path, ml100k_dir: Path) -> None:
    settings = Settings(home=tmp_path / "home", mlflow_tracking_uri=None)  # type: ignore[call-arg]
    out = tmp_path / "out"
    summary = build_report(
        settings, ml100k_dir, seeds=(42, 43), out_dir=out, jobs=1, models=("softmax-mf",), best=TINY
    )
    payload = json.loads((out / "quality.json").read_text())
    runs = [r for r in payload["runs"] if r["kind"] == "softmax-mf"]
    assert sorted(r["protocol"] for r in runs) == ["ms-stratified-75-25-seed42", "ms-stratified-75-25-seed43"]
    popularity = [r["baseline"]["ndcg@10"] for r in runs]
    assert popularity[0] != popularity[1] and all(0.2 < v < 0.3 for v in popularity)  # different splits
    kinds = sorted(r["kind"] for r in payload["runs"])
    assert kinds == ["rating", "rating", "softmax-mf", "softmax-mf", "u1"]
    assert summary["rating"]["u1"]["protocol"] == "u1"
    assert summary["params"]["softmax-mf"]["dim"] == 8  # the given parameters were used
    assert "| softmax-mf |" in (out / "quality.md").read_text()
    assert "<svg" in (out / "quality.html").read_text()
    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    (run,) = client.search_runs([experiment.experiment_id], "tags.kind = 'quality-report'")
    assert {a.path for a in client.list_artifacts(run.info.run_id, "quality")} == {
        "quality/quality.md", "quality/quality.html", "quality/quality.json",
    }  # fmt: skip
    assert (
        run.data.metrics["softmax-mf/ndcg_at_10"]
        == summary["models"]["softmax-mf"]["over_seeds"]["ndcg@10"]["mean"]
    )
