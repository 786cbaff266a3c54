"""What every trainer shares: seeding, the per-epoch callback type, and early stopping on validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import torch

from lensflow.metrics import ranking_metrics, top_k_items

EpochCallback = Callable[[str, int, dict[str, float]], None]
"""Called as (stage, epoch, values) after each epoch; stage is a name like "ranking/select"."""

T = TypeVar("T")


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch and numpy globally and return a torch generator for shuffling."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class EarlyStopping(Generic[T]):
    """Keeps the best validation value, its epoch and a snapshot; says when patience has run out.

    `patience` counts checks without improvement, so models checked every few epochs wait as many checks.
    """

    patience: int
    higher_is_better: bool
    best_value: float = float("nan")
    best_epoch: int = 0
    best_state: T | None = None
    _since_best: int = 0

    def update(self, epoch: int, value: float, snapshot: Callable[[], T]) -> bool:
        """Record a check; True when training should stop."""
        better = (
            self.best_epoch == 0
            or (self.higher_is_better and value > self.best_value)
            or (not self.higher_is_better and value < self.best_value)
        )
        if better:
            self.best_value, self.best_epoch, self.best_state = value, epoch, snapshot()
            self._since_best = 0
            return False
        self._since_best += 1
        return self._since_best >= self.patience


M = TypeVar("M", bound=torch.nn.Module)


def state_snapshot(model: torch.nn.Module) -> Callable[[], dict[str, torch.Tensor]]:
    """A callable that copies the model's weights, for EarlyStopping.update."""
    return lambda: {k: v.detach().clone() for k, v in model.state_dict().items()}


def best_weights(
    model: M, stopper: EarlyStopping[dict[str, torch.Tensor]], *, epochs: int, validated: bool
) -> tuple[M, int, float]:
    """The model at its best validation check (epoch, value); as trained, with NaN, when not validated."""
    if not validated or stopper.best_state is None:
        return model, epochs, float("nan")
    model.load_state_dict(stopper.best_state)
    return model, stopper.best_epoch, stopper.best_value


@dataclass(frozen=True)
class RankingFit:
    """A ranking model as the arrays pgvector serves: user [p, 1] · movie [q, b] is its score."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    epochs: int
    val_ndcg: float
    meta: dict[str, object]


def validation_ndcg(scores: np.ndarray, relevant: list[np.ndarray], seen: np.ndarray) -> float:
    """NDCG@10 of full-catalogue scores against held-out items, movies already seen excluded."""
    top = top_k_items(scores, k=10, exclude=seen)
    return ranking_metrics(top, relevant, n_items=scores.shape[1], k=10)["ndcg@10"]
