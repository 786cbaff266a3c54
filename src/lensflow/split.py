"""Train/test splits with named, reproducible protocols."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from lensflow.data import load_movielens, read_ratings_file
from lensflow.errors import DataError

# The official MovieLens 100k splits: five folds u1..u5 and the ten-per-user ua/ub.
_OFFICIAL_SPLIT_NAME = re.compile(r"u[1-5ab]")


@dataclass(frozen=True, eq=False)
class Split:
    """Disjoint train and test ratings, and the protocol name that makes their metrics comparable."""

    train: pd.DataFrame
    test: pd.DataFrame
    protocol: str


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}"


def _per_group_train_mask(groups: np.ndarray, *, ratio: float, seed: int) -> np.ndarray:
    """True for the rows that go to train: round(ratio * n) random rows of each group of n rows.

    np.round rounds half to even like Python's round, which Microsoft `recommenders` uses, so group
    sizes such as 22 * 0.75 = 16.5 land on the same side.
    """
    n_rows = groups.size
    random_keys = np.random.default_rng(seed).random(n_rows)
    order = np.lexsort((random_keys, groups))  # by group, shuffled within each group
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, n_rows])
    rank_in_group = np.arange(n_rows) - np.repeat(starts, sizes)
    train_in_order = rank_in_group < np.repeat(np.round(ratio * sizes), sizes)
    train_mask = np.empty(n_rows, dtype=bool)
    train_mask[order] = train_in_order
    return train_mask


def _stratified(
    ratings: pd.DataFrame, *, ratio: float, seed: int, by: Literal["user", "item"], protocol: str
) -> Split:
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be strictly between 0 and 1, got {ratio}")
    if by not in ("user", "item"):
        raise ValueError(f"by must be 'user' or 'item', got {by!r}")
    column = "user_id" if by == "user" else "movie_id"
    train_mask = _per_group_train_mask(ratings[column].to_numpy(), ratio=ratio, seed=seed)
    return Split(
        train=ratings[train_mask].reset_index(drop=True),
        test=ratings[~train_mask].reset_index(drop=True),
        protocol=protocol,
    )


def stratified_split(
    ratings: pd.DataFrame,
    *,
    ratio: float = 0.75,
    seed: int = 42,
    by: Literal["user", "item"] = "user",
) -> Split:
    """Microsoft `recommenders` python_stratified_split: per user (or item), a seeded shuffle puts
    round(ratio * n) of its ratings in train and the rest in test, so every user is in train.

    The default reproduces the protocol "ms-stratified-75-25-seed42" of the benchmark table there
    (their default filter_by="user"); by="item" stratifies per movie and adds "-by-item".
    """
    protocol = f"ms-stratified-{_percent(ratio)}-{_percent(1 - ratio)}-seed{seed}"
    if by == "item":
        protocol += "-by-item"
    return _stratified(ratings, ratio=ratio, seed=seed, by=by, protocol=protocol)


def holdout_split(train: pd.DataFrame, *, ratio: float = 0.9, seed: int = 0) -> Split:
    """A per-user validation split carved out of `train`, for early stopping; never touches test."""
    protocol = f"holdout-{_percent(ratio)}-{_percent(1 - ratio)}-seed{seed}"
    return _stratified(train, ratio=ratio, seed=seed, by="user", protocol=protocol)


def official_split(data_dir: Path, name: str = "u1") -> Split:
    """The published `<name>.base` / `<name>.test` files (u1..u5, ua, ub), validated like u.data."""
    if not _OFFICIAL_SPLIT_NAME.fullmatch(name):
        raise ValueError(f"unknown official split {name!r}; use one of u1..u5, ua, ub")
    # The whole dataset is validated too, so split files never refer to users or movies it lacks.
    movielens = load_movielens(data_dir)
    known_users = set(movielens.users["user_id"].tolist())
    known_movies = set(movielens.movies["movie_id"].tolist())
    train, test = (
        read_ratings_file(data_dir / f"{name}.{part}", known_users=known_users, known_movies=known_movies)
        for part in ("base", "test")
    )
    # A pair in both files would leak test ratings into training.
    overlap = test.reset_index().merge(train[["user_id", "movie_id"]], on=["user_id", "movie_id"])
    if len(overlap):
        first = overlap.loc[overlap["index"].idxmin()]
        raise DataError(
            data_dir / f"{name}.test",
            f"user {first.user_id} rated movie {first.movie_id} in {name}.base too; splits must be disjoint",
            int(first["index"]) + 1,
        )
    return Split(train=train, test=test, protocol=name)
