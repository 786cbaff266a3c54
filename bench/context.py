"""What every suite gets: the bench home, the shared Postgres, the run's scale, and where results go."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.env import RESULTS, Postgres, clean_env, machine_info
from lensflow.settings import Settings

log = logging.getLogger("bench")
ML100K_DB = "postgres"  # where `lensflow pipeline` loads with the embedded defaults


@dataclass(frozen=True)
class Target:
    """One row of the issue's target table: what was promised and what was measured."""

    figure: str
    target: str
    measured: float | None
    unit: str
    met: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "target": self.target,
            "measured": self.measured,
            "unit": self.unit,
            "met": self.met,
            "note": self.note,
        }


def at_most(figure: str, limit: float, measured: float | None, unit: str, note: str = "") -> Target:
    met = None if measured is None else measured <= limit
    return Target(figure, f"<= {limit:g} {unit}", measured, unit, met, note)


def at_least(figure: str, limit: float, measured: float | None, unit: str, note: str = "") -> Target:
    met = None if measured is None else measured >= limit
    return Target(figure, f">= {limit:g} {unit}", measured, unit, met, note)


@dataclass
class Context:
    home: Path
    pg: Postgres
    quick: bool
    save_as: str | None = None  # one suite's result under another name (before/after comparisons)
    results_dir: Path = RESULTS
    shared: dict[str, Any] = field(default_factory=dict)  # figures one suite hands to another

    def settings(self, home: Path | None = None, dbname: str = ML100K_DB) -> Settings:
        return Settings(home=home or self.home, database_url=self.pg.url(dbname), mlflow_tracking_uri=None)

    def env(self, home: Path | None = None, dbname: str | None = None) -> dict[str, str]:
        extra = {"LENSFLOW_HOME": str(home or self.home)}
        if dbname is not None:
            extra["DATABASE_URL"] = self.pg.url(dbname)
        return clean_env(**extra)

    def connect(self, dbname: str = ML100K_DB) -> psycopg.Connection:
        return psycopg.connect(self.pg.url(dbname), autocommit=True)

    def write(self, name: str, payload: dict[str, Any], targets: list[Target]) -> Path:
        """bench/results/<name>.json with machine info and a timestamp."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        if self.save_as and name != "pipeline":
            name = self.save_as
        doc = {
            "name": name,
            "quick": self.quick,
            "machine": machine_info(self.pg),
            "targets": [t.as_dict() for t in targets],
            **payload,
        }
        path = self.results_dir / f"{name}.json"
        path.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
        log.info("wrote %s", path.name)
        return path


def _jsonable(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return value.name
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
