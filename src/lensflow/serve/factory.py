"""Entry point for uvicorn's worker processes (`--workers N` needs an import string)."""

from __future__ import annotations

from fastapi import FastAPI

from lensflow.serve.app import create_app
from lensflow.settings import Settings


def app() -> FastAPI:
    return create_app(Settings())
