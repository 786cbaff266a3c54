"""Offline top-k metrics, vectorised over users.

Ranking semantics follow Microsoft `recommenders` (python_evaluation): binary relevance (any test
rating is relevant), only users with at least one relevant item are averaged, and MAP divides by
the number of relevant items, so published benchmark numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp

# Marks a slot of a top-k row that could not be filled because too few items were allowed.
NO_ITEM = -1

Exclusion: TypeAlias = sp.spmatrix | sp.sparray | np.ndarray | Sequence[np.ndarray] | None


def top_k_items(scores: np.ndarray, *, k: int, exclude: Exclusion = None) -> np.ndarray:
    """The k best item indices per row of `scores` (n_users, n_items), best first.

    `exclude` (a sparse matrix whose stored entries are excluded, a boolean mask of the same shape,
    or one index array per user) never appears. Equal scores rank the lower item index first, so
    results do not depend on the partition's internal order. Items scored -inf are never
    recommended; rows with fewer than k allowed items are padded with NO_ITEM (-1).
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    n_users, n_items = scores.shape
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be in 1..{n_items} (the number of items), got {k}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; the model produced an invalid score")
    # Negated so that ascending order is best first; +inf marks excluded items.
    cost = -np.asarray(scores, dtype=np.float64)
    cost[_exclusion_mask(exclude, n_users, n_items)] = np.inf
    rows = np.arange(n_users)[:, None]
    kth_cost = np.partition(cost, k - 1, axis=1)[:, k - 1 : k]
    better = cost < kth_cost
    tied = cost == kth_cost
    # Among items tied with the k-th best, the lowest indices fill the remaining slots.
    slots_left = k - better.sum(axis=1, keepdims=True)
    chosen = better | (tied & (np.cumsum(tied, axis=1) <= slots_left))
    chosen_items = np.nonzero(chosen)[1].reshape(n_users, k)  # ascending item index per row
    order = np.argsort(cost[rows, chosen_items], axis=1, kind="stable")
    top = chosen_items[rows, order]
    top[np.isposinf(cost[rows, top])] = NO_ITEM
    return top


def _exclusion_mask(exclude: Exclusion, n_users: int, n_items: int) -> np.ndarray:
    mask = np.zeros((n_users, n_items), dtype=bool)
    if exclude is None:
        return mask
    if isinstance(exclude, sp.spmatrix | sp.sparray):
        if exclude.shape != (n_users, n_items):
            raise ValueError(f"exclude has shape {exclude.shape}, scores have {(n_users, n_items)}")
        coo = sp.coo_matrix(exclude)
        mask[coo.row, coo.col] = True
        return mask
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.shape != (n_users, n_items):
            raise ValueError(f"exclude has shape {exclude.shape}, scores have {(n_users, n_items)}")
        return exclude.copy()
    if len(exclude) != n_users:
        raise ValueError(f"exclude lists {len(exclude)} users, scores have {n_users}")
    rows, cols = _flatten(list(exclude))
    mask[rows, cols] = True
    return mask


def _flatten(per_user: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(items) for items in per_user), dtype=np.int64, count=len(per_user))
    rows = np.repeat(np.arange(len(per_user)), lengths)
    cols = [np.asarray(items, dtype=np.int64) for items in per_user]
    return rows, np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)


def relevant_lists(matrix: sp.csr_matrix | sp.csr_array) -> list[np.ndarray]:
    """One array of item indices per row of a users x items test matrix (its stored entries)."""
    csr = sp.csr_matrix(matrix)
    return np.split(csr.indices.astype(np.int64), csr.indptr[1:-1])


