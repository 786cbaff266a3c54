"""Load a large synthetic embedding set, so a test can kill the loader in the middle of its COPY.

    python -m tests.reliability.big_load DATABASE_URL VERSION N_USERS

Imports only the store (no torch, no mlflow) so the COPY starts within a second or two.
"""

from __future__ import annotations

import sys

import numpy as np
import psycopg

from lensflow.models.embedding import EmbeddingModel, RatingHead
from lensflow.store import vectors

MODEL_NAME = "lensflow"
N_MOVIES = 1682
DIM = 64


def big_model(n_users: int, *, seed: int = 11) -> EmbeddingModel:
    rng = np.random.default_rng(seed)
    head = RatingHead(
        3.5,
        np.zeros(n_users, np.float32),
        np.zeros(N_MOVIES, np.float32),
        np.zeros((n_users, 1), np.float32),
        np.zeros((N_MOVIES, 1), np.float32),
    )
    return EmbeddingModel(
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        movie_ids=np.arange(1, N_MOVIES + 1, dtype=np.int64),
        user_factors=rng.normal(size=(n_users, DIM)).astype(np.float32),
        item_factors=rng.normal(size=(N_MOVIES, DIM)).astype(np.float32),
        item_bias=rng.normal(size=N_MOVIES).astype(np.float32),
        user_l2=1.0,
        rating=head,
        meta={"kind": "synthetic-large"},
    )


def main(url: str, version: int, n_users: int) -> None:
    model = big_model(n_users)
    with psycopg.connect(url, autocommit=True) as conn:
        vectors.load_embeddings(conn, model_name=MODEL_NAME, version=version, model=model, index="exact")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
