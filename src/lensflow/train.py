"""Training: a full-softmax ranking model over the catalogue, plus a rating head for RMSE.

Epoch counts are chosen on a validation split carved from train (never on test); the model is then
refitted on all of train for that many epochs, so nothing of train is wasted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lensflow.indexing import IdIndex, interaction_matrix
from lensflow.metrics import ranking_metrics, rmse, top_k_items
from lensflow.models.config import TrainConfig
from lensflow.models.embedding import EmbeddingModel, RatingHead
from lensflow.split import holdout_split

log = logging.getLogger(__name__)

EpochCallback = Callable[[str, int, dict[str, float]], None]
"""Called as (stage, epoch, values) after each epoch; stage is a name like "ranking/select"."""


@dataclass(frozen=True)
class TrainResult:
    model: EmbeddingModel
    ranking_epochs: int
    rating_epochs: int
    validation: dict[str, float]


def _seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch.Generator().manual_seed(seed)


def _positions(frame: pd.DataFrame, users: IdIndex, items: IdIndex) -> tuple[np.ndarray, np.ndarray]:
    return users.positions(frame["user_id"].to_numpy()), items.positions(frame["movie_id"].to_numpy())


class _Ranker(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.user = torch.nn.Parameter(torch.randn(n_users, dim) * 0.05)
        self.item = torch.nn.Parameter(torch.randn(n_items, dim) * 0.05)
        self.bias = torch.nn.Parameter(torch.zeros(n_items))

    def loss(
        self, users: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig, n_users: int
    ) -> torch.Tensor:
        logits = self.user[users] @ self.item.T + self.bias
        nll = -(targets * torch.log_softmax(logits, dim=1)).sum()
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
    gen = _seed_everything(cfg.seed)
    n_users, n_items = matrix.shape
    model = _Ranker(n_users, n_items, cfg.dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    targets = torch.from_numpy(matrix)
    best = (-1.0, 0, {k: v.detach().clone() for k, v in model.state_dict().items()})
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        order = torch.randperm(n_users, generator=gen)
        total = 0.0
        for start in range(0, n_users, cfg.batch_users):
            users = order[start : start + cfg.batch_users]
            opt.zero_grad()
            loss = model.loss(users, targets[users], cfg, n_users)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(users)
        values = {"loss": total / n_users}
        if validation is not None:
            relevant, seen = validation
            top = top_k_items(model.scores(), k=10, exclude=seen)
            values["val_ndcg_at_10"] = ranking_metrics(top, relevant, n_items=n_items, k=10)["ndcg@10"]
            if values["val_ndcg_at_10"] > best[0]:
                best = (
                    values["val_ndcg_at_10"],
                    epoch,
                    {k: v.detach().clone() for k, v in model.state_dict().items()},
                )
            elif epoch - best[1] >= cfg.patience:
                if on_epoch:
                    on_epoch(stage, epoch, values)
                break
        if on_epoch:
            on_epoch(stage, epoch, values)
    if validation is None:
        return model, epochs, float("nan")
    model.load_state_dict(best[2])
    return model, best[1], best[0]


class _RatingModel(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, mean: float) -> None:
        super().__init__()
        self.mean = mean
        self.user_bias = torch.nn.Parameter(torch.zeros(n_users))
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))
        self.user = torch.nn.Parameter(torch.randn(n_users, dim) * 0.01)
        self.item = torch.nn.Parameter(torch.randn(n_items, dim) * 0.01)

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        dot = (self.user[u] * self.item[i]).sum(1)
        return self.mean + self.user_bias[u] + self.item_bias[i] + dot

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        return (
            self.user[u].pow(2).sum(1)
            + self.item[i].pow(2).sum(1)
            + self.user_bias[u] ** 2
            + self.item_bias[i] ** 2
        ).mean()

    def head(self) -> RatingHead:
        return RatingHead(
            global_mean=self.mean,
            user_bias=self.user_bias.detach().numpy().astype(np.float32),
            item_bias=self.item_bias.detach().numpy().astype(np.float32),
            user_factors=self.user.detach().numpy().astype(np.float32),
            item_factors=self.item.detach().numpy().astype(np.float32),
        )


def _fit_rating_head(
    ratings: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, int],
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[RatingHead, int, float]:
    gen = _seed_everything(cfg.seed)
    u, i, r = (torch.from_numpy(np.array(a)) for a in ratings)
    model = _RatingModel(*shape, cfg.rating_dim, float(r.mean()))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.rating_lr)
    best = (float("inf"), 0, model.head())
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        order = torch.randperm(len(r), generator=gen)
        total = 0.0
        for start in range(0, len(r), 2048):
            idx = order[start : start + 2048]
            opt.zero_grad()
            err = torch.nn.functional.mse_loss(model(u[idx], i[idx]), r[idx])
            (err + cfg.rating_l2 * model.penalty(u[idx], i[idx])).backward()
            opt.step()
            total += float(err.detach()) * len(idx)
        values = {"mse": total / len(r)}
        if validation is not None:
            head = model.head()
            values["val_rmse"] = rmse(head.predict(validation[0], validation[1]), validation[2])
            if values["val_rmse"] < best[0]:
                best = (values["val_rmse"], epoch, head)
            elif epoch - best[1] >= cfg.patience:
                if on_epoch:
                    on_epoch(stage, epoch, values)
                break
        if on_epoch:
            on_epoch(stage, epoch, values)
    if validation is None:
        return model.head(), epochs, float("nan")
    return best[2], best[1], best[0]


def _rating_arrays(
    frame: pd.DataFrame, users: IdIndex, items: IdIndex
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, i = _positions(frame, users, items)
    return u.astype(np.int64), i.astype(np.int64), frame["rating"].to_numpy(np.float32)


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
    holdout = holdout_split(train, ratio=cfg.validation_ratio, seed=cfg.seed)
    fit_matrix = interaction_matrix(holdout.train, users=users, items=items).toarray().astype(np.float32)
    val_u, val_i = _positions(holdout.test, users, items)
    relevant = [val_i[val_u == row] for row in range(len(users))]
    _, rank_epochs, val_ndcg = _fit_ranker(
        fit_matrix,
        cfg,
        epochs=cfg.epochs,
        stage="ranking/select",
        on_epoch=on_epoch,
        validation=(relevant, fit_matrix > 0),
    )
    full_matrix = interaction_matrix(train, users=users, items=items).toarray().astype(np.float32)
    ranker, _, _ = _fit_ranker(full_matrix, cfg, epochs=rank_epochs, stage="ranking/refit", on_epoch=on_epoch)

    shape = (len(users), len(items))
    _, rating_epochs, val_rmse = _fit_rating_head(
        _rating_arrays(holdout.train, users, items),
        shape,
        cfg,
        epochs=cfg.rating_epochs,
        stage="rating/select",
        on_epoch=on_epoch,
        validation=_rating_arrays(holdout.test, users, items),
    )
    head, _, _ = _fit_rating_head(
        _rating_arrays(train, users, items),
        shape,
        cfg,
        epochs=rating_epochs,
        stage="rating/refit",
        on_epoch=on_epoch,
    )
    log.info(
        "chose %d ranking epochs (val NDCG@10 %.4f), %d rating epochs (val RMSE %.4f)",
        rank_epochs,
        val_ndcg,
        rating_epochs,
        val_rmse,
    )
    model = EmbeddingModel(
        user_ids=users.ids.astype(np.int64),
        movie_ids=items.ids.astype(np.int64),
        user_factors=ranker.user.detach().numpy().astype(np.float32),
        item_factors=ranker.item.detach().numpy().astype(np.float32),
        item_bias=ranker.bias.detach().numpy().astype(np.float32),
        user_l2=cfg.user_l2,
        rating=head,
        meta={"kind": "softmax-mf", "ranking_epochs": rank_epochs, "rating_epochs": rating_epochs},
    )
    return TrainResult(
        model=model,
        ranking_epochs=rank_epochs,
        rating_epochs=rating_epochs,
        validation={"val_ndcg_at_10": val_ndcg, "val_rmse": val_rmse},
    )
