"""MLflow tracking and the Model Registry. The only module that imports mlflow.

The served model is the registered version that alias `champion` points at. Every alias move is
recorded twice: tags on the version, and an append-only history on the registered model.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from lensflow.errors import RegistryError
from lensflow.models.embedding import EmbeddingModel
from lensflow.settings import CHAMPION_ALIAS, Settings

log = logging.getLogger(__name__)

HISTORY_TAG = "lensflow.champion_history"
HISTORY_KEEP = 40  # entries kept in the tag; tag values are bounded in size
GATE_METRIC = "ndcg_at_10"
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("long", "movie_id"), ColSpec("double", "rating")]),
    outputs=Schema([ColSpec("long", "movie_id"), ColSpec("double", "score")]),
    params=ParamSchema([ParamSpec("k", "long", 10)]),
)


def metric_key(name: str) -> str:
    """MLflow metric keys cannot hold '@': "ndcg@10" is logged as "ndcg_at_10"."""
    return name.replace("@", "_at_")


class LensflowPyfunc(PythonModel):
    """Recommendations for a new user: fold in their ratings, score the catalogue, drop rated movies."""

    model: EmbeddingModel

    # No type hints on these two: mlflow would try to infer a schema from them.
    def load_context(self, context):
        self.model = EmbeddingModel.load(Path(context.artifacts["embeddings"]))

    def predict(self, context, model_input, params=None):
        k = int((params or {}).get("k", 10))
        frame = pd.DataFrame(model_input)
        movie_ids = self.model.movie_ids
        positions = np.searchsorted(movie_ids, frame["movie_id"].to_numpy())
        known = (positions < len(movie_ids)) & (
            movie_ids[np.minimum(positions, len(movie_ids) - 1)] == frame["movie_id"]
        )
        if not known.all():
            raise ValueError(f"unknown movie ids: {frame['movie_id'][~known].tolist()[:5]}")
        scores = self.model.score_vector(self.model.fold_in(positions)).astype(np.float64)
        scores[positions] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        return pd.DataFrame({"movie_id": movie_ids[top].astype(np.int64), "score": scores[top]})


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str
    aliases: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def configure(settings: Settings) -> MlflowClient:
    """Point mlflow at the tracking store; create the experiment with artifacts under LENSFLOW_HOME."""
    if not settings.mlflow_tracking_uri:
        settings.ensure_home()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    if client.get_experiment_by_name(settings.experiment) is None:
        location = None if settings.mlflow_tracking_uri else settings.artifacts_dir.resolve().as_uri()
        client.create_experiment(settings.experiment, artifact_location=location)
    mlflow.set_experiment(settings.experiment)
    return client


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@contextmanager
def training_run(settings: Settings, *, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """An MLflow run; yields its id. A failure marks the run FAILED and registers nothing."""
    configure(settings)
    commit = _git_commit()
    all_tags = {**tags, **({"git_commit": commit, "mlflow.source.git.commit": commit} if commit else {})}
    with mlflow.start_run(run_name=run_name, tags=all_tags) as run:
        yield run.info.run_id


def log_params(params: dict[str, object]) -> None:
    mlflow.log_params({k: str(v) for k, v in params.items()})


def log_epoch(stage: str, epoch: int, values: dict[str, float]) -> None:
    mlflow.log_metrics({f"{stage}/{k}": float(v) for k, v in values.items()}, step=epoch)


def log_metrics(metrics: dict[str, float], *, prefix: str = "") -> None:
    mlflow.log_metrics({prefix + metric_key(k): float(v) for k, v in metrics.items()})


def log_json_artifact(payload: object, *, path: str) -> None:
    mlflow.log_dict(payload, path)  # type: ignore[arg-type]


def log_model(model: EmbeddingModel) -> str:
    """Log the pyfunc (with the embeddings as its artifact) in the active run; return its model URI."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "embeddings.npz"
        model.save(path)
        mlflow.log_artifact(str(path), artifact_path="embeddings")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LensflowPyfunc(),
            artifacts={"embeddings": str(path)},
            signature=SIGNATURE,
            input_example=pd.DataFrame({"movie_id": model.movie_ids[:3], "rating": [5.0, 4.0, 3.0]}),
            pip_requirements=["lensflow", "mlflow", "numpy", "pandas"],
        )
    return str(info.model_uri)


def register(settings: Settings, *, model_uri: str, run_id: str, metrics: dict[str, float]) -> int:
    client = configure(settings)
    tags = {metric_key(k): f"{v:.6f}" for k, v in metrics.items()}
    mv = mlflow.register_model(model_uri, settings.model_name, tags={**tags, "run_id": run_id})
    client.update_model_version(settings.model_name, mv.version, description=f"trained in run {run_id}")
    return int(mv.version)


