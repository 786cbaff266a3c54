"""Stratified, holdout and official splits: ratios per group, determinism, disjointness, names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lensflow.data import MovieLens
from lensflow.errors import DataError
from lensflow.split import Split, holdout_split, official_split, stratified_split

KEY = ["user_id", "movie_id"]


def sorted_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def assert_partition(split: Split, ratings: pd.DataFrame) -> None:
    """Train and test are disjoint and together are exactly the input rows."""
    assert split.train.merge(split.test, on=KEY).empty
    pd.testing.assert_frame_equal(sorted_pairs(pd.concat([split.train, split.test])), sorted_pairs(ratings))


@pytest.fixture(scope="module")
def user_split(movielens: MovieLens) -> Split:
    return stratified_split(movielens.ratings)


def test_each_user_keeps_round_three_quarters_in_train(user_split: Split, movielens: MovieLens) -> None:
    per_user = movielens.ratings.groupby("user_id").size()
    train_per_user = user_split.train.groupby("user_id").size().reindex(per_user.index, fill_value=0)
    expected = np.round(0.75 * per_user.to_numpy())
    np.testing.assert_array_equal(train_per_user.to_numpy(), expected)
    assert user_split.train["user_id"].nunique() == 943  # every user can be scored
    assert 0.74 < len(user_split.train) / 100_000 < 0.76


def test_item_stratification_splits_per_movie(movielens: MovieLens) -> None:
    split = stratified_split(movielens.ratings, by="item")
    per_movie = movielens.ratings.groupby("movie_id").size()
    train_per_movie = split.train.groupby("movie_id").size().reindex(per_movie.index, fill_value=0)
    np.testing.assert_array_equal(train_per_movie.to_numpy(), np.round(0.75 * per_movie.to_numpy()))
    assert split.protocol == "ms-stratified-75-25-seed42-by-item"
    assert_partition(split, movielens.ratings)


def test_group_sizes_round_half_to_even_like_python_round() -> None:
    # 4 ratings -> 3 train; 2 -> round(1.5) = 2; 6 -> round(4.5) = 4; 1 -> round(0.75) = 1.
    sizes = {1: 4, 2: 2, 3: 6, 4: 1}
    ratings = pd.DataFrame(
        {
            "user_id": np.repeat(list(sizes), list(sizes.values())),
            "movie_id": np.arange(sum(sizes.values())),
            "rating": 3.0,
        }
    )
    split = stratified_split(ratings, seed=1)
    assert split.train.groupby("user_id").size().to_dict() == {1: 3, 2: 2, 3: 4, 4: 1}
    assert split.test.groupby("user_id").size().to_dict() == {1: 1, 3: 2}


def test_train_and_test_partition_the_ratings(user_split: Split, movielens: MovieLens) -> None:
    assert_partition(user_split, movielens.ratings)
    assert list(user_split.train.columns) == list(movielens.ratings.columns)


def test_same_seed_same_split_other_seed_other_split(user_split: Split, movielens: MovieLens) -> None:
    again = stratified_split(movielens.ratings, seed=42)
    pd.testing.assert_frame_equal(again.train, user_split.train)
    pd.testing.assert_frame_equal(again.test, user_split.test)
    other = stratified_split(movielens.ratings, seed=43)
    assert not sorted_pairs(other.test).equals(sorted_pairs(user_split.test))


def test_protocol_names_are_built_from_the_arguments(movielens: MovieLens) -> None:
    assert stratified_split(movielens.ratings).protocol == "ms-stratified-75-25-seed42"
    assert stratified_split(movielens.ratings, ratio=0.8, seed=7).protocol == "ms-stratified-80-20-seed7"


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 1.5])
def test_ratio_outside_zero_one_is_rejected(movielens: MovieLens, ratio: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        stratified_split(movielens.ratings, ratio=ratio)


def test_holdout_is_carved_per_user_from_train_only(user_split: Split) -> None:
    holdout = holdout_split(user_split.train)
    assert holdout.protocol == "holdout-90-10-seed0"
    assert_partition(holdout, user_split.train)
    assert holdout.test.merge(user_split.test, on=KEY).empty
    per_user = user_split.train.groupby("user_id").size()
    fit_per_user = holdout.train.groupby("user_id").size().reindex(per_user.index)
    np.testing.assert_array_equal(fit_per_user.to_numpy(), np.round(0.9 * per_user.to_numpy()))


def test_official_u1_split_reads_base_and_test(ml100k_dir: Path) -> None:
    split = official_split(ml100k_dir, "u1")
    assert split.protocol == "u1"
    assert (len(split.train), len(split.test)) == (80_000, 20_000)
    assert split.train.merge(split.test, on=KEY).empty
    assert split.train["rating"].dtype == np.float32


def test_official_split_rejects_unknown_names(ml100k_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"u1\.\.u5"):
        official_split(ml100k_dir, "../u1")


def test_official_split_with_a_pair_in_both_files_is_reported(dataset_copy: Path) -> None:
    base_line = (dataset_copy / "u1.base").read_bytes().split(b"\n")[0]
    test_path = dataset_copy / "u1.test"
    lines = test_path.read_bytes().split(b"\n")
    lines[4] = base_line  # line 5 of u1.test now repeats line 1 of u1.base
    test_path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as caught:
        official_split(dataset_copy, "u1")
    assert caught.value.file == str(test_path)
    assert caught.value.line == 5
    assert "disjoint" in caught.value.reason
