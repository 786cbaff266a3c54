"""Rating heads for RMSE, both exported as a RatingHead r(u, i) = mean + c_u + d_i + x_u · y_i.

- "mf": biased matrix factorisation, minibatch Adam with L2 per rating.
- "autorec": I-AutoRec (Sedhain et al. 2015), an item-based autoencoder over each movie's vector of
  user ratings: h_i = sigmoid(V r_i + mu), r(u, i) = W_u · h_i + c_u. Its prediction is exactly a
  factorisation with item factors h_i (computed from the train ratings) and user factors W_u, so it
  is stored in the same arrays as the biased MF, and the saved format does not change.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from lensflow.metrics import rmse
from lensflow.models.config import TrainConfig
from lensflow.models.embedding import RatingHead
from lensflow.models.fitting import EarlyStopping, EpochCallback, seed_everything

RatingArrays = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(user positions, movie positions, ratings)."""

AUTOREC_CHECK_EVERY = 5  # full-batch epochs are short; validating each one would dominate the time
MF_BATCH = 2048


class _BiasedMF(torch.nn.Module):
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


class _AutoRec(torch.nn.Module):
    def __init__(self, ratings: torch.Tensor, hidden: int) -> None:
        super().__init__()
        self.inputs = ratings  # (n_items, n_users), 0 where unrated
        n_users = ratings.shape[1]
        self.encoder = torch.nn.Linear(n_users, hidden)
        self.decoder = torch.nn.Linear(hidden, n_users)

    def codes(self) -> torch.Tensor:
        return torch.sigmoid(self.encoder(self.inputs))

    def forward(self) -> torch.Tensor:
        return self.decoder(self.codes())

    def penalty(self) -> torch.Tensor:
        return self.encoder.weight.pow(2).sum() + self.decoder.weight.pow(2).sum()

    def head(self) -> RatingHead:
        with torch.no_grad():
            codes = self.codes().numpy()
        n_items = codes.shape[0]
        return RatingHead(
            global_mean=0.0,
            user_bias=self.decoder.bias.detach().numpy().astype(np.float32),
            item_bias=np.zeros(n_items, dtype=np.float32),
            user_factors=self.decoder.weight.detach().numpy().astype(np.float32),
            item_factors=codes.astype(np.float32),
        )


def _validate(head: RatingHead, validation: RatingArrays) -> float:
    return rmse(head.predict(validation[0], validation[1]), validation[2])


def _fit_mf(
    ratings: RatingArrays,
    shape: tuple[int, int],
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None,
    validation: RatingArrays | None,
) -> tuple[RatingHead, int, float]:
    gen = seed_everything(cfg.seed)
    u, i, r = (torch.from_numpy(np.array(a)) for a in ratings)
    model = _BiasedMF(*shape, cfg.rating_dim, float(r.mean()))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.rating_lr)
    stopper: EarlyStopping[RatingHead] = EarlyStopping(cfg.patience, higher_is_better=False)
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        order = torch.randperm(len(r), generator=gen)
        total = 0.0
        for start in range(0, len(r), MF_BATCH):
            idx = order[start : start + MF_BATCH]
            opt.zero_grad()
            err = torch.nn.functional.mse_loss(model(u[idx], i[idx]), r[idx])
            (err + cfg.rating_l2 * model.penalty(u[idx], i[idx])).backward()
            opt.step()
            total += float(err.detach()) * len(idx)
        values = {"mse": total / len(r)}
        stop = False
        if validation is not None:
            head = model.head()
            values["val_rmse"] = _validate(head, validation)
            stop = stopper.update(epoch, values["val_rmse"], lambda h=head: h)  # type: ignore[misc]
        if on_epoch:
            on_epoch(stage, epoch, values)
        if stop:
            break
    if validation is None or stopper.best_state is None:
        return model.head(), epochs, float("nan")
    return stopper.best_state, stopper.best_epoch, stopper.best_value


def _fit_autorec(
    ratings: RatingArrays,
    shape: tuple[int, int],
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None,
    validation: RatingArrays | None,
) -> tuple[RatingHead, int, float]:
    seed_everything(cfg.seed)
    n_users, n_items = shape
    dense = torch.zeros(n_items, n_users)
    observed = torch.zeros(n_items, n_users)
    u, i, r = (torch.from_numpy(np.array(a)) for a in ratings)
    dense[i, u] = r.float()
    observed[i, u] = 1.0
    model = _AutoRec(dense, cfg.rating_dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.rating_lr)
    stopper: EarlyStopping[RatingHead] = EarlyStopping(cfg.patience, higher_is_better=False)
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        opt.zero_grad()
        sse = ((model() - dense) ** 2 * observed).sum()
        (sse + cfg.rating_l2 / 2 * model.penalty()).backward()
        opt.step()
        values = {"mse": float(sse.detach()) / len(r)}
        stop = False
        if validation is not None and epoch % AUTOREC_CHECK_EVERY == 0:
            head = model.head()
            values["val_rmse"] = _validate(head, validation)
            stop = stopper.update(epoch, values["val_rmse"], lambda h=head: h)  # type: ignore[misc]
        if on_epoch:
            on_epoch(stage, epoch, values)
        if stop:
            break
    if validation is None or stopper.best_state is None:
        return model.head(), epochs, float("nan")
    return stopper.best_state, stopper.best_epoch, stopper.best_value


def fit_rating_head(
    ratings: RatingArrays,
    shape: tuple[int, int],
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None = None,
    validation: RatingArrays | None = None,
) -> tuple[RatingHead, int, float]:
    """Fit the configured head; with validation, stop early and return (best head, its epoch, its RMSE)."""
    fit = _fit_autorec if cfg.rating_model == "autorec" else _fit_mf
    return fit(ratings, shape, cfg, epochs=epochs, stage=stage, on_epoch=on_epoch, validation=validation)
