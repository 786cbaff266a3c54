"""Contiguous 0..n-1 positions for external user and movie ids, and the sparse matrices built on them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class IdIndex:
    """Sorted unique external ids; an id's position is its row (users) or column (movies) in a matrix."""

    ids: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {ids.shape}")
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            raise ValueError("ids must be sorted and unique; build the index with IdIndex.from_ids")
        # Read-only, so an index shared by a model and the store can never drift from itself.
        ids.setflags(write=False)
        object.__setattr__(self, "ids", ids)

    @classmethod
    def from_ids(cls, ids: Iterable[int] | np.ndarray | pd.Series) -> IdIndex:
        """Index the distinct ids in ascending order (duplicates collapse to one position)."""
        return cls(np.unique(_as_int64(ids)))

    def positions(self, ids: Iterable[int] | np.ndarray | pd.Series) -> np.ndarray:
        """Positions of `ids` (int64 array); ValueError naming the ids this index does not hold."""
        wanted = _as_int64(ids)
        positions = np.searchsorted(self.ids, wanted)
        if len(self.ids) == 0:
            known = np.zeros(wanted.shape, dtype=bool)
        else:
            known = self.ids[np.minimum(positions, len(self.ids) - 1)] == wanted
        if not np.all(known):
            unknown = np.unique(wanted[~known])
            shown = ", ".join(str(i) for i in unknown[:5]) + (" ..." if unknown.size > 5 else "")
            raise ValueError(f"{unknown.size} unknown id(s): {shown}")
        return positions.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self.ids.size)

    def __contains__(self, external_id: object) -> bool:
        if not isinstance(external_id, int | np.integer) or isinstance(external_id, bool):
            return False
        position = int(np.searchsorted(self.ids, external_id))
        return position < len(self.ids) and int(self.ids[position]) == int(external_id)


def _as_int64(ids: Iterable[int] | np.ndarray | pd.Series) -> np.ndarray:
    array = ids.to_numpy() if isinstance(ids, pd.Series) else ids
    if not isinstance(array, np.ndarray):
        return np.fromiter(array, dtype=np.int64)
    # Casting 1.5 to 1 would silently map a wrong id onto a real one.
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def interaction_matrix(
    ratings: pd.DataFrame,
    *,
    users: IdIndex,
    items: IdIndex,
    values: str | None = None,
) -> sp.csr_matrix:
    """A users x items CSR matrix of `ratings` (user_id, movie_id columns).

    Entries are 1.0 per rating when `values` is None, else the named column (e.g. "rating").
    Duplicate (user, movie) pairs would be summed, so pass validated ratings.
    """
    rows = users.positions(ratings["user_id"])
    cols = items.positions(ratings["movie_id"])
    data = (
        np.ones(len(ratings), dtype=np.float32)
        if values is None
        else ratings[values].to_numpy(dtype=np.float32)
    )
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(items)), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix
