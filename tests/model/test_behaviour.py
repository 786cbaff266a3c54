"""Behavioural tests of every model (small epochs): determinism, direction, exact serving, fold-in.

tests/model/test_model.py covers the served champion (pgvector equals the model, seen movies
excluded by the store, fold-in near the trained vector); this file covers the trainers themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lensflow.data import MovieLens, load_movielens
from lensflow.indexing import IdIndex
from lensflow.metrics import rmse, top_k_items
from lensflow.models.config import TrainConfig
from lensflow.models.popularity import PopularityRecommender
from lensflow.models.rating import _AutoRec
from lensflow.models.sasrec import SasRec, user_sequences, user_states
from lensflow.split import official_split, stratified_split
from lensflow.train import train_model, train_ranking, train_rating

MF = TrainConfig(dim=32, user_weight_alpha=0.3, rating_dim=50, rating_epochs=60, rating_lr=0.01)
SEQ = MF.with_overrides(model="sasrec", **{"sasrec.epochs": 3, "sasrec.layers": 1, "sasrec.eval_every": 1})


@pytest.fixture(scope="module")
def dataset(ml100k_dir: Path) -> MovieLens:
    return load_movielens(ml100k_dir)


@pytest.fixture(scope="module")
def indexes(dataset: MovieLens) -> tuple[IdIndex, IdIndex]:
    return IdIndex.from_ids(dataset.users["user_id"]), IdIndex.from_ids(dataset.movies["movie_id"])


@pytest.fixture(scope="module")
def train(dataset: MovieLens) -> pd.DataFrame:
    return stratified_split(dataset.ratings).train


@pytest.fixture(scope="module")
def mf_model(train: pd.DataFrame, indexes: tuple[IdIndex, IdIndex]):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    return train_model(train, users=indexes[0], items=indexes[1], cfg=MF).model


def _genre_user(dataset: MovieLens, genre: str, n: int = 20) -> np.ndarray:
    """A user who watches nothing but one genre: every other film of its 2n most rated ones.

    Skipping every other film leaves well-known films of the genre to recommend; taking the n most
    rated would leave only obscure ones, and both lists would rightly hold none of them.
    """
    movies = dataset.movies[dataset.movies["genres"].apply(lambda g: genre in g)]["movie_id"]
    counts = dataset.ratings[dataset.ratings["movie_id"].isin(movies)]["movie_id"].value_counts()
    return counts.index[: 2 * n : 2].to_numpy()


def _share_of_genre(dataset: MovieLens, movie_ids: np.ndarray, genre: str) -> float:
    genres = dataset.movies.set_index("movie_id").loc[movie_ids, "genres"]
    return float(np.mean([genre in g for g in genres]))


def _popularity_top(train: pd.DataFrame, items: IdIndex, seen: np.ndarray, k: int = 10) -> np.ndarray:
    counts = PopularityRecommender().fit(
        __import__("lensflow.indexing", fromlist=["interaction_matrix"]).interaction_matrix(
            train, users=IdIndex.from_ids(train["user_id"]), items=items
        )
    )
    scores = counts.score(np.array([0]))
    return items.ids[top_k_items(scores, k=k, exclude=[seen])[0]]


@pytest.mark.parametrize("genre", ["Horror", "Children's"])
def test_one_genre_fan_gets_more_of_that_genre_than_popularity(
    mf_model, dataset: MovieLens, indexes: tuple[IdIndex, IdIndex], train: pd.DataFrame, genre: str
) -> None:  # type: ignore[no-untyped-def]
    rated = _genre_user(dataset, genre)
    seen = indexes[1].positions(rated)
    scores = mf_model.score_vector(mf_model.fold_in(seen))[None, :]
    recommended = indexes[1].ids[top_k_items(scores, k=10, exclude=[seen])[0]]
    assert not set(recommended) & set(rated), "a rated movie was recommended"
    model_share = _share_of_genre(dataset, recommended, genre)
    popular_share = _share_of_genre(dataset, _popularity_top(train, indexes[1], seen), genre)
    assert model_share >= popular_share + 0.3, (genre, model_share, popular_share)


def test_fold_in_is_the_optimum_of_the_user_weighted_objective(mf_model, train: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    assert mf_model.meta["user_weight_alpha"] == pytest.approx(0.3)
    items = np.searchsorted(mf_model.movie_ids, train.loc[train.user_id == 7, "movie_id"].to_numpy())
    p = mf_model.fold_in(items)[:-1].astype(np.float64)
    q, b = mf_model.item_factors.astype(np.float64), mf_model.item_bias.astype(np.float64)
    logits = q @ p + b
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    c = mf_model.user_weight(len(items))
    gradient = c * (len(items) * probs @ q - q[items].sum(0)) + 2 * mf_model.user_l2 * p
    assert np.abs(gradient).max() < 1e-3
    assert 0.1 < c < 10 and c != pytest.approx(1.0)  # the weight is really applied


def test_sasrec_is_seeded_and_learns(train: pd.DataFrame, indexes: tuple[IdIndex, IdIndex]) -> None:
    torch.set_num_threads(1)
    users, items = indexes
    first = train_ranking(train, users=users, items=items, cfg=SEQ)
    again = train_ranking(train, users=users, items=items, cfg=SEQ)
    np.testing.assert_array_equal(first.user_factors, again.user_factors)
    np.testing.assert_array_equal(first.item_factors, again.item_factors)
    assert first.meta["kind"] == "sasrec" and first.user_factors.shape == (len(users), SEQ.dim)
    # Better than chance on the holdout already after 3 epochs (chance NDCG@10 is about 0.01).
    assert first.val_ndcg > 0.05


def test_sasrec_state_ignores_padding_and_order_matters(
    train: pd.DataFrame, indexes: tuple[IdIndex, IdIndex]
) -> None:
    torch.manual_seed(0)
    model = SasRec(len(indexes[1]), 16, SEQ.sasrec)
    seqs = user_sequences(train, users=indexes[0], items=indexes[1])
    together = user_states(model, seqs[:40])  # one padded batch of unequal lengths
    alone = np.vstack([user_states(model, [s]) for s in seqs[:40]])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    reversed_state = user_states(model, [seqs[0][::-1].copy()])
    assert not np.allclose(reversed_state, alone[:1], atol=1e-4)  # a sequence model, not a bag of items
    times = train[train.user_id == indexes[0].ids[0]].sort_values("timestamp")
    assert set(indexes[1].ids[seqs[0]]) == set(times.movie_id) and times.timestamp.is_monotonic_increasing


def test_autorec_head_is_exactly_the_network(indexes: tuple[IdIndex, IdIndex]) -> None:
    torch.manual_seed(0)
    ratings = torch.zeros(len(indexes[1]), len(indexes[0]))
    ratings[torch.randint(0, len(indexes[1]), (500,)), torch.randint(0, len(indexes[0]), (500,))] = 4.0
    net = _AutoRec(ratings, hidden=12)
    with torch.no_grad():
        full = net().numpy()  # (items, users)
    head = net.head()
    u, i = np.arange(len(indexes[0])), np.arange(len(indexes[0])) % len(indexes[1])
    np.testing.assert_allclose(head.predict(u, i), np.clip(full[i, u], 1, 5), atol=1e-4)


def test_rating_head_beats_the_global_mean_on_u1(ml100k_dir: Path, indexes: tuple[IdIndex, IdIndex]) -> None:
    torch.set_num_threads(1)
    split = official_split(ml100k_dir, "u1")
    fit = train_rating(split.train, users=indexes[0], items=indexes[1], cfg=MF)
    u = indexes[0].positions(split.test["user_id"].to_numpy())
    i = indexes[1].positions(split.test["movie_id"].to_numpy())
    actual = split.test["rating"].to_numpy(np.float64)
    model_rmse = rmse(fit.head.predict(u, i), actual)
    mean_rmse = rmse(np.full(len(actual), split.train["rating"].mean()), actual)
    assert model_rmse < mean_rmse - 0.05, (model_rmse, mean_rmse)
    again = train_rating(split.train, users=indexes[0], items=indexes[1], cfg=MF)
    np.testing.assert_array_equal(fit.head.predict(u, i), again.head.predict(u, i))
