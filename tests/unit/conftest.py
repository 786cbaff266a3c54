"""Fixtures shared by the unit tests: the shipped MovieLens 100k files, and copies to corrupt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lensflow.data import MovieLens, load_movielens

# The files a test folder needs to load as a dataset, plus the official u1 split.
DATASET_FILES = ("u.data", "u.item", "u.user", "u.genre", "u1.base", "u1.test")


def shipped_data_dir() -> Path:
    """LENSFLOW_DATA_DIR if set, else the shared copy beside the repository: <repo>/../shared/data/ml-100k."""
    explicit = os.environ.get("LENSFLOW_DATA_DIR")
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k"


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    path = shipped_data_dir()
    if not (path / "u.data").is_file():
        # Failing, not skipping: a suite that silently skips its data tests proves nothing.
        pytest.fail(
            f"MovieLens 100k not found at {path}; set LENSFLOW_DATA_DIR to an unpacked ml-100k folder"
        )
    return path


@pytest.fixture(scope="session")
def movielens(ml100k_dir: Path) -> MovieLens:
    return load_movielens(ml100k_dir)


@pytest.fixture
def dataset_copy(ml100k_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the dataset files for a test to corrupt."""
    copy = tmp_path / "ml-100k"
    copy.mkdir()
    for name in DATASET_FILES:
        # copyfile, not copy: the shipped files are read-only and their mode must not follow.
        shutil.copyfile(ml100k_dir / name, copy / name)
    return copy
