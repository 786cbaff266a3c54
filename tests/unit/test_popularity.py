"""The popularity baseline, alone and on the real protocol (where it checks the metric code)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lensflow.data import MovieLens
from lensflow.indexing import IdIndex, interaction_matrix
from lensflow.metrics import ranking_metrics, relevant_lists, top_k_items
from lensflow.models.popularity import PopularityRecommender
from lensflow.split import stratified_split


def test_scores_are_train_rating_counts_for_every_user() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]], dtype=np.float32))
    scores = PopularityRecommender().fit(train).score(np.array([0, 2]))
    assert scores.tolist() == [[3, 1, 1], [3, 1, 1]]


def test_score_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        PopularityRecommender().score(np.array([0]))


@pytest.mark.parametrize(("by", "low", "high"), [("user", 0.22, 0.29), ("item", 0.22, 0.29)])
def test_popularity_baseline_ndcg_about_025(movielens: MovieLens, by: str, low: float, high: float) -> None:
    """DESIGN.md: on ms-stratified-75-25-seed42 the popularity NDCG@10 is about 0.25."""
    split = stratified_split(movielens.ratings, by=by)  # type: ignore[arg-type]
    users = IdIndex.from_ids(movielens.users["user_id"])
    items = IdIndex.from_ids(movielens.movies["movie_id"])
    train = interaction_matrix(split.train, users=users, items=items)
    test = interaction_matrix(split.test, users=users, items=items)
    scores = PopularityRecommender().fit(train).score(np.arange(len(users)))
    top = top_k_items(scores, k=10, exclude=train)
    metrics = ranking_metrics(top, relevant_lists(test), n_items=len(items), k=10)
    assert low < metrics["ndcg@10"] < high
    # Popularity recommends the same few blockbusters to everyone.
    assert metrics["coverage@10"] < 0.05
