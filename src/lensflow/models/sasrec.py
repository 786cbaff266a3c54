"""A SASRec-style causal transformer over each user's train ratings ordered by time.

The user embedding is the last hidden state h_u; movie embeddings are the input item table E,
tied with the output, plus a bias b. Score s(u, i) = h_u · e_i + b_i = [h_u, 1] · [e_i, b_i], so
pgvector serves it exactly like the factorisation model.

Training objective: a random share of each user's (time-ordered) history is hidden, the rest is
read in time order, and the last hidden state must put the mass of a softmax over the unread
movies on the hidden ones. Next-item prediction would answer a different question: the
evaluation's test ratings are a random 25 % of each history, not its last ones.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lensflow.indexing import IdIndex
from lensflow.models.config import SasRecConfig, TrainConfig
from lensflow.models.fitting import (
    EarlyStopping,
    EpochCallback,
    RankingFit,
    best_weights,
    seed_everything,
    state_snapshot,
    validation_ndcg,
)

PAD = 0  # token 0 pads sequences; movie at position p is token p + 1
INFERENCE_BATCH = 256


class SasRec(torch.nn.Module):
    def __init__(self, n_items: int, dim: int, cfg: SasRecConfig) -> None:
        super().__init__()
        self.max_len = cfg.max_len
        self.heads = cfg.heads
        self.item = torch.nn.Embedding(n_items + 1, dim, padding_idx=PAD)
        torch.nn.init.normal_(self.item.weight, std=1.0 / math.sqrt(dim))
        with torch.no_grad():
            self.item.weight[PAD].zero_()
        self.position = torch.nn.Embedding(cfg.max_len, dim)
        torch.nn.init.normal_(self.position.weight, std=0.02)
        self.bias = torch.nn.Parameter(torch.zeros(n_items))
        self.dropout = torch.nn.Dropout(cfg.dropout)
        block = torch.nn.TransformerEncoderLayer(
            dim, cfg.heads, dim_feedforward=dim, dropout=cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(block, cfg.layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(dim)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, dim) states for left-padded token rows; the last column is the newest rating."""
        batch, length = tokens.shape
        positions = torch.arange(self.max_len - length, self.max_len)
        x = self.item(tokens) * math.sqrt(self.item.embedding_dim) + self.position(positions)
        pad = tokens == PAD
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        # Every query may see itself, so all-padding rows stay finite; real rows never see padding.
        allowed = causal & (~pad[:, None, :] | torch.eye(length, dtype=torch.bool))
        mask = torch.zeros(batch, length, length).masked_fill(~allowed, float("-inf"))
        mask = mask.repeat_interleave(self.heads, dim=0)
        return self.norm(self.encoder(self.dropout(x), mask=mask))

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return states @ self.item.weight[1:].T + self.bias


def user_sequences(frame: pd.DataFrame, *, users: IdIndex, items: IdIndex) -> list[np.ndarray]:
    """Each user's movie positions ordered by time (ties by movie id), one array per user row."""
    ordered = frame.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    u = users.positions(ordered["user_id"].to_numpy())
    i = items.positions(ordered["movie_id"].to_numpy())
    bounds = np.searchsorted(u, np.arange(len(users) + 1))
    return [i[bounds[row] : bounds[row + 1]] for row in range(len(users))]


def _left_padded(rows: list[np.ndarray], length: int) -> torch.Tensor:
    tokens = torch.zeros(len(rows), length, dtype=torch.long)
    for r, seq in enumerate(rows):
        if len(seq):
            tokens[r, length - len(seq) :] = torch.from_numpy(seq + 1)
    return tokens


def _batch_loss(
    model: SasRec, seqs: list[np.ndarray], cfg: SasRecConfig, n_items: int, rng: np.random.Generator
) -> torch.Tensor | None:
    """Hide a random share of each (cropped) history; the last state must find the hidden movies."""
    inputs, targets = [], []
    for seq in seqs:
        if len(seq) < 2:
            continue
        start = int(rng.integers(0, len(seq) - cfg.max_len + 1)) if len(seq) > cfg.max_len else 0
        window = seq[start : start + cfg.max_len]
        hidden = rng.random(len(window)) < cfg.holdout
        hidden[rng.integers(len(window))] = True  # at least one target
        if hidden.all():
            hidden[rng.integers(len(window))] = False  # and at least one input
        inputs.append(window[~hidden])
        targets.append(window[hidden])
    if not inputs:
        return None
    states = model.hidden(_left_padded(inputs, max(len(x) for x in inputs)))[:, -1]
    logits = model.logits(states)
    rows = torch.from_numpy(np.repeat(np.arange(len(inputs)), [len(x) for x in inputs]))
    logits = logits.index_put((rows, torch.from_numpy(np.concatenate(inputs))), torch.tensor(float("-inf")))
    log_probs = torch.log_softmax(logits, dim=-1)
    t_rows = np.repeat(np.arange(len(targets)), [len(t) for t in targets])
    weights = torch.from_numpy(1.0 / np.array([len(t) for t in targets], dtype=np.float32)[t_rows])
    picked = log_probs[torch.from_numpy(t_rows), torch.from_numpy(np.concatenate(targets))]
    return -(picked * weights).sum() / len(targets)


