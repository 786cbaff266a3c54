"""Tuned hyperparameters kept in the repository (tuning/best_params.json), turned into TrainConfigs.

The file holds one entry per tuned target: "softmax-mf" and "sasrec" (ranking models) and
"rating-head" (shared by every model). `lensflow train --model NAME` trains with
TrainConfig() + rating-head params + NAME's params, which reproduces the best tuning trial's setup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lensflow.errors import LensflowError
from lensflow.models.config import RANKING_MODELS, TrainConfig

BEST_PARAMS_FILE = Path("tuning") / "best_params.json"
SEARCH_SPACE_FILE = Path("tuning") / "search_space.json"
RATING_HEAD = "rating-head"


def tuning_dir_file(relative: Path) -> Path:
    """`relative` under the working directory, else under the source checkout (editable installs)."""
    here = Path.cwd() / relative
    if here.exists():
        return here
    checkout = Path(__file__).resolve().parents[3] / relative
    return checkout if checkout.exists() else here


def load_best(path: Path | None = None) -> dict[str, Any]:
    """The best-params file, or an empty mapping when there is none (config defaults then apply)."""
    path = path or tuning_dir_file(BEST_PARAMS_FILE)
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise LensflowError(f"{path} is not valid JSON ({exc}); restore it from git") from exc


def config_for(name: str, best: dict[str, Any] | None = None, *, seed: int | None = None) -> TrainConfig:
    """The training config of model NAME: defaults, then tuned rating-head and model params."""
    if name not in RANKING_MODELS:
        raise LensflowError(f"unknown model {name!r}; use one of {', '.join(RANKING_MODELS)}")
    best = load_best() if best is None else best
    overrides: dict[str, object] = {"model": name}
    for key in (RATING_HEAD, name):
        overrides.update(best.get(key, {}).get("params", {}))
    if seed is not None:
        overrides["seed"] = seed
    try:
        return TrainConfig().with_overrides(**overrides)
    except (TypeError, ValueError) as exc:
        raise LensflowError(f"tuned parameters for {name} do not fit TrainConfig: {exc}") from exc