def _info(client: MlflowClient, mv: Any) -> VersionInfo:
    run = client.get_run(mv.run_id) if mv.run_id else None
    return VersionInfo(
        name=mv.name,
        version=int(mv.version),
        run_id=mv.run_id or "",
        aliases=list(mv.aliases or []),
        metrics=dict(run.data.metrics) if run else {},
        tags=dict(mv.tags or {}),
    )


def get_version(settings: Settings, version: int) -> VersionInfo:
    client = configure(settings)
    try:
        return _info(client, client.get_model_version(settings.model_name, str(version)))
    except MlflowException as exc:
        raise RegistryError(f"model {settings.model_name} has no version {version}") from exc


def champion(settings: Settings) -> VersionInfo | None:
    client = configure(settings)
    try:
        mv = client.get_model_version_by_alias(settings.model_name, CHAMPION_ALIAS)
    except MlflowException:
        return None
    return _info(client, mv)


def load_embeddings(settings: Settings, version: int) -> EmbeddingModel:
    """The version's model via the pyfunc flavour, exactly as logged."""
    configure(settings)
    try:
        pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
    except MlflowException as exc:
        raise RegistryError(f"cannot load {settings.model_name} v{version}: {exc.message}") from exc
    wrapped = pyfunc.unwrap_python_model()
    assert isinstance(wrapped, LensflowPyfunc)
    return wrapped.model


def champion_history(settings: Settings) -> list[dict[str, Any]]:
    client = configure(settings)
    try:
        rm = client.get_registered_model(settings.model_name)
    except MlflowException:
        return []
    return list(json.loads(rm.tags.get(HISTORY_TAG, "[]")))


def move_champion(settings: Settings, *, version: int, action: str, reason: str) -> dict[str, Any]:
    """Point `champion` at `version` and record the move. Callers make sure its embeddings are loaded."""
    client = configure(settings)
    get_version(settings, version)
    current = champion(settings)
    entry = {
        "version": version,
        "previous": current.version if current else None,
        "action": action,
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    client.set_registered_model_alias(settings.model_name, CHAMPION_ALIAS, str(version))
    client.set_model_version_tag(settings.model_name, str(version), f"lensflow.{action}_at", entry["at"])
    history = [*champion_history(settings), entry][-HISTORY_KEEP:]
    client.set_registered_model_tag(settings.model_name, HISTORY_TAG, json.dumps(history))
    log.info("champion: v%s -> v%s (%s: %s)", entry["previous"], version, action, reason)
    return entry


def gate_allows(settings: Settings, *, candidate_ndcg: float) -> tuple[bool, str]:
    """The quality gate: promote unless the champion's NDCG@10 is strictly better."""
    current = champion(settings)
    if current is None:
        return True, "no champion yet"
    best = current.metrics.get(GATE_METRIC)
    if best is None:
        return True, f"champion v{current.version} has no {GATE_METRIC}"
    if candidate_ndcg >= best:
        return True, f"{GATE_METRIC} {candidate_ndcg:.4f} >= champion v{current.version}'s {best:.4f}"
    return False, f"{GATE_METRIC} {candidate_ndcg:.4f} < champion v{current.version}'s {best:.4f}"


def rollback_target(settings: Settings) -> int:
    """The champion before the current one, replaying the history as a stack (rollbacks pop)."""
    stack: list[int] = []
    for entry in champion_history(settings):
        if entry["action"] == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != entry["version"]:
                stack.append(int(entry["version"]))
        else:
            stack.append(int(entry["version"]))
    if len(stack) < 2:
        raise RegistryError("no earlier champion to roll back to")
    return stack[-2]


def evaluation_report(settings: Settings, run_id: str) -> dict[str, Any] | None:
    """The run's evaluation/report.json, or None when it has none."""
    configure(settings)
    try:
        payload = mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/report.json")
    except (MlflowException, OSError):
        return None
    return dict(payload)


# --- Tuning and quality reports (issue 4): nested runs and file artifacts -------------------------


@contextmanager
def parent_run(settings: Settings, *, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """A top-level run that groups nested ones (an Optuna study, a quality report); yields its id."""
    with training_run(settings, run_name=run_name, tags=tags) as run_id:
        yield run_id


@contextmanager
def nested_run(*, run_name: str, tags: dict[str, str] | None = None) -> Iterator[str]:
    """A child of the active run (one Optuna trial); a failure marks only this child FAILED."""
    with mlflow.start_run(run_name=run_name, nested=True, tags=tags or {}) as run:
        yield run.info.run_id


def log_artifact_file(path: Path, *, artifact_path: str | None = None) -> None:
    """Copy a local file into the active run's artifacts."""
    mlflow.log_artifact(str(path), artifact_path=artifact_path)
