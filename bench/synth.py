"""Synthetic catalogues shaped like the trained model: clustered movies, users drawn to clusters.

Uniform noise would flatter or punish an ANN index unrealistically, so the generator copies the
structure of a reference model (the ML-100k champion): the principal axes and spread of its movie
and user factors, its movie biases. Movies fall in clusters of Zipf-like sizes; each user leans
towards one cluster, and rates movies mostly from it, weighted by popularity (exp bias) - so the
movies a user rated are the ones the model scores high, which is what makes the seen-movie filter
of the serving query bite (pgvector's iterative scan has to walk past them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lensflow.models.embedding import EmbeddingModel, RatingHead

BETWEEN_CLUSTERS = 0.5  # share of the movie-factor variance explained by cluster centres
USER_ALIGNMENT = 0.5  # share of the user-factor variance explained by the user's favourite cluster
IN_CLUSTER_RATINGS = 0.6  # share of a user's ratings drawn from their cluster


@dataclass(frozen=True)
class SyntheticCatalog:
    name: str
    model: EmbeddingModel
    rated_users: np.ndarray  # user id of each (user, movie) rating, sorted by user then movie
    rated_movies: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.model.movie_ids)

    @property
    def n_users(self) -> int:
        return len(self.model.user_ids)


def _pca(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, principal axes (rows) and the standard deviation along each axis."""
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt, s / np.sqrt(max(len(x) - 1, 1))


def generate(
    name: str,
    *,
    n_items: int,
    n_users: int,
    reference: EmbeddingModel,
    mean_ratings: float = 20.0,
    seed: int = 0,
) -> SyntheticCatalog:
    rng = np.random.default_rng(seed)
    q_ref = reference.item_factors.astype(np.float64)
    p_ref = reference.user_factors.astype(np.float64)
    dim = q_ref.shape[1]
    q_mean, q_axes, q_std = _pca(q_ref)
    p_mean, p_axes, p_std = _pca(p_ref)

    n_clusters = max(32, n_items // 250)
    weights = rng.lognormal(0.0, 1.0, n_clusters)
    weights /= weights.sum()
    item_cluster = rng.choice(n_clusters, size=n_items, p=weights)
    centres = rng.normal(size=(n_clusters, dim)) * q_std * np.sqrt(BETWEEN_CLUSTERS)
    spread = rng.normal(size=(n_items, dim)) * q_std * np.sqrt(1 - BETWEEN_CLUSTERS)
    items = q_mean + (centres[item_cluster] + spread) @ q_axes
    bias = rng.choice(reference.item_bias.astype(np.float64), size=n_items)
    bias += rng.normal(size=n_items) * 0.1 * float(np.std(reference.item_bias))

    user_cluster = rng.choice(n_clusters, size=n_users, p=weights)
    centre_dirs = centres @ q_axes  # cluster centres in factor space, relative to the mean movie
    scale = np.sqrt(USER_ALIGNMENT * float((p_std**2).sum()) / float((centre_dirs**2).sum(axis=1).mean()))
    noise = rng.normal(size=(n_users, dim)) * p_std * np.sqrt(1 - USER_ALIGNMENT)
    users = p_mean + scale * centre_dirs[user_cluster] + noise @ p_axes

    rated_u, rated_i = _ratings(rng, item_cluster, user_cluster, bias, mean_ratings, n_clusters)
    model = EmbeddingModel(
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        movie_ids=np.arange(1, n_items + 1, dtype=np.int64),
        user_factors=users.astype(np.float32),
        item_factors=items.astype(np.float32),
        item_bias=bias.astype(np.float32),
        user_l2=reference.user_l2,
        rating=RatingHead(
            3.5,
            np.zeros(n_users, np.float32),
            np.zeros(n_items, np.float32),
            np.zeros((n_users, 1), np.float32),
            np.zeros((n_items, 1), np.float32),
        ),
        meta={"kind": "synthetic", "name": name, "clusters": n_clusters, "seed": seed},
    )
    return SyntheticCatalog(name, model, rated_u + 1, rated_i + 1)


def _ratings(
    rng: np.random.Generator,
    item_cluster: np.ndarray,
    user_cluster: np.ndarray,
    bias: np.ndarray,
    mean_ratings: float,
    n_clusters: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(user row, item row) pairs: lognormal counts per user, mostly from their cluster, by popularity."""
    n_users, n_items = len(user_cluster), len(item_cluster)
    counts = np.clip(rng.lognormal(np.log(mean_ratings) - 0.5, 1.0, n_users), 5, 500).astype(np.int64)
    own = rng.binomial(counts, IN_CLUSTER_RATINGS)
    popularity = np.exp(bias - bias.max())
    users_out = [np.repeat(np.arange(n_users), counts - own)]
    items_out = [rng.choice(n_items, size=int((counts - own).sum()), p=popularity / popularity.sum())]
    order = np.argsort(item_cluster, kind="stable")
    bounds = np.searchsorted(item_cluster[order], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        members = order[bounds[c] : bounds[c + 1]]
        fans = np.flatnonzero(user_cluster == c)
        if members.size == 0 or fans.size == 0:
            continue
        p = popularity[members] / popularity[members].sum()
        users_out.append(np.repeat(fans, own[fans]))
        items_out.append(members[rng.choice(members.size, size=int(own[fans].sum()), p=p)])
    keys = np.unique(np.concatenate(users_out) * n_items + np.concatenate(items_out))
    return keys // n_items, keys % n_items
