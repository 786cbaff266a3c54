"""Errors a user can cause, each with a message that says what was wrong and what to do."""

from __future__ import annotations

from pathlib import Path


class LensflowError(Exception):
    """Base class for errors reported to the user without a traceback."""

    exit_code = 1


class DataError(LensflowError):
    """A dataset file is missing, corrupt or holds an invalid record."""

    exit_code = 3

    def __init__(self, file: Path | str, reason: str, line: int | None = None) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {reason}")


class RegistryError(LensflowError):
    """The model registry does not hold what was asked for."""

    exit_code = 4


class StoreError(LensflowError):
    """The vector store is unreachable or lacks the requested model version."""

    exit_code = 5
