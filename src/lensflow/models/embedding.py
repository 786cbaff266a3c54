"""The served model: user and movie embeddings whose inner product is the model's exact score.

Ranking score s(u, i) = p_u · q_i + b_i. Folding the bias into the vectors, user [p_u, 1] and movie
[q_i, b_i], makes pgvector's inner product equal to the model's score, so the database can rank.
A separate rating head (biased matrix factorisation) predicts star ratings for RMSE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLD_IN_MAX_ITER = 25
FOLD_IN_TOL = 1e-6


@dataclass(frozen=True)
class RatingHead:
    """r(u, i) = mean + c_u + d_i + x_u · y_i, clipped to 1..5."""

    global_mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray

    def predict(self, user_pos: np.ndarray, item_pos: np.ndarray) -> np.ndarray:
        dot = np.einsum("ij,ij->i", self.user_factors[user_pos], self.item_factors[item_pos])
        raw = self.global_mean + self.user_bias[user_pos] + self.item_bias[item_pos] + dot
        return np.clip(raw, 1.0, 5.0)


@dataclass(frozen=True)
class EmbeddingModel:
    """Trained embeddings with their id maps; everything the service and the evaluation need."""

    user_ids: np.ndarray  # external user id at each row
    movie_ids: np.ndarray  # external movie id at each row
    user_factors: np.ndarray  # (n_users, dim) float32
    item_factors: np.ndarray  # (n_items, dim) float32
    item_bias: np.ndarray  # (n_items,) float32
    user_l2: float  # the L2 weight of the training objective; fold-in solves the same objective
    rating: RatingHead
    meta: dict[str, object]

    @property
    def dim(self) -> int:
        return int(self.user_factors.shape[1])

    @property
    def vector_dim(self) -> int:
        """Dimension of the stored vectors: factors plus the folded bias."""
        return self.dim + 1

    def user_vectors(self) -> np.ndarray:
        ones = np.ones((len(self.user_ids), 1), dtype=np.float32)
        return np.hstack([self.user_factors, ones]).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        return np.hstack([self.item_factors, self.item_bias[:, None]]).astype(np.float32)

    def item_directions(self) -> np.ndarray:
        """Unit-length movie factors: inner product of two is their cosine similarity."""
        norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
        return (self.item_factors / np.maximum(norms, 1e-12)).astype(np.float32)

    def score_users(self, user_pos: np.ndarray) -> np.ndarray:
        """Ranking scores (n, n_items) for users at the given rows, in float32 like the store."""
        return self.user_vectors()[user_pos] @ self.item_vectors().T

    def score_vector(self, user_vector: np.ndarray) -> np.ndarray:
        return self.item_vectors() @ user_vector.astype(np.float32)

    def user_weight(self, n_ratings: int) -> float:
        """The weight training gave the log-likelihood of a user with n ratings: n^-alpha / norm.

        alpha and norm live in `meta` (absent in models trained before user weighting: weight 1).
        """
        alpha = float(self.meta.get("user_weight_alpha", 0.0))  # type: ignore[arg-type]
        norm = float(self.meta.get("user_weight_norm", 1.0))  # type: ignore[arg-type]
        return float(max(n_ratings, 1) ** -alpha / norm)

    def fold_in(self, item_pos: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The user vector [p, 1] that the training objective would give a user with these ratings.

        Minimises -c * sum_i w_i log softmax(Q p + b)_i + user_l2 * |p|^2 by Newton's method: the
        objective is strictly convex in p, so a dozen steps reach the optimum to float precision.
        c is the per-user weight of training (see `user_weight`), 1 for models trained without one.
        """
        if len(item_pos) == 0:
            raise ValueError("fold-in needs at least one rated movie")
        w = np.ones(len(item_pos)) if weights is None else np.asarray(weights, dtype=np.float64)
        w = w * self.user_weight(len(item_pos))
        q = self.item_factors.astype(np.float64)
        b = self.item_bias.astype(np.float64)
        total = w.sum()
        target = w @ q[item_pos]
        ridge = 2.0 * self.user_l2 * np.eye(self.dim)
        p = np.zeros(self.dim)
        for _ in range(FOLD_IN_MAX_ITER):
            logits = q @ p + b
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            mean_q = probs @ q
            grad = total * mean_q - target + 2.0 * self.user_l2 * p
            hessian = total * ((q * probs[:, None]).T @ q - np.outer(mean_q, mean_q)) + ridge
            step = np.linalg.solve(hessian, grad)
            p -= step
            if float(np.abs(step).max()) < FOLD_IN_TOL:
                break
        return np.append(p, 1.0).astype(np.float32)

    def save(self, path: Path) -> None:
        np.savez(
            path,
            user_ids=self.user_ids,
            movie_ids=self.movie_ids,
            user_factors=self.user_factors,
            item_factors=self.item_factors,
            item_bias=self.item_bias,
            rating_user_bias=self.rating.user_bias,
            rating_item_bias=self.rating.item_bias,
            rating_user_factors=self.rating.user_factors,
            rating_item_factors=self.rating.item_factors,
            scalars=np.array([self.user_l2, self.rating.global_mean]),
            meta=np.array(json.dumps(self.meta)),
        )

    @classmethod
    def load(cls, path: Path) -> EmbeddingModel:
        with np.load(path, allow_pickle=False) as z:
            user_l2, global_mean = (float(x) for x in z["scalars"])
            rating = RatingHead(
                global_mean=global_mean,
                user_bias=z["rating_user_bias"],
                item_bias=z["rating_item_bias"],
                user_factors=z["rating_user_factors"],
                item_factors=z["rating_item_factors"],
            )
            return cls(
                user_ids=z["user_ids"],
                movie_ids=z["movie_ids"],
                user_factors=z["user_factors"],
                item_factors=z["item_factors"],
                item_bias=z["item_bias"],
                user_l2=user_l2,
                rating=rating,
                meta=json.loads(str(z["meta"])),
            )


def describe(model: EmbeddingModel) -> dict[str, object]:
    return {"dim": model.dim, "n_users": len(model.user_ids), "n_items": len(model.movie_ids), **model.meta}
