"""The service keeps its long-lived heap out of the cycle collector's walk (full collections stalled it)."""

from __future__ import annotations

import gc
import time

from lensflow.serve.app import create_app
from lensflow.settings import Settings
from tests.conftest import run_coroutine


def test_startup_freezes_the_heap_so_full_collections_stay_short(trained: tuple[Settings, dict]) -> None:
    settings, _ = trained
    app = create_app(settings)
    gc.unfreeze()
    try:

        async def start_and_measure() -> tuple[int, bool, float]:
            async with app.router.lifespan_context(app):
                loaded = app.state.runtime.snapshot is not None
                frozen = gc.get_freeze_count()
                start = time.perf_counter()
                gc.collect()
                return frozen, loaded, time.perf_counter() - start

        frozen, loaded, after = run_coroutine(start_and_measure)
        gc.unfreeze()
        start = time.perf_counter()
        gc.collect()
        before = time.perf_counter() - start
    finally:
        gc.unfreeze()
    assert loaded
    assert frozen > 50_000  # MLflow, pandas, torch and the model are all out of the walk
    assert after < before / 3, (after, before)
