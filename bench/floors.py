"""The compute floor and the ground truth: exact top-k in numpy over the served embeddings."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import psycopg

from bench.loadgen import percentiles


def seen_positions(conn: psycopg.Connection, movie_ids: np.ndarray, user_ids: np.ndarray) -> list[np.ndarray]:
    """Per user (in `user_ids` order), the item rows of the movies they rated: what the service excludes."""
    rows = np.array(conn.execute("SELECT user_id, movie_id FROM ratings").fetchall(), dtype=np.int64)
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64) for _ in user_ids]
    if rows.size == 0:
        return out
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    user_pos = np.searchsorted(user_ids, rows[:, 0])
    item_pos = np.searchsorted(movie_ids, rows[:, 1])
    bounds = np.searchsorted(user_pos, np.arange(len(user_ids) + 1))
    for u in range(len(user_ids)):
        out[u] = item_pos[bounds[u] : bounds[u + 1]]
    return out


def top_k(items: np.ndarray, user: np.ndarray, seen: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k best items by inner product, rated ones excluded, best first."""
    scores = items @ user
    scores[seen] = -np.inf
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def compute_floor(
    items: np.ndarray, users: np.ndarray, seen: Sequence[np.ndarray], *, k: int = 10, rounds: int = 3
) -> dict[str, object]:
    """Per-call latency of the in-process numpy top-k over every user, `rounds` times."""
    order = np.random.default_rng(0).permutation(len(users))
    times = []
    for _ in range(rounds):
        for u in order:
            start = time.perf_counter()
            top_k(items, users[u], seen[u], k)
            times.append(time.perf_counter() - start)
    return {
        "calls": len(times),
        "n_items": int(items.shape[0]),
        "dim": int(items.shape[1]),
        "latency_ms": percentiles(np.array(times) * 1e3),
    }


def exact_answers(
    items: np.ndarray, users: np.ndarray, seen: Sequence[np.ndarray], user_rows: Sequence[int], k: int
) -> list[np.ndarray]:
    return [top_k(items, users[u], seen[u], k) for u in user_rows]


def recall_at_k(truth: Sequence[Sequence[int]], found: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the true top-k ids present in the found top-k (ties at the boundary count as misses)."""
    hits = [len(set(t[:k]) & set(f[:k])) / k for t, f in zip(truth, found, strict=True)]
    return round(float(np.mean(hits)), 4) if hits else float("nan")
