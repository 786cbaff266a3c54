"""Hyperparameters as typed config objects, one docstring per field."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainConfig:
    """How the embedding model and its rating head are trained."""

    dim: int = 64
    """Size of the user and movie factor vectors (stored vectors have one more: the folded bias)."""
    epochs: int = 120
    """Upper bound on ranking epochs; early stopping on validation NDCG@10 usually ends sooner."""
    lr: float = 0.02
    """Adam learning rate of the ranking objective."""
    user_l2: float = 5.0
    """L2 weight on each user vector; fold-in of new users solves the same objective."""
    item_l2: float = 5.0
    """L2 weight on movie vectors and biases, spread over batches in proportion to their users."""
    batch_users: int = 256
    """Users per optimisation step (full softmax over the catalogue for each)."""
    patience: int = 8
    """Epochs without validation improvement before stopping."""
    validation_ratio: float = 0.9
    """Share of each user's training ratings kept for fitting while choosing epochs."""
    rating_dim: int = 32
    """Factor size of the rating head."""
    rating_epochs: int = 60
    """Upper bound on rating-head epochs (early stopping on validation RMSE)."""
    rating_lr: float = 0.01
    """Adam learning rate of the rating head."""
    rating_l2: float = 0.05
    """L2 weight of the rating head's factors and biases (per rating)."""
    seed: int = 42
    """Seed for torch and numpy: the same seed gives the same model."""

    def as_params(self) -> dict[str, object]:
        return asdict(self)

    def with_overrides(self, **overrides: object) -> TrainConfig:
        unknown = set(overrides) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        return TrainConfig(**{**asdict(self), **overrides})
