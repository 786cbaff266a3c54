"""The tuned parameters kept in the repo must build valid configs, so `train --model` can reproduce them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lensflow.errors import LensflowError
from lensflow.models.config import TrainConfig
from lensflow.quality.params import config_for

REPO = Path(__file__).resolve().parents[2]


def test_config_for_merges_rating_head_then_model_params() -> None:
    best = {
        "rating-head": {"params": {"rating_model": "autorec", "rating_l2": 90.0}},
        "sasrec": {"params": {"sasrec.lr": 0.004, "dim": 48}},
    }
    cfg = config_for("sasrec", best, seed=43)
    assert (cfg.model, cfg.dim, cfg.sasrec.lr, cfg.rating_model, cfg.rating_l2, cfg.seed) == (
        "sasrec", 48, 0.004, "autorec", 90.0, 43,
    )  # fmt: skip
    assert cfg.as_params()["sasrec.lr"] == 0.004
    assert "sasrec.lr" not in config_for("softmax-mf", best).as_params()


def test_unknown_names_are_refused() -> None:
    with pytest.raises(LensflowError, match="unknown model"):
        config_for("bivae", {})
    with pytest.raises(LensflowError, match=r"sasrec\.depth"):
        config_for("sasrec", {"sasrec": {"params": {"sasrec.depth": 3}}})
    with pytest.raises(ValueError, match="unknown training parameter"):
        TrainConfig().with_overrides(dimension=3)


def test_repo_best_params_and_search_space_fit_the_config() -> None:
    best = json.loads((REPO / "tuning" / "best_params.json").read_text())
    for name in ("softmax-mf", "sasrec"):
        cfg = config_for(name, best)
        for key, value in best[name]["params"].items():
            owner = cfg.sasrec if key.startswith("sasrec.") else cfg
            assert getattr(owner, key.removeprefix("sasrec.")) == value
    assert config_for("softmax-mf", best).rating_model == "autorec"
    space = json.loads((REPO / "tuning" / "search_space.json").read_text())
    for target, params in space.items():
        low = {k: spec.get("low", spec.get("choices", [None])[0]) for k, spec in params.items()}
        TrainConfig().with_overrides(**low)  # every searched name is a real parameter
        assert target in best
