"""An Optuna study on a real MLflow store: a parent run, a nested run per trial, best params saved."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import optuna
import pytest

from lensflow.data import load_movielens
from lensflow.quality.tuning import suggest, tune
from lensflow.settings import Settings

SPACE = {
    "softmax-mf": {
        "dim": {"type": "int", "low": 4, "high": 8, "step": 4},
        "epochs": {"type": "int", "low": 2, "high": 3},
        "user_weight_alpha": {"type": "float", "low": 0.0, "high": 1.0},
        "validation_ratio": {"type": "categorical", "choices": [0.9]},
    }
}


def test_suggest_draws_typed_values_inside_the_space() -> None:
    trial = optuna.trial.FixedTrial(
        {"dim": 8, "epochs": 3, "user_weight_alpha": 0.5, "validation_ratio": 0.9}
    )
    assert suggest(trial, SPACE["softmax-mf"]) == {
        "dim": 8, "epochs": 3, "user_weight_alpha": 0.5, "validation_ratio": 0.9,
    }  # fmt: skip


def test_study_logs_nested_trials_and_saves_the_best(tmp_path: Path, ml100k_dir: Path) -> None:
    settings = Settings(home=tmp_path / "home", mlflow_tracking_uri=None)  # type: ignore[call-arg]
    space_file, best_file = tmp_path / "space.json", tmp_path / "best.json"
    space_file.write_text(json.dumps(SPACE))
    best_file.write_text(json.dumps({"rating-head": {"params": {"rating_model": "mf"}}}))
    entry = tune(
        settings, load_movielens(ml100k_dir), target="softmax-mf", trials=2, space_file=space_file,
        best_file=best_file,
    )  # fmt: skip
    saved = json.loads(best_file.read_text())
    assert saved["softmax-mf"] == entry and saved["rating-head"]["params"] == {"rating_model": "mf"}
    assert set(entry["params"]) == set(SPACE["softmax-mf"]) and entry["trials"] == 2
    assert 0.0 < entry["objective"]["val_ndcg_at_10"] < 1.0
    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    runs = client.search_runs([experiment.experiment_id])
    parent = [r for r in runs if r.info.run_id == entry["mlflow_parent_run"]]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == entry["mlflow_parent_run"]]
    assert len(parent) == 1 and len(children) == 2
    best_child = max(children, key=lambda r: r.data.metrics["val_ndcg_at_10"])
    assert best_child.data.metrics["val_ndcg_at_10"] == pytest.approx(
        entry["objective"]["val_ndcg_at_10"], abs=1e-6
    )
    assert int(best_child.data.params["dim"]) == entry["params"]["dim"]
