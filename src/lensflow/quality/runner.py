"""The multi-seed quality run: every model and the popularity baseline on seeds 42..46 of the split.

Each (model, seed) is an independent task run in a worker process (spawned, one torch thread each),
so the report uses every core without the tasks competing for threads. Test ratings are only ever
read by `evaluate`: every epoch count and hyperparameter came from validation splits of train.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lensflow.data import MovieLens, load_movielens
from lensflow.evaluate import evaluate, genre_matrix
from lensflow.indexing import IdIndex
from lensflow.metrics import rmse
from lensflow.models.config import RANKING_MODELS
from lensflow.models.embedding import RatingHead
from lensflow.quality.params import config_for
from lensflow.split import official_split, stratified_split
from lensflow.train import RatingFit, assemble, train_ranking, train_rating

log = logging.getLogger(__name__)

DEFAULT_SEEDS = (42, 43, 44, 45, 46)
# Longest first, so the pool's workers finish together.
_TASK_ORDER = {"sasrec": 0, "u1": 1, "rating": 2, "softmax-mf": 3}


@dataclass(frozen=True)
class Task:
    kind: str  # a ranking model name, "rating" (head on the seed's split) or "u1" (head on u1)
    seed: int


@cache
def _dataset(data_dir: str) -> MovieLens:
    return load_movielens(Path(data_dir))


def _indexes(dataset: MovieLens) -> tuple[IdIndex, IdIndex]:
    return IdIndex.from_ids(dataset.users["user_id"]), IdIndex.from_ids(dataset.movies["movie_id"])


def _no_rating(n_users: int, n_items: int) -> RatingFit:
    """A constant rating head: ranking tasks are scored on ranking only (RMSE is the rating tasks' job)."""
    zeros = np.zeros((n_users, 1), dtype=np.float32), np.zeros((n_items, 1), dtype=np.float32)
    head = RatingHead(3.5, zeros[0][:, 0], zeros[1][:, 0], zeros[0], zeros[1])
    return RatingFit(head, 0, float("nan"))


def run_task(data_dir: str, task: Task, best: dict[str, Any]) -> dict[str, Any]:
    """One unit of the report; runs in a worker process."""
    torch.set_num_threads(1)
    logging.getLogger("lensflow").setLevel(logging.WARNING)
    dataset = _dataset(data_dir)
    users, items = _indexes(dataset)
    start = time.perf_counter()
    if task.kind in ("rating", "u1"):
        cfg = config_for("softmax-mf", best, seed=task.seed)
        split = (
            official_split(dataset.data_dir, "u1")
            if task.kind == "u1"
            else stratified_split(dataset.ratings, ratio=0.75, seed=task.seed)
        )
        fit = train_rating(split.train, users=users, items=items, cfg=cfg)
        u = users.positions(split.test["user_id"].to_numpy())
        i = items.positions(split.test["movie_id"].to_numpy())
        value = rmse(fit.head.predict(u, i), split.test["rating"].to_numpy(np.float64))
        return {
            "kind": task.kind,
            "seed": task.seed,
            "protocol": split.protocol,
            "rmse": value,
            "val_rmse": fit.val_rmse,
            "epochs": fit.epochs,
            "seconds": time.perf_counter() - start,
        }
    cfg = config_for(task.kind, best, seed=task.seed)
    split = stratified_split(dataset.ratings, ratio=0.75, seed=task.seed)
    ranking = train_ranking(split.train, users=users, items=items, cfg=cfg)
    model = assemble(ranking, _no_rating(len(users), len(items)), users=users, items=items, cfg=cfg)
    ev = evaluate(
        model,
        split,
        users=users,
        items=items,
        item_genres=genre_matrix(dataset.movies, dataset.genres, items),
    )
    return {
        "kind": task.kind,
        "seed": task.seed,
        "protocol": split.protocol,
        "metrics": {k: v for k, v in ev.metrics.items() if k != "rmse"},
        "ndcg_curve": ev.ndcg_curve,
        "baseline": ev.baseline,
        "baseline_ndcg_curve": ev.baseline_ndcg_curve,
        "val_ndcg_at_10": ranking.val_ndcg,
        "epochs": ranking.epochs,
        "seconds": time.perf_counter() - start,
        "params": cfg.as_params(),
    }


def run_all(
    data_dir: Path,
    *,
    seeds: tuple[int, ...] = DEFAULT_SEEDS,
    models: tuple[str, ...] = RANKING_MODELS,
    best: dict[str, Any],
    jobs: int = 2,
) -> list[dict[str, Any]]:
    """Every task's result (ranking per model and seed, rating head per seed, u1 once)."""
    tasks = [Task(m, s) for m in models for s in seeds] + [Task("rating", s) for s in seeds]
    tasks.append(Task("u1", seeds[0]))
    tasks.sort(key=lambda t: (_TASK_ORDER.get(t.kind, 9), t.seed))
    if jobs <= 1:
        return [run_task(str(data_dir), t, best) for t in tasks]
    results = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_task, str(data_dir), t, best) for t in tasks]
        for task, future in zip(tasks, futures, strict=True):
            results.append(future.result())
            log.info("done %s seed %d in %.0f s", task.kind, task.seed, results[-1]["seconds"])
    return results
