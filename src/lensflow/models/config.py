"""Hyperparameters as typed config objects, one docstring per field.

Ranking defaults are softmax-mf's tuned values in `tuning/best_params.json` (Optuna on a validation
split carved from the train part of ms-stratified-75-25-seed42; test ratings never seen while tuning).
The rating-head defaults stay the fast biased MF so `lensflow pipeline` stays within a minute; the
tuned AutoRec head (best RMSE) is what `lensflow train --model NAME` and the quality report use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

RankingModel = Literal["softmax-mf", "sasrec"]
RatingModel = Literal["autorec", "mf"]
RANKING_MODELS: tuple[RankingModel, ...] = ("softmax-mf", "sasrec")


@dataclass(frozen=True)
class SasRecConfig:
    """A SASRec-style causal transformer over each user's train ratings ordered by time."""

    layers: int = 2
    """Transformer blocks."""
    heads: int = 1
    """Attention heads per block (must divide the model's dim)."""
    max_len: int = 200
    """Most recent ratings kept per user; longer histories are cropped at random while training."""
    dropout: float = 0.2
    """Dropout on embeddings, attention and feed-forward layers while training."""
    lr: float = 0.003
    """AdamW learning rate."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay on all weights."""
    epochs: int = 80
    """Upper bound on epochs; early stopping on validation NDCG@10 usually ends sooner."""
    batch_users: int = 64
    """Sequences per optimisation step."""
    holdout: float = 0.25
    """Share of each history hidden per step: the last state of the rest must predict those movies."""
    refit: bool = False
    """Retrain on all of train for the chosen epochs (twice the cost). Without it the weights chosen on
    validation are kept and only the user states read each user's whole train history."""
    eval_every: int = 3
    """Epochs between validation checks (patience counts checks, not epochs)."""


@dataclass(frozen=True)
class TrainConfig:
    """How the ranking model and its rating head are trained."""

    model: RankingModel = "softmax-mf"
    """Ranking model: "softmax-mf" (full-softmax factorisation) or "sasrec" (transformer over time)."""
    dim: int = 80
    """Size of the user and movie factor vectors (stored vectors have one more: the folded bias)."""
    epochs: int = 120
    """Upper bound on ranking epochs; early stopping on validation NDCG@10 usually ends sooner."""
    lr: float = 0.0183
    """Adam learning rate of the ranking objective."""
    user_l2: float = 2.17
    """L2 weight on each user vector; fold-in of new users solves the same objective."""
    item_l2: float = 14.86
    """L2 weight on movie vectors and biases, spread over batches in proportion to their users."""
    user_weight_alpha: float = 0.40
    """Each user's log-likelihood is weighted by n_u^-alpha (n_u = their ratings), normalised to mean 1:
    0 lets heavy raters dominate, 1 weighs every user equally. Fold-in applies the same weight."""
    batch_users: int = 256
    """Users per optimisation step (full softmax over the catalogue for each)."""
    patience: int = 8
    """Validation checks without improvement before stopping."""
    validation_ratio: float = 0.9
    """Share of each user's training ratings kept for fitting while choosing epochs."""
    rating_model: RatingModel = "mf"
    """Rating head: "autorec" (item-based autoencoder, I-AutoRec) or "mf" (biased factorisation)."""
    rating_dim: int = 32
    """Factor size of the rating head (the hidden layer's width for AutoRec)."""
    rating_epochs: int = 60
    """Upper bound on rating-head epochs (early stopping on validation RMSE)."""
    rating_lr: float = 0.01
    """Adam learning rate of the rating head."""
    rating_l2: float = 0.05
    """L2 weight of the rating head: per rating for "mf", on the total squared error for "autorec"."""
    sasrec: SasRecConfig = SasRecConfig()
    """Hyperparameters used when model is "sasrec" (dim, lr-free parts above still apply)."""
    seed: int = 42
    """Seed for torch and numpy: the same seed gives the same model."""

    def as_params(self) -> dict[str, object]:
        """Flat parameters for tracking; the SASRec block appears as "sasrec.<field>"."""
        params = {k: v for k, v in asdict(self).items() if k != "sasrec"}
        if self.model == "sasrec":
            params.update({f"sasrec.{k}": v for k, v in asdict(self.sasrec).items()})
        return params

    def with_overrides(self, **overrides: object) -> TrainConfig:
        """A copy with some fields replaced; "sasrec.<field>" keys reach the SASRec block."""
        own = {f.name for f in fields(self)} - {"sasrec"}
        nested = {f.name for f in fields(SasRecConfig)}
        seq = {k.removeprefix("sasrec."): v for k, v in overrides.items() if k.startswith("sasrec.")}
        top = {k: v for k, v in overrides.items() if not k.startswith("sasrec.")}
        unknown = sorted((set(top) - own) | {f"sasrec.{k}" for k in set(seq) - nested})
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(unknown)}")
        if "model" in top and top["model"] not in RANKING_MODELS:
            raise ValueError(f"unknown model {top['model']!r}; use one of {', '.join(RANKING_MODELS)}")
        return replace(self, **top, sasrec=replace(self.sasrec, **seq))  # type: ignore[arg-type]
