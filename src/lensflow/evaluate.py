"""Offline evaluation under a fixed protocol: the model and the popularity baseline, side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lensflow.indexing import IdIndex, interaction_matrix
from lensflow.metrics import (
    intra_list_diversity,
    ndcg_curve,
    novelty,
    ranking_metrics,
    relevant_lists,
    rmse,
    top_k_items,
)
from lensflow.models.embedding import EmbeddingModel
from lensflow.models.popularity import PopularityRecommender
from lensflow.split import Split

K = 10


@dataclass(frozen=True)
class Evaluation:
    protocol: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    ndcg_curve: dict[int, float] = field(default_factory=dict)
    baseline_ndcg_curve: dict[int, float] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "k": K,
            "metrics": self.metrics,
            "baseline": {"name": "popularity", **self.baseline},
            "ndcg_curve": {str(k): v for k, v in self.ndcg_curve.items()},
            "baseline_ndcg_curve": {str(k): v for k, v in self.baseline_ndcg_curve.items()},
        }


def _ranking(
    scores: np.ndarray,
    train_seen: np.ndarray,
    relevant: list[np.ndarray],
    n_items: int,
    extras: dict[str, np.ndarray],
) -> tuple[dict[str, float], dict[int, float]]:
    top = top_k_items(scores, k=20, exclude=train_seen)
    metrics = ranking_metrics(top[:, :K], relevant, n_items=n_items, k=K)
    metrics["novelty@10"] = novelty(top[:, :K], extras["popularity"])
    metrics["diversity@10"] = intra_list_diversity(top[:, :K], extras["genres"])
    return metrics, ndcg_curve(top, relevant, ks=range(1, 21))


def evaluate(
    model: EmbeddingModel,
    split: Split,
    *,
    users: IdIndex,
    items: IdIndex,
    item_genres: np.ndarray,
) -> Evaluation:
    """Top-10 over all movies minus those rated in train; any test rating is relevant."""
    train = interaction_matrix(split.train, users=users, items=items)
    test = interaction_matrix(split.test, users=users, items=items)
    seen = train.toarray() > 0
    relevant = relevant_lists(test)
    extras = {"popularity": np.asarray(train.sum(axis=0)).ravel() / len(users), "genres": item_genres}

    all_users = np.arange(len(users))
    metrics, curve = _ranking(model.score_users(all_users), seen, relevant, len(items), extras)
    u = users.positions(split.test["user_id"].to_numpy())
    i = items.positions(split.test["movie_id"].to_numpy())
    metrics["rmse"] = rmse(model.rating.predict(u, i), split.test["rating"].to_numpy(np.float64))

    popularity = PopularityRecommender().fit(train)
    baseline, base_curve = _ranking(popularity.score(all_users), seen, relevant, len(items), extras)
    return Evaluation(split.protocol, metrics, baseline, curve, base_curve)


def genre_matrix(movies: pd.DataFrame, genres: list[str], items: IdIndex) -> np.ndarray:
    """(n_items, n_genres) 0/1, rows in the index's order."""
    ordered = movies.set_index("movie_id").loc[items.ids]
    matrix = np.zeros((len(items), len(genres)), dtype=np.float32)
    column = {g: j for j, g in enumerate(genres)}
    for row, movie_genres in enumerate(ordered["genres"]):
        for g in movie_genres:
            matrix[row, column[g]] = 1.0
    return matrix