def _hits(top_k: np.ndarray, relevant: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(hits, n_relevant) for users with >= 1 relevant item: hits[u, r] is True if rank r+1 is relevant."""
    if top_k.ndim != 2 or len(relevant) != top_k.shape[0]:
        raise ValueError(f"top_k has shape {top_k.shape} but relevant lists {len(relevant)} users")
    rows, cols = _flatten(relevant)
    if cols.size and cols.min() < 0:
        raise ValueError("relevant item indices must be >= 0")
    # One integer key per (user, item) pair turns membership into a sorted-array lookup.
    key_width = 1 + max(int(top_k.max(initial=0)), int(cols.max(initial=0)))
    relevant_keys = np.unique(rows * key_width + cols)
    n_relevant = np.bincount(relevant_keys // key_width, minlength=len(relevant))
    keys = np.arange(top_k.shape[0])[:, None] * key_width + top_k
    hits = np.isin(keys, relevant_keys) & (top_k != NO_ITEM)
    users = n_relevant > 0
    if not users.any():
        raise ValueError("no user has a relevant item; ranking metrics are undefined")
    return hits[users], n_relevant[users]


def _ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return float(np.mean(dcg / ideal))


def ranking_metrics(
    top_k: np.ndarray, relevant: Sequence[np.ndarray], *, n_items: int, k: int = 10
) -> dict[str, float]:
    """NDCG, precision, recall, MAP and catalogue coverage at k; see the module docstring."""
    if top_k.shape[1] < k:
        raise ValueError(f"top_k holds {top_k.shape[1]} items per user, fewer than k={k}")
    hits, n_relevant = _hits(top_k[:, :k], relevant)
    hit_counts = hits.sum(axis=1)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    recommended = top_k[:, :k]
    return {
        f"ndcg@{k}": _ndcg(hits, n_relevant, k),
        f"precision@{k}": float(np.mean(hit_counts / k)),
        f"recall@{k}": float(np.mean(hit_counts / n_relevant)),
        f"map@{k}": float(np.mean((precision_at_rank * hits).sum(axis=1) / n_relevant)),
        f"coverage@{k}": np.unique(recommended[recommended != NO_ITEM]).size / n_items,
    }


def ndcg_curve(
    top_k: np.ndarray, relevant: Sequence[np.ndarray], ks: Iterable[int] = range(1, 21)
) -> dict[int, float]:
    """NDCG@k for each k in `ks` (each k at most top_k's width)."""
    ks = list(ks)
    if not ks or min(ks) < 1 or max(ks) > top_k.shape[1]:
        raise ValueError(f"every k must be in 1..{top_k.shape[1]}, got {ks}")
    hits, n_relevant = _hits(top_k, relevant)
    return {k: _ndcg(hits, n_relevant, k) for k in ks}


def novelty(top_k: np.ndarray, item_popularity: np.ndarray) -> float:
    """Mean self-information -log2(p) of recommended items, p = fraction of users who rated the item.

    Items nobody rated (p = 0) have unbounded self-information and are left out of the mean.
    """
    recommended = top_k[top_k != NO_ITEM]
    popularity = np.asarray(item_popularity, dtype=np.float64)[recommended]
    if np.any((popularity < 0) | (popularity > 1)):
        raise ValueError("item_popularity must be fractions in 0..1")
    rated = popularity[popularity > 0]
    if rated.size == 0:
        raise ValueError("no recommended item has a positive popularity; novelty is undefined")
    return float(np.mean(-np.log2(rated)))


def intra_list_diversity(top_k: np.ndarray, item_genres: np.ndarray) -> float:
    """Mean over lists of the mean pairwise (1 - cosine similarity) of the items' genre vectors.

    An item without any genre counts as dissimilar (similarity 0) to every other item.
    """
    genres = np.asarray(item_genres, dtype=np.float64)
    norms = np.linalg.norm(genres, axis=1, keepdims=True)
    unit = np.divide(genres, norms, out=np.zeros_like(genres), where=norms > 0)
    present = top_k != NO_ITEM
    vectors = unit[np.where(present, top_k, 0)] * present[..., None]
    similarity = vectors @ vectors.transpose(0, 2, 1)
    n = present.sum(axis=1)
    pairs = n * (n - 1)
    if not np.any(pairs > 0):
        raise ValueError("lists need at least two items for intra-list diversity")
    # Off-diagonal similarity sum: the total minus each item's self-similarity (1 for non-zero vectors).
    off_diagonal = similarity.sum(axis=(1, 2)) - np.trace(similarity, axis1=1, axis2=2)
    valid = pairs > 0
    return float(np.mean(1.0 - off_diagonal[valid] / pairs[valid]))


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error of rating predictions."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.shape != actual.shape or predicted.size == 0:
        raise ValueError(f"need equal non-empty shapes, got {predicted.shape} and {actual.shape}")
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))
