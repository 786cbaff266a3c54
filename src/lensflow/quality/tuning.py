"""Optuna studies on validation splits (never a test set); every trial is a nested MLflow run.

Ranking models are scored by NDCG@10 on a holdout carved from the train part of protocol
ms-stratified-75-25-seed42; the rating head by RMSE on a holdout carved from u1.base. The best
trial's parameters are merged into tuning/best_params.json, which `lensflow train --model NAME`
and `lensflow evaluate --report` read.

    python -m lensflow.quality.tuning softmax-mf --trials 30
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from lensflow import registry
from lensflow.data import MovieLens, load_movielens, resolve_data_dir
from lensflow.indexing import IdIndex
from lensflow.models.config import TrainConfig
from lensflow.quality.params import (
    BEST_PARAMS_FILE,
    RATING_HEAD,
    SEARCH_SPACE_FILE,
    config_for,
    load_best,
    tuning_dir_file,
)
from lensflow.settings import Settings
from lensflow.split import official_split, stratified_split
from lensflow.train import train_ranking, train_rating

log = logging.getLogger(__name__)

TARGETS = ("softmax-mf", "sasrec", RATING_HEAD)


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, object]:
    """Draw one value per parameter of a search-space entry ({"type": "int"|"float"|"categorical", ...})."""
    params: dict[str, object] = {}
    for name, spec in space.items():
        kind = spec["type"]
        if kind == "int":
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step", 1))
        elif kind == "float":
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec.get("log", False))
        elif kind == "categorical":
            params[name] = trial.suggest_categorical(name, spec["choices"])
        else:
            raise ValueError(f"search space for {name}: unknown type {kind!r}")
    return params


def _objective(target: str, dataset: MovieLens, base: TrainConfig, seeds: tuple[int, ...]) -> Any:
    """score(params) -> (validation value, epochs); ranking targets average over the split seeds given."""
    users = IdIndex.from_ids(dataset.users["user_id"])
    items = IdIndex.from_ids(dataset.movies["movie_id"])
    if target == RATING_HEAD:
        u1_train = official_split(dataset.data_dir, "u1").train

        def rating_score(params: dict[str, object]) -> tuple[float, int]:
            cfg = base.with_overrides(**params)
            rating = train_rating(u1_train, users=users, items=items, cfg=cfg, refit=False)
            return rating.val_rmse, rating.epochs

        return rating_score
    trains = {s: stratified_split(dataset.ratings, ratio=0.75, seed=s).train for s in seeds}

    def ranking_score(params: dict[str, object]) -> tuple[float, int]:
        fits = [
            train_ranking(
                train, users=users, items=items, cfg=base.with_overrides(**params, seed=s), refit=False
            )
            for s, train in trains.items()
        ]
        return float(np.mean([f.val_ndcg for f in fits])), round(float(np.mean([f.epochs for f in fits])))

    return ranking_score


def tune(
    settings: Settings,
    dataset: MovieLens,
    *,
    target: str,
    trials: int,
    space_file: Path,
    best_file: Path,
    seeds: tuple[int, ...] = (42,),
    enqueue: list[dict[str, object]] | None = None,
) -> dict[str, Any]:
    """Run the study in a parent MLflow run; merge the best trial into `best_file`; return its entry.

    Ranking targets score the mean validation NDCG@10 over the holdouts of the given split seeds
    (one holdout is noisy); `enqueue` puts known candidates (e.g. the current best) first.
    """
    space = json.loads(space_file.read_text())[target]
    best = load_best(best_file)
    base = config_for("softmax-mf" if target == RATING_HEAD else target, best)
    score = _objective(target, dataset, base, seeds)
    metric = "val_rmse" if target == RATING_HEAD else "val_ndcg_at_10"
    study = optuna.create_study(
        study_name=f"lensflow-{target}",
        direction="minimize" if target == RATING_HEAD else "maximize",
        sampler=optuna.samplers.TPESampler(seed=42),
    )
    for params in enqueue or []:
        study.enqueue_trial(params)
    tags = {"kind": "tuning", "target": target, "objective": metric}
    with registry.parent_run(settings, run_name=f"tune-{target}", tags=tags) as parent_id:
        registry.log_params(
            {"target": target, "trials": trials, "seeds": seeds, "search_space": json.dumps(space)}
        )

        def objective(trial: optuna.Trial) -> float:
            params = suggest(trial, space)
            with registry.nested_run(run_name=f"trial-{trial.number}", tags={"target": target}):
                registry.log_params(params)
                start = time.perf_counter()
                value, epochs = score(params)
                registry.log_metrics(
                    {metric: value, "epochs": epochs, "seconds": time.perf_counter() - start}
                )
            trial.set_user_attr("epochs", epochs)
            return value

        study.optimize(objective, n_trials=trials)
        registry.log_metrics({f"best_{metric}": study.best_value})
    entry = {
        "params": {**best.get(target, {}).get("params", {}), **study.best_params},
        "objective": {metric: round(study.best_value, 6), "epochs": study.best_trial.user_attrs["epochs"]},
        "trials": len(study.trials),
        "mlflow_parent_run": parent_id,
        "validation": "holdout 90/10 of u1.base"
        if target == RATING_HEAD
        else "mean over holdouts 90/10 of the train parts of ms-stratified-75-25-seed"
        + ",".join(map(str, seeds)),
    }
    best = load_best(best_file)  # re-read: another study may have finished meanwhile
    best[target] = entry
    best_file.write_text(json.dumps(best, indent=2, sort_keys=True) + "\n")
    log.info("best %s: %s = %.4f with %s", target, metric, study.best_value, study.best_params)
    return entry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine may be shared)")
    parser.add_argument("--seeds", type=int, default=1, help="ranking: average validation over seeds 42..")
    parser.add_argument("--enqueue-best", action="store_true", help="try the current best params first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    settings = Settings()
    dataset = load_movielens(resolve_data_dir(settings, args.data_dir))
    best_file = tuning_dir_file(BEST_PARAMS_FILE)
    current = load_best(best_file).get(args.target, {}).get("params")
    tune(
        settings,
        dataset,
        target=args.target,
        trials=args.trials,
        space_file=tuning_dir_file(SEARCH_SPACE_FILE),
        best_file=best_file,
        seeds=tuple(range(42, 42 + args.seeds)),
        enqueue=[current] if args.enqueue_best and current else None,
    )


if __name__ == "__main__":
    main()
