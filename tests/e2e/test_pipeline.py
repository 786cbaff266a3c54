"""The whole flow from the CLI: pipeline JSON, the gate, promote/rollback history, bad data refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import psycopg
import pytest

from lensflow.settings import Settings
from tests.conftest import make_settings, new_database, run_cli

METRIC_KEYS = {"ndcg@10", "precision@10", "recall@10", "map@10", "rmse", "coverage@10"}


def test_pipeline_json_matches_the_contract(trained: tuple[Settings, dict]) -> None:
    result = trained[1]
    assert (
        result["model_name"] == "lensflow" and result["model_version"] == "1" and result["promoted"] is True
    )
    assert result["protocol"] == "ms-stratified-75-25-seed42"
    assert set(result["metrics"]) == METRIC_KEYS
    assert result["baseline"]["name"] == "popularity"
    assert {"ndcg@10", "precision@10", "recall@10", "map@10"} <= set(result["baseline"])
    assert {"data", "train", "evaluate", "register", "load"} <= set(result["timings_s"])


def test_served_answer_comes_from_the_registered_champion(
    live_api: str, trained: tuple[Settings, dict]
) -> None:
    settings, result = trained
    body = httpx.get(f"{live_api}/recommendations/1", params={"k": 10}).json()
    assert body["model_version"] == result["model_version"]
    with psycopg.connect(str(settings.database_url)) as conn:
        rated = {r[0] for r in conn.execute("SELECT movie_id FROM ratings WHERE user_id = 1")}
        serving = conn.execute("SELECT version FROM serving WHERE model_name = 'lensflow'").fetchone()
    assert serving == (int(result["model_version"]),)
    assert len(body["items"]) == 10 and not rated & {i["movie_id"] for i in body["items"]}


@pytest.mark.slow
def test_gate_promote_rollback_and_history(tmp_path: Path, pg_server_url: str) -> None:
    settings = make_settings(tmp_path / "home", new_database(pg_server_url))
    first = json.loads(run_cli(settings, "pipeline", "--json", "--epochs", "6").stdout)
    worse = run_cli(settings, "pipeline", "--json", "--epochs", "1")
    second = json.loads(worse.stdout)
    assert first["promoted"] is True and first["model_version"] == "1"
    assert second["model_version"] == "2"
    assert second["promoted"] is (second["metrics"]["ndcg@10"] >= first["metrics"]["ndcg@10"])
    assert second["promoted"] is False, "one epoch should not beat six"

    assert run_cli(settings, "promote", "2").returncode == 0
    assert run_cli(settings, "rollback").returncode == 0
    history = json.loads(run_cli(settings, "history", "--json").stdout)
    assert [(h["action"], h["previous"], h["version"]) for h in history] == [
        ("gate", None, 1),
        ("promote", 1, 2),
        ("rollback", 2, 1),
    ]
    again = run_cli(settings, "rollback")
    assert again.returncode != 0 and "no earlier champion" in again.stderr
    bad = run_cli(settings, "promote", "99")
    assert bad.returncode != 0 and "no version 99" in bad.stderr


def test_bad_data_stops_before_anything_is_written(
    tmp_path: Path, pg_server_url: str, ml100k_dir: Path
) -> None:
    data = tmp_path / "ml-100k"
    shutil.copytree(ml100k_dir, data)
    lines = (data / "u.data").read_text().splitlines()
    lines[41] = "1\t2\t9\t881250949"  # rating 9 on line 42
    (data / "u.data").write_text("\n".join(lines) + "\n")
    db = new_database(pg_server_url)
    settings = make_settings(tmp_path / "home", db)
    done = run_cli(settings, "pipeline", "--json", "--data-dir", str(data))
    assert done.returncode != 0
    assert "u.data" in done.stderr and "42" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (settings.home / "mlflow.db").exists()
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT to_regclass('movies')").fetchone() == (None,)
