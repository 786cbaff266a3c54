"""IdIndex positions and the sparse interaction matrix built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensflow.indexing import IdIndex, interaction_matrix


def test_ids_are_sorted_unique_and_map_to_positions() -> None:
    index = IdIndex.from_ids([30, 10, 20, 10])
    assert index.ids.tolist() == [10, 20, 30]
    assert len(index) == 3
    assert index.positions([30, 10, 10]).tolist() == [2, 0, 0]
    assert index.positions(pd.Series([20], dtype="int32")).tolist() == [1]


def test_unknown_ids_are_named() -> None:
    index = IdIndex.from_ids([1, 2, 3])
    with pytest.raises(ValueError, match="2 unknown id\\(s\\): 0, 4"):
        index.positions([4, 1, 0])
    with pytest.raises(ValueError, match="unknown"):
        IdIndex.from_ids([]).positions([1])


def test_contains_only_holds_indexed_integers() -> None:
    index = IdIndex.from_ids(np.array([5, 7]))
    assert 5 in index and np.int32(7) in index
    assert 6 not in index and 8 not in index and "5" not in index and 5.0 not in index


def test_ids_are_read_only_and_must_be_sorted() -> None:
    index = IdIndex.from_ids([1, 2])
    with pytest.raises(ValueError):
        index.ids[0] = 9
    with pytest.raises(ValueError, match="sorted and unique"):
        IdIndex(np.array([2, 1]))
    with pytest.raises(ValueError, match="integers"):
        index.positions(np.array([1.5]))


def test_interaction_matrix_places_ratings_by_position() -> None:
    ratings = pd.DataFrame({"user_id": [7, 3, 7], "movie_id": [100, 200, 200], "rating": [4.0, 2.0, 5.0]})
    users, items = IdIndex.from_ids([3, 7, 9]), IdIndex.from_ids([100, 200])
    ones = interaction_matrix(ratings, users=users, items=items)
    assert ones.shape == (3, 2)
    assert ones.toarray().tolist() == [[0, 1], [1, 1], [0, 0]]
    valued = interaction_matrix(ratings, users=users, items=items, values="rating")
    assert valued.toarray().tolist() == [[0, 2], [4, 5], [0, 0]]
    with pytest.raises(ValueError, match="unknown"):
        interaction_matrix(ratings, users=IdIndex.from_ids([3]), items=items)
