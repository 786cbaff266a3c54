"""Metrics against hand-computed values, and against a plain-loop reference on random cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from lensflow.metrics import (
    NO_ITEM,
    intra_list_diversity,
    ndcg_curve,
    novelty,
    ranking_metrics,
    relevant_lists,
    rmse,
    top_k_items,
)

# Two users, eight items, k = 3.
#   user 0: top [0, 1, 2], relevant {0, 2}     -> hits at ranks 1 and 3
#   user 1: top [3, 4, 0], relevant {4, 1, 2}  -> hit at rank 2
TOP = np.array([[0, 1, 2], [3, 4, 0]])
RELEVANT = [np.array([0, 2]), np.array([4, 1, 2])]


def test_hand_computed_two_user_case() -> None:
    metrics = ranking_metrics(TOP, RELEVANT, n_items=8, k=3)
    # NDCG, gain 1/log2(rank + 1):
    #   user 0: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(3, 2) = 2 ranks = 1 + 1/log2(3) = 1.6309298
    #           -> 0.9197208
    #   user 1: DCG = 1/log2(3) = 0.6309298; IDCG over 3 ranks = 1 + 0.6309298 + 0.5 = 2.1309298
    #           -> 0.2960819
    #   mean 0.6079014
    assert metrics["ndcg@3"] == pytest.approx(0.6079014, abs=1e-7)
    # precision = hits / k: (2/3 + 1/3) / 2 = 0.5
    assert metrics["precision@3"] == pytest.approx(0.5)
    # recall = hits / n_relevant: (2/2 + 1/3) / 2 = 0.6666667
    assert metrics["recall@3"] == pytest.approx(2 / 3)
    # AP = sum of precision at each hit rank / n_relevant:
    #   user 0: (1/1 + 2/3) / 2 = 0.8333333; user 1: (1/2) / 3 = 0.1666667; mean 0.5
    assert metrics["map@3"] == pytest.approx(0.5)
    # distinct recommended items {0, 1, 2, 3, 4} / 8 items
    assert metrics["coverage@3"] == pytest.approx(5 / 8)
    assert set(metrics) == {"ndcg@3", "precision@3", "recall@3", "map@3", "coverage@3"}


def test_users_without_relevant_items_are_left_out() -> None:
    top = np.vstack([TOP, [[5, 6, 7]]])
    metrics = ranking_metrics(top, [*RELEVANT, np.array([], dtype=np.int64)], n_items=8, k=3)
    assert metrics["ndcg@3"] == pytest.approx(0.6079014, abs=1e-7)
    assert metrics["precision@3"] == pytest.approx(0.5)
    # Coverage still counts every list shown: {0..7} / 8.
    assert metrics["coverage@3"] == 1.0


def test_perfect_ranking_scores_one() -> None:
    top = np.array([[4, 2, 7], [1, 0, 3]])
    metrics = ranking_metrics(top, [np.array([2, 7, 4]), np.array([3, 1, 0])], n_items=8, k=3)
    for name in ("ndcg@3", "precision@3", "recall@3", "map@3"):
        assert metrics[name] == pytest.approx(1.0)


def test_no_hits_scores_zero() -> None:
    metrics = ranking_metrics(TOP, [np.array([7]), np.array([6, 5])], n_items=8, k=3)
    for name in ("ndcg@3", "precision@3", "recall@3", "map@3"):
        assert metrics[name] == 0.0


def test_map_and_recall_divide_by_all_relevant_items() -> None:
    # Both slots hit, but the user has 5 relevant items: AP = (1/1 + 2/2) / 5 = 0.4 (not 1.0 as with
    # min(k, n_relevant)); recall = 2/5; precision = 2/2; NDCG's ideal list has only k = 2 slots -> 1.0.
    metrics = ranking_metrics(np.array([[0, 1]]), [np.arange(5)], n_items=5, k=2)
    assert metrics["map@2"] == pytest.approx(0.4)
    assert metrics["recall@2"] == pytest.approx(0.4)
    assert metrics["precision@2"] == pytest.approx(1.0)
    assert metrics["ndcg@2"] == pytest.approx(1.0)


def test_only_the_first_k_columns_count() -> None:
    # The hit at rank 4 is beyond k = 3.
    metrics = ranking_metrics(np.array([[0, 1, 2, 3]]), [np.array([3])], n_items=4, k=3)
    assert metrics["ndcg@3"] == 0.0
    assert metrics["coverage@3"] == pytest.approx(3 / 4)


def test_padding_slots_are_never_hits() -> None:
    # The second user's list is padded; NO_ITEM must not match item n_items - 1 of the first user.
    top = np.array([[0, 1], [2, NO_ITEM]])
    metrics = ranking_metrics(top, [np.array([3]), np.array([0])], n_items=4, k=2)
    assert metrics["precision@2"] == 0.0
    assert metrics["coverage@2"] == pytest.approx(3 / 4)


def test_no_relevant_items_at_all_is_an_error() -> None:
    with pytest.raises(ValueError, match="no user has a relevant item"):
        ranking_metrics(TOP, [np.array([], dtype=np.int64)] * 2, n_items=8, k=3)


def test_ndcg_curve_matches_ranking_metrics_at_each_k() -> None:
    curve = ndcg_curve(TOP, RELEVANT, ks=range(1, 4))
    # k = 1: user 0 hits at rank 1 (1.0), user 1 misses (0.0) -> 0.5
    assert curve[1] == pytest.approx(0.5)
    for k in (1, 2, 3):
        assert curve[k] == pytest.approx(ranking_metrics(TOP, RELEVANT, n_items=8, k=k)[f"ndcg@{k}"])
    with pytest.raises(ValueError):
        ndcg_curve(TOP, RELEVANT, ks=range(1, 5))


def test_relevant_lists_reads_matrix_rows() -> None:
    matrix = sp.csr_matrix(np.array([[0, 1, 0, 4], [0, 0, 0, 0], [5, 0, 0, 0]], dtype=np.float32))
    lists = relevant_lists(matrix)
    assert [row.tolist() for row in lists] == [[1, 3], [], [0]]


# --- top_k_items ----------------------------------------------------------------------------------


def test_top_k_orders_best_first_and_breaks_ties_by_lower_index() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.2]])
    # 0.9 at items 1 and 3: item 1 first; then 0.5 (item 2).
    assert top_k_items(scores, k=3).tolist() == [[1, 3, 2]]
    # All equal: the lowest indices, in order.
    assert top_k_items(np.zeros((2, 6)), k=4).tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]


@pytest.mark.parametrize(
    "exclude",
    [
        sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 0, 0, 1, 0]])),
        np.array([[False, True, False, False, False], [True, False, False, True, False]]),
        [np.array([1]), np.array([0, 3])],
    ],
    ids=["sparse", "mask", "index-lists"],
)
def test_excluded_items_never_appear(exclude: object) -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.2], [5.0, 4.0, 3.0, 2.0, 1.0]])
    top = top_k_items(scores, k=3, exclude=exclude)
    assert top.tolist() == [[3, 2, 4], [1, 2, 4]]


def test_rows_with_too_few_allowed_items_are_padded() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [1.0, -np.inf, 2.0]])
    top = top_k_items(scores, k=3, exclude=[np.array([0, 2]), np.array([], dtype=np.int64)])
    assert top.tolist() == [[1, NO_ITEM, NO_ITEM], [2, 0, NO_ITEM]]


def test_infinite_scores_rank_first_or_never() -> None:
    scores = np.array([[1.0, np.inf, -np.inf, 2.0]])
    assert top_k_items(scores, k=4).tolist() == [[1, 3, 0, NO_ITEM]]


def test_invalid_scores_or_k_are_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        top_k_items(np.array([[1.0, np.nan]]), k=1)
    with pytest.raises(ValueError, match="k must be"):
        top_k_items(np.zeros((1, 3)), k=4)
    with pytest.raises(ValueError, match="k must be"):
        top_k_items(np.zeros((1, 3)), k=0)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n_users: st.integers(1, 12).flatmap(
            lambda n_items: st.tuples(
                st.lists(
                    st.lists(st.integers(0, 3), min_size=n_items, max_size=n_items),
                    min_size=n_users,
                    max_size=n_users,
                ),
                st.lists(
                    st.lists(st.booleans(), min_size=n_items, max_size=n_items),
                    min_size=n_users,
                    max_size=n_users,
                ),
                st.integers(1, n_items),
            )
        )
    )
)
def test_top_k_matches_a_full_stable_sort(case: tuple[list[list[int]], list[list[bool]], int]) -> None:
    scores_list, excluded_list, k = case
    scores, excluded = np.array(scores_list, dtype=float), np.array(excluded_list)
    top = top_k_items(scores, k=k, exclude=excluded)
    for row in range(scores.shape[0]):
        allowed = [i for i in range(scores.shape[1]) if not excluded[row, i]]
        # Reference: sort by descending score, then ascending index.
        expected = sorted(allowed, key=lambda i: (-scores[row, i], i))[:k]
        assert top[row].tolist() == expected + [NO_ITEM] * (k - len(expected))


# --- reference check of the ranking metrics -------------------------------------------------------


def reference_metrics(top: list[list[int]], relevant: list[set[int]], k: int) -> dict[str, float]:
    """The Microsoft `recommenders` definitions written as plain loops, one user at a time."""
    totals = {"ndcg": 0.0, "precision": 0.0, "recall": 0.0, "map": 0.0}
    users = [u for u in range(len(top)) if relevant[u]]
    for u in users:
        hits = [item in relevant[u] for item in top[u][:k]]
        dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
        idcg = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant[u]))))
        totals["ndcg"] += dcg / idcg
        totals["precision"] += sum(hits) / k
        totals["recall"] += sum(hits) / len(relevant[u])
        precisions = [sum(hits[: rank + 1]) / (rank + 1) for rank, hit in enumerate(hits) if hit]
        totals["map"] += sum(precisions) / len(relevant[u])
    return {f"{name}@{k}": value / len(users) for name, value in totals.items()}


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_ranking_metrics_match_the_reference(data: st.DataObject) -> None:
    n_items = data.draw(st.integers(3, 15))
    k = data.draw(st.integers(1, 3))
    n_users = data.draw(st.integers(1, 6))
    top = [data.draw(st.permutations(range(n_items)))[:k] for _ in range(n_users)]
    relevant = [data.draw(st.sets(st.integers(0, n_items - 1), max_size=n_items)) for _ in range(n_users)]
    if not any(relevant):
        relevant[0] = {top[0][0]}
    metrics = ranking_metrics(
        np.array(top), [np.array(sorted(items), dtype=np.int64) for items in relevant], n_items=n_items, k=k
    )
    expected = reference_metrics(top, relevant, k)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value)


# --- beyond accuracy ------------------------------------------------------------------------------


def test_novelty_is_mean_self_information() -> None:
    popularity = np.array([0.5, 0.25, 0.125, 1.0, 0.0])
    # -log2: 1, 2, 3, 0 -> mean 1.5
    assert novelty(np.array([[0, 1], [2, 3]]), popularity) == pytest.approx(1.5)
    # Item 4 was never rated (p = 0) and padding is no item: both are left out.
    assert novelty(np.array([[0, 4], [2, NO_ITEM]]), popularity) == pytest.approx(2.0)


def test_intra_list_diversity_is_mean_pairwise_cosine_distance() -> None:
    genres = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    # [0, 1]: cos 0 -> 1.0;  [0, 2]: cos 1/sqrt(2) -> 0.2928932;  mean 0.6464466
    assert intra_list_diversity(np.array([[0, 1], [0, 2]]), genres) == pytest.approx(0.6464466, abs=1e-7)
    # [0, 1, 2]: pairs 1.0, 0.2928932, 0.2928932 -> 0.5285955
    assert intra_list_diversity(np.array([[0, 1, 2]]), genres) == pytest.approx(0.5285955, abs=1e-7)
    # Identical genre vectors: no diversity. A genre-less item is unlike anything.
    assert intra_list_diversity(np.array([[2, 2]]), genres) == pytest.approx(0.0, abs=1e-12)
    assert intra_list_diversity(np.array([[0, 3]]), genres) == pytest.approx(1.0)


def test_rmse() -> None:
    # errors 0, 0, 2 -> sqrt(4 / 3) = 1.1547005
    assert rmse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])) == pytest.approx(1.1547005)
    with pytest.raises(ValueError):
        rmse(np.array([1.0]), np.array([1.0, 2.0]))
