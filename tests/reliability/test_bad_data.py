"""Broken dataset files through the CLI: a clear error naming file and line, and nothing written.

The home already holds a registered, loaded champion, so "nothing written" is checked against real
content: MLflow runs and versions, every Postgres table, the download folder.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest

from lensflow.data import MovieLens
from lensflow.settings import ML100K_MD5, Settings
from tests.conftest import REPO, make_settings, new_database, settings_env
from tests.reliability.support import seed_champion, table_counts

ARCHIVE_FILES = ("u.data", "u.item", "u.user", "u.genre")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str, dataset: MovieLens) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("bad-data"), new_database(pg_server_url))
    seed_champion(settings, dataset, seed=9)
    return settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("served")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    server.daemon_threads, server.block_on_close = True, False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def written_state(settings: Settings) -> dict[str, object]:
    """Everything a pipeline run could write: MLflow runs, versions and tags; every table; downloads."""
    with sqlite3.connect(f"file:{settings.home / 'mlflow.db'}?mode=ro", uri=True) as db:
        mlflow = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()
            for table in ("runs", "metrics", "params", "model_versions", "registered_model_tags")
        }
    with psycopg.connect(str(settings.database_url)) as conn:
        meta = conn.execute("SELECT fingerprint, loaded_at FROM catalog_meta").fetchall()
        sets = conn.execute("SELECT version, checksum, loaded_at FROM embedding_sets").fetchall()
    downloads = (
        sorted(p.name for p in settings.download_dir.iterdir()) if settings.download_dir.exists() else []
    )
    return {
        "mlflow": mlflow,
        "tables": table_counts(str(settings.database_url)),
        "catalog": meta,
        "sets": sets,
        "downloads": downloads,
    }


def run_pipeline(
    settings: Settings, *, data_dir: Path | None = None, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings)
    del env["LENSFLOW_DATA_DIR"]
    if data_dir is not None:
        env["LENSFLOW_DATA_DIR"] = str(data_dir)
    if url is not None:
        env["LENSFLOW_DATASET_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "lensflow.cli", "pipeline", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 3, (done.returncode, done.stderr[-2000:])  # DataError's exit code
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    for fragment in fragments:
        assert fragment in last, (fragment, last)


def dataset_copy(ml100k_dir: Path, target: Path) -> Path:
    target.mkdir()
    for name in ARCHIVE_FILES:
        shutil.copyfile(ml100k_dir / name, target / name)
    return target


def zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in ARCHIVE_FILES:
            bundle.write(folder / name, f"ml-100k/{name}")
    return buffer.getvalue()


def replace_line(path: Path, number: int, line: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = line
    path.write_bytes(b"\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["truncated", "other-bytes"])
def test_bad_download_is_refused_and_removed(
    home: Settings, served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path, name: str
) -> None:
    """A truncated archive, or a whole one that is not the published file: the MD5 check refuses both."""
    base, folder = served
    archive = zip_of(dataset_copy(ml100k_dir, tmp_path / "ml-100k"))
    if name == "truncated":
        archive = archive[: len(archive) // 2]
    assert hashlib.md5(archive, usedforsecurity=False).hexdigest() != ML100K_MD5
    (folder / f"{name}.zip").write_bytes(archive)
    before = written_state(home)
    done = run_pipeline(home, url=f"{base}/{name}.zip")
    assert_refused(done, "ml-100k.zip", "MD5 mismatch", ML100K_MD5)
    assert written_state(home) == before, "a refused download left something behind"


@pytest.mark.slow
@pytest.mark.parametrize(
    "file, line, content, fragments",
    [
        ("u.data", 42, b"196\t242\tthree\t881250949", ["expected 4 tab-separated integers"]),
        ("u.data", 99_999, b"196\t99999\t3\t881250949", ["movie_id 99999 is not in u.item"]),
        ("u.data", 1_000, b"196\t242\t3\t88125094\xe9", ["non-ASCII byte 0xe9"]),  # Latin-1
    ],
    ids=["non-numeric", "unknown-movie", "latin1-byte"],
)
def test_bad_file_names_file_and_line_and_writes_nothing(
    home: Settings,
    ml100k_dir: Path,
    tmp_path: Path,
    file: str,
    line: int,
    content: bytes,
    fragments: list[str],
) -> None:
    data = dataset_copy(ml100k_dir, tmp_path / "ml-100k")
    replace_line(data / file, line, content)
    before = written_state(home)
    done = run_pipeline(home, data_dir=data)
    assert_refused(done, f"{file}:{line}:", *fragments)
    assert written_state(home) == before


@pytest.mark.slow
def test_titles_in_mixed_utf8_and_latin1_are_refused(
    home: Settings, ml100k_dir: Path, tmp_path: Path
) -> None:
    """One title re-saved as UTF-8 among Latin-1 ones would load as mojibake ("MisÃ©rables") unnoticed."""
    data = dataset_copy(ml100k_dir, tmp_path / "ml-100k")
    lines = (data / "u.item").read_bytes().split(b"\n")
    assert b"Mis\xe9rables" in lines[542]  # the published file is Latin-1
    lines[542] = lines[542].decode("latin-1").encode("utf-8")
    (data / "u.item").write_bytes(b"\n".join(lines))
    before = written_state(home)
    assert_refused(run_pipeline(home, data_dir=data), "u.item:543:", "UTF-8", "Latin-1")
    assert written_state(home) == before
