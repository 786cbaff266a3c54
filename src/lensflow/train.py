"""Training: a ranking model (full-softmax factorisation or SASRec) plus a rating head for RMSE.

Epoch counts are chosen on a validation split carved from train (never on test); the model is then
refitted on all of train for that many epochs, so nothing of train is wasted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lensflow.indexing import IdIndex, interaction_matrix
from lensflow.models.config import TrainConfig
from lensflow.models.embedding import EmbeddingModel, RatingHead
from lensflow.models.fitting import (
    EarlyStopping,
    EpochCallback,
    RankingFit,
    best_weights,
    seed_everything,
    state_snapshot,
    validation_ndcg,
)
from lensflow.models.rating import RatingArrays, fit_rating_head
from lensflow.models.sasrec import fit_sasrec
from lensflow.split import holdout_split

log = logging.getLogger(__name__)

__all__ = ["EpochCallback", "RankingFit", "RatingFit", "TrainResult", "train_model"]


@dataclass(frozen=True)
class TrainResult:
    model: EmbeddingModel
    ranking_epochs: int
    rating_epochs: int
    validation: dict[str, float]


@dataclass(frozen=True)
class RatingFit:
    head: RatingHead
    epochs: int
    val_rmse: float


def _positions(frame: pd.DataFrame, users: IdIndex, items: IdIndex) -> tuple[np.ndarray, np.ndarray]:
    return users.positions(frame["user_id"].to_numpy()), items.positions(frame["movie_id"].to_numpy())


def user_weights(counts: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Per-user log-likelihood weights n^-alpha / norm (mean 1 over users), and that norm."""
    raw = np.maximum(counts, 1).astype(np.float64) ** -alpha
    norm = float(raw.mean())
    return (raw / norm).astype(np.float32), norm


