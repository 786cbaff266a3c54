"""Fixtures of the reliability tests; the servers, registries and API processes are real."""

from __future__ import annotations

from pathlib import Path

import pytest

from lensflow.data import MovieLens, load_movielens


@pytest.fixture(scope="session")
def dataset(ml100k_dir: Path) -> MovieLens:
    return load_movielens(ml100k_dir)
