"""One settings object for the whole system; read from the environment, passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_NAME = "lensflow"
CHAMPION_ALIAS = "champion"
ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_MD5 = "0e33842e24a9c977be4e0107933c0723"


class Settings(BaseSettings):
    """Settings with the `LENSFLOW_` prefix, plus the standard `DATABASE_URL` and `MLFLOW_TRACKING_URI`."""

    model_config = SettingsConfigDict(env_prefix="LENSFLOW_", extra="ignore")

    home: Path = Field(default=Path(".lensflow"), description="State dir: embedded Postgres, MLflow, data.")
    data_dir: Path | None = Field(default=None, description="An unpacked ml-100k folder; else download.")
    dataset_url: str = ML100K_URL
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "LENSFLOW_DATABASE_URL"),
        description="Any Postgres with pgvector; unset means the embedded server under home/pg.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "LENSFLOW_MLFLOW_TRACKING_URI"),
        description="MLflow tracking + registry; unset means SQLite under home.",
    )
    experiment: str = "lensflow"
    model_name: str = MODEL_NAME
    admin_token: SecretStr | None = Field(default=None, description="Bearer token for /admin/*.")
    host: str = "127.0.0.1"
    port: int = 8000
    pool_min_size: int = 2
    pool_max_size: int = 8
    db_timeout_s: float = Field(default=0.8, description="Longest wait for a pooled connection or a query.")
    registry_poll_s: float = Field(default=30.0, description="How often the API reads the champion alias.")
    keep_versions: int = Field(
        default=5, description="Embedding sets kept in Postgres besides the serving one."
    )

    @property
    def pg_dir(self) -> Path:
        return self.home / "pg"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def download_dir(self) -> Path:
        return self.home / "data"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