class _Ranker(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.user = torch.nn.Parameter(torch.randn(n_users, dim) * 0.05)
        self.item = torch.nn.Parameter(torch.randn(n_items, dim) * 0.05)
        self.bias = torch.nn.Parameter(torch.zeros(n_items))

    def loss(
        self,
        users: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor,
        cfg: TrainConfig,
        n_users: int,
    ) -> torch.Tensor:
        logits = self.user[users] @ self.item.T + self.bias
        nll = -(weights[:, None] * targets * torch.log_softmax(logits, dim=1)).sum()
        user_reg = cfg.user_l2 * self.user[users].pow(2).sum()
        item_reg = cfg.item_l2 * (len(users) / n_users) * (self.item.pow(2).sum() + self.bias.pow(2).sum())
        return (nll + user_reg + item_reg) / len(users)

    def scores(self) -> np.ndarray:
        with torch.no_grad():
            return (self.user @ self.item.T + self.bias).numpy()


def _fit_ranker(
    matrix: np.ndarray,
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None,
    validation: tuple[list[np.ndarray], np.ndarray] | None = None,
) -> tuple[_Ranker, int, float]:
    """Fit on a dense 0/1 user x item matrix; with validation, stop early and keep the best epoch."""
    gen = seed_everything(cfg.seed)
    n_users, n_items = matrix.shape
    model = _Ranker(n_users, n_items, cfg.dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    targets = torch.from_numpy(matrix)
    weights = torch.from_numpy(user_weights(matrix.sum(axis=1), cfg.user_weight_alpha)[0])
    stopper: EarlyStopping[dict[str, torch.Tensor]] = EarlyStopping(cfg.patience, higher_is_better=True)
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        order = torch.randperm(n_users, generator=gen)
        total = 0.0
        for start in range(0, n_users, cfg.batch_users):
            users = order[start : start + cfg.batch_users]
            opt.zero_grad()
            loss = model.loss(users, targets[users], weights[users], cfg, n_users)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(users)
        values = {"loss": total / n_users}
        stop = False
        if validation is not None:
            values["val_ndcg_at_10"] = validation_ndcg(model.scores(), *validation)
            stop = stopper.update(
                epoch,
                values["val_ndcg_at_10"],
                state_snapshot(model),
            )
        if on_epoch:
            on_epoch(stage, epoch, values)
        if stop:
            break
    return best_weights(model, stopper, epochs=epochs, validated=validation is not None)


def _softmax_mf(
    holdout_train: pd.DataFrame,
    holdout_test: pd.DataFrame,
    train: pd.DataFrame,
    *,
    users: IdIndex,
    items: IdIndex,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None,
    refit: bool = True,
) -> RankingFit:
    fit_matrix = interaction_matrix(holdout_train, users=users, items=items).toarray().astype(np.float32)
    val_u, val_i = _positions(holdout_test, users, items)
    relevant = [val_i[val_u == row] for row in range(len(users))]
    ranker, epochs, val_ndcg = _fit_ranker(
        fit_matrix, cfg, epochs=cfg.epochs, stage="ranking/select", on_epoch=on_epoch,
        validation=(relevant, fit_matrix > 0),
    )  # fmt: skip
    full = interaction_matrix(train, users=users, items=items).toarray().astype(np.float32)
    if refit:
        ranker, _, _ = _fit_ranker(full, cfg, epochs=epochs, stage="ranking/refit", on_epoch=on_epoch)
    norm = user_weights((full if refit else fit_matrix).sum(axis=1), cfg.user_weight_alpha)[1]
    return RankingFit(
        user_factors=ranker.user.detach().numpy().astype(np.float32),
        item_factors=ranker.item.detach().numpy().astype(np.float32),
        item_bias=ranker.bias.detach().numpy().astype(np.float32),
        epochs=epochs,
        val_ndcg=val_ndcg,
        meta={"kind": "softmax-mf", "user_weight_alpha": cfg.user_weight_alpha, "user_weight_norm": norm},
    )


def train_ranking(
    train: pd.DataFrame,
    *,
    users: IdIndex,
    items: IdIndex,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    refit: bool = True,
) -> RankingFit:
    """The configured ranking model: epochs chosen on a holdout of train, then refitted on all of train.

    refit=False skips the refit (tuning only needs the validation score) and returns the model of
    the chosen epoch as fitted on the holdout's train part.
    """
    holdout = holdout_split(train, ratio=cfg.validation_ratio, seed=cfg.seed)
    fit = fit_sasrec if cfg.model == "sasrec" else _softmax_mf
    return fit(
        holdout.train, holdout.test, train, users=users, items=items, cfg=cfg, on_epoch=on_epoch, refit=refit
    )


def _rating_arrays(frame: pd.DataFrame, users: IdIndex, items: IdIndex) -> RatingArrays:
    u, i = _positions(frame, users, items)
    return u.astype(np.int64), i.astype(np.int64), frame["rating"].to_numpy(np.float32)


def train_rating(
    train: pd.DataFrame,
    *,
    users: IdIndex,
    items: IdIndex,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    refit: bool = True,
) -> RatingFit:
    """The rating head: epochs chosen on validation RMSE of a holdout of train, then refitted on all of it.

    refit=False returns the head of the chosen epoch as fitted on the holdout's train part.
    """
    holdout = holdout_split(train, ratio=cfg.validation_ratio, seed=cfg.seed)
    shape = (len(users), len(items))
    selected, epochs, val_rmse = fit_rating_head(
        _rating_arrays(holdout.train, users, items), shape, cfg, epochs=cfg.rating_epochs,
        stage="rating/select", on_epoch=on_epoch, validation=_rating_arrays(holdout.test, users, items),
    )  # fmt: skip
    if not refit:
        return RatingFit(selected, epochs, val_rmse)
    head, _, _ = fit_rating_head(
        _rating_arrays(train, users, items),
        shape,
        cfg,
        epochs=epochs,
        stage="rating/refit",
        on_epoch=on_epoch,
    )
    return RatingFit(head, epochs, val_rmse)


def assemble(
    ranking: RankingFit, rating: RatingFit, *, users: IdIndex, items: IdIndex, cfg: TrainConfig
) -> EmbeddingModel:
    """The served model from a ranking fit and a rating head."""
    return EmbeddingModel(
        user_ids=users.ids.astype(np.int64),
        movie_ids=items.ids.astype(np.int64),
        user_factors=ranking.user_factors,
        item_factors=ranking.item_factors,
        item_bias=ranking.item_bias,
        user_l2=cfg.user_l2,
        rating=rating.head,
        meta={
            **ranking.meta,
            "rating_model": cfg.rating_model,
            "ranking_epochs": ranking.epochs,
            "rating_epochs": rating.epochs,
        },
    )


def train_model(
    train: pd.DataFrame,
    *,
    users: IdIndex,
    items: IdIndex,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Choose epochs on a validation split of train, then refit on all of train."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ranking = train_ranking(train, users=users, items=items, cfg=cfg, on_epoch=on_epoch)
    rating = train_rating(train, users=users, items=items, cfg=cfg, on_epoch=on_epoch)
    log.info(
        "%s: chose %d ranking epochs (val NDCG@10 %.4f), %s head: %d epochs (val RMSE %.4f)",
        cfg.model,
        ranking.epochs,
        ranking.val_ndcg,
        cfg.rating_model,
        rating.epochs,
        rating.val_rmse,
    )
    return TrainResult(
        model=assemble(ranking, rating, users=users, items=items, cfg=cfg),
        ranking_epochs=ranking.epochs,
        rating_epochs=rating.epochs,
        validation={"val_ndcg_at_10": ranking.val_ndcg, "val_rmse": rating.val_rmse},
    )