def user_states(model: SasRec, seqs: list[np.ndarray]) -> np.ndarray:
    """The last hidden state of each user's (most recent max_len) history; zeros for empty ones."""
    model.eval()
    out = np.zeros((len(seqs), model.item.embedding_dim), dtype=np.float32)
    by_length = np.argsort([len(seq) for seq in seqs], kind="stable")  # little padding per batch
    with torch.no_grad():
        for s in range(0, len(seqs), INFERENCE_BATCH):
            rows = by_length[s : s + INFERENCE_BATCH]
            chunk = [seqs[r][-model.max_len :] for r in rows]
            length = max(1, max(len(c) for c in chunk))
            states = model.hidden(_left_padded(chunk, length))[:, -1].numpy()
            for r, c, state in zip(rows, chunk, states, strict=True):
                if len(c):
                    out[r] = state
    model.train()
    return out


def _length_buckets(seqs: list[np.ndarray], size: int, gen: torch.Generator) -> list[list[int]]:
    """Batches of users with similar history lengths (so little padding), in a random order.

    Shuffling before a stable sort by length varies which users of equal length share a batch.
    """
    shuffled = torch.randperm(len(seqs), generator=gen).numpy()
    ordered = shuffled[np.argsort([len(seqs[u]) for u in shuffled], kind="stable")]
    batches = [ordered[s : s + size].tolist() for s in range(0, len(ordered), size)]
    return [batches[b] for b in torch.randperm(len(batches), generator=gen).tolist()]


def _scores(model: SasRec, seqs: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        items = model.item.weight[1:].numpy()
        return user_states(model, seqs) @ items.T + model.bias.numpy()


def _fit(
    seqs: list[np.ndarray],
    n_items: int,
    cfg: TrainConfig,
    *,
    epochs: int,
    stage: str,
    on_epoch: EpochCallback | None,
    validation: tuple[list[np.ndarray], np.ndarray] | None = None,
) -> tuple[SasRec, int, float]:
    gen = seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = SasRec(n_items, cfg.dim, cfg.sasrec)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.sasrec.lr, weight_decay=cfg.sasrec.weight_decay)
    stopper: EarlyStopping[dict[str, torch.Tensor]] = EarlyStopping(cfg.patience, higher_is_better=True)
    step = cfg.sasrec.batch_users
    for epoch in tqdm(range(1, epochs + 1), desc=stage, leave=False, disable=None):
        total, batches = 0.0, 0
        for batch in _length_buckets(seqs, step, gen):
            loss = _batch_loss(model, [seqs[u] for u in batch], cfg.sasrec, n_items, rng)
            if loss is None:
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, batches = total + float(loss.detach()), batches + 1
        values = {"loss": total / max(batches, 1)}
        stop = False
        if validation is not None and epoch % cfg.sasrec.eval_every == 0:
            values["val_ndcg_at_10"] = validation_ndcg(_scores(model, seqs), *validation)
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


def fit_sasrec(
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
    """Epochs chosen on the holdout (user state from the holdout's train part); user states from all of train.

    With cfg.sasrec.refit the weights are also retrained on all of train for the chosen epochs.
    """
    n_items = len(items)
    fit_seqs = user_sequences(holdout_train, users=users, items=items)
    seen = np.zeros((len(users), n_items), dtype=bool)
    for row, seq in enumerate(fit_seqs):
        seen[row, seq] = True
    val_u = users.positions(holdout_test["user_id"].to_numpy())
    val_i = items.positions(holdout_test["movie_id"].to_numpy())
    relevant = [val_i[val_u == row] for row in range(len(users))]
    model, epochs, val_ndcg = _fit(
        fit_seqs, n_items, cfg, epochs=cfg.sasrec.epochs, stage="sasrec/select", on_epoch=on_epoch,
        validation=(relevant, seen),
    )  # fmt: skip
    seqs = user_sequences(train, users=users, items=items) if refit else fit_seqs
    if refit and cfg.sasrec.refit:
        model, _, _ = _fit(seqs, n_items, cfg, epochs=epochs, stage="sasrec/refit", on_epoch=on_epoch)
    with torch.no_grad():
        item_table = model.item.weight[1:].numpy().astype(np.float32)
        bias = model.bias.detach().numpy().astype(np.float32)
    return RankingFit(
        user_factors=user_states(model, seqs),
        item_factors=item_table.copy(),
        item_bias=bias.copy(),
        epochs=epochs,
        val_ndcg=val_ndcg,
        # New users have no transformer state here: fold-in fits [p, 1] to the tied item table instead.
        meta={"kind": "sasrec", "fold_in": "softmax-on-item-table"},
    )
