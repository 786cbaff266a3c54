"""The popularity baseline: every user gets the movies most often rated in train."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp


class PopularityRecommender:
    """Scores each item by its number of train ratings, the same row for every user.

    The baseline every model must beat under the same protocol; it also checks the metric code.
    """

    def __init__(self) -> None:
        self.item_counts: np.ndarray | None = None

    def fit(self, interactions: sp.csr_matrix | sp.csr_array) -> Self:
        """Count the stored entries per column of a users x items train matrix."""
        columns = sp.csr_matrix(interactions).indices
        self.item_counts = np.bincount(columns, minlength=interactions.shape[1]).astype(np.float32)
        return self

    def score(self, user_indices: np.ndarray) -> np.ndarray:
        """(len(user_indices), n_items) float32 scores; higher is better."""
        if self.item_counts is None:
            raise RuntimeError("PopularityRecommender.score called before fit")
        n_users = np.asarray(user_indices).shape[0]
        return np.tile(self.item_counts, (n_users, 1))
