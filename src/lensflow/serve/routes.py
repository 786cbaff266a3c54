"""Endpoints: validate, call one function, return a schema."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Annotated

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from lensflow.errors import LensflowError
from lensflow.serve import telemetry
from lensflow.serve.runtime import Runtime, ServiceUnavailable
from lensflow.serve.schemas import (
    MAX_ID,
    MAX_K,
    Health,
    ModelInfo,
    MovieOut,
    NewUserRequest,
    RatedMovieOut,
    Recommendations,
    ReloadResult,
    SimilarMovies,
    UserRatings,
)
from lensflow.serve.state import Snapshot, load_champion, publish, settle_heap
from lensflow.settings import CHAMPION_ALIAS
from lensflow.store import queries

log = logging.getLogger(__name__)
router = APIRouter()


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a sync dependency in a worker thread, a hand-off per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
K = Annotated[int, Query(ge=1, le=MAX_K, description="How many movies to return (1..100).")]
UserId = Annotated[int, PathParam(description="A MovieLens user id.")]
MovieId = Annotated[int, PathParam(description="A MovieLens movie id.")]


def _ranked(
    snap: Snapshot, kind: str, key: str, value: int | None, rows: list[queries.ScoredMovie]
) -> Response:
    """The answer of a ranking endpoint, serialised once by orjson (its schema is the route's response_model).

    Titles come from the snapshot; a stored vector whose movie is not in the catalogue is skipped, as an
    inner join with `movies` would skip it.
    """
    titles = snap.titles
    items = [
        {"movie_id": r.movie_id, "title": title, "score": r.score}
        for r in rows
        if (title := titles.get(r.movie_id)) is not None
    ]
    telemetry.RECOMMENDATIONS_SERVED.labels(kind).inc(len(items))
    body = orjson.dumps({key: value, "model_version": snap.version, "items": items})
    return Response(body, media_type="application/json")


@router.get("/recommendations/{user_id}", response_model=Recommendations, tags=["recommendations"])
async def recommend_for_user(user_id: UserId, request: Request, k: K = 10) -> Response:
    """Top-k movies for a known user, movies they rated excluded, best first."""
    runtime: Runtime = request.app.state.runtime
    snap = runtime.current()
    if user_id not in snap.users:
        raise HTTPException(404, f"user {user_id} is unknown to model v{snap.version}")
    rows = await runtime.query("user_recs", lambda c: snap.queries.for_user(c, user_id=user_id, k=k))
    return _ranked(snap, "user", "user_id", user_id, rows)


@router.post("/recommendations", response_model=Recommendations, tags=["recommendations"])
async def recommend_for_new_user(body: NewUserRequest, runtime: RuntimeDep) -> Response:
    """Top-k for a new user: their vector is folded in from the given ratings on request."""
    snap = runtime.current()
    movie_ids = np.array([r.movie_id for r in body.ratings], dtype=np.int64)
    unknown = [int(m) for m in movie_ids if int(m) not in snap.movies]
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise HTTPException(422, f"unknown movie id(s): {shown}")
    start = time.perf_counter()
    vector = snap.model.fold_in(snap.movies.positions(movie_ids))
    telemetry.MODEL_INFERENCE.labels("fold_in").observe(time.perf_counter() - start)
    exclude = movie_ids.tolist()
    rows = await runtime.query(
        "new_user_recs", lambda c: snap.queries.for_vector(c, vector=vector, exclude=exclude, k=body.k)
    )
    return _ranked(snap, "new_user", "user_id", None, rows)


@router.get("/movies/{movie_id}/similar", response_model=SimilarMovies, tags=["movies"])
async def similar_movies(movie_id: MovieId, request: Request, k: K = 10) -> Response:
    """Nearest movies by the cosine of their embeddings."""
    runtime: Runtime = request.app.state.runtime
    snap = runtime.current()
    if movie_id not in snap.movies:
        raise HTTPException(404, f"movie {movie_id} is unknown")
    rows = await runtime.query("similar", lambda c: snap.queries.similar(c, movie_id=movie_id, k=k))
    return _ranked(snap, "similar", "movie_id", movie_id, rows)


@router.get("/movies/search", response_model=list[MovieOut], tags=["movies"])
async def search_movies(
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Part of a title.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[MovieOut]:
    """Movies whose title contains `q`, case-insensitive; prefix matches first."""
    rows = await runtime.query(
        "search", lambda c: queries.search_movies(c, query=q.strip() or q, limit=limit)
    )
    return [MovieOut(movie_id=m.movie_id, title=m.title, year=m.year, genres=m.genres) for m in rows]


@router.get("/movies/{movie_id}", response_model=MovieOut, tags=["movies"])
async def get_movie(movie_id: MovieId, runtime: RuntimeDep) -> MovieOut:
    if not 1 <= movie_id <= MAX_ID:
        raise HTTPException(404, f"movie {movie_id} is unknown")
    rows = await runtime.query("movie", lambda c: queries.get_movies(c, movie_ids=[movie_id]))
    if not rows:
        raise HTTPException(404, f"movie {movie_id} is unknown")
    m = rows[0]
    return MovieOut(movie_id=m.movie_id, title=m.title, year=m.year, genres=m.genres)


@router.get("/users/{user_id}/ratings", response_model=UserRatings, tags=["users"])
async def user_ratings(
    user_id: UserId, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> UserRatings:
    """The user's highest-rated movies."""
    snap = runtime.current()
    if user_id not in snap.users:
        raise HTTPException(404, f"user {user_id} is unknown")
    rows = await runtime.query("user_ratings", lambda c: queries.top_rated(c, user_id=user_id, limit=limit))
    items = [
        RatedMovieOut(movie_id=m.movie_id, title=m.title, year=m.year, genres=m.genres, rating=m.rating)
        for m in rows
    ]
    return UserRatings(user_id=user_id, items=items)


@router.get("/model", response_model=ModelInfo, tags=["operations"])
async def model_info(runtime: RuntimeDep) -> ModelInfo:
    """The serving model: registry name, version, alias, run and offline metrics."""
    snap = runtime.current()
    return ModelInfo(
        name=snap.info.name,
        version=snap.version,
        alias=CHAMPION_ALIAS if CHAMPION_ALIAS in snap.info.aliases else None,
        run_id=snap.info.run_id,
        metrics=snap.offline_metrics(),
        loaded_at=snap.loaded_at,
        ndcg_curve=snap.ndcg_curve,
    )


@router.get("/healthz", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """Liveness: 200 while the process runs."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, tags=["operations"], responses={503: {"model": Health}})
async def readyz(runtime: RuntimeDep, response: Response) -> Health:
    """200 only when the database answers and a model with its embeddings is loaded."""
    snap = runtime.snapshot
    problem = None if snap is not None else "no model loaded"
    if problem is None:
        try:
            await runtime.query("ping", queries.ping)
        except ServiceUnavailable as exc:
            problem = exc.message
    telemetry.READY.set(1 if problem is None else 0)
    if problem is not None:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return Health(status="unavailable", model_version=snap.version if snap else None, detail=problem)
    assert snap is not None
    return Health(status="ready", model_version=snap.version)


@router.get("/metrics", tags=["operations"], include_in_schema=False)
async def metrics() -> Response:
    return Response(telemetry.render_latest(), media_type="text/plain; version=0.0.4; charset=utf-8")


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    runtime: Runtime = request.app.state.runtime
    token = runtime.settings.admin_token
    scheme, _, presented = (authorization or "").partition(" ")
    if token is None:
        raise HTTPException(
            401,
            "admin endpoints are disabled: set LENSFLOW_ADMIN_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = token.get_secret_value().encode()
    # compare_digest takes the same time wherever the first difference is.
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


@router.post(
    "/admin/reload", response_model=ReloadResult, tags=["operations"], dependencies=[Depends(require_admin)]
)
async def reload_model(runtime: RuntimeDep) -> ReloadResult:
    """Load the current champion and swap it in; requests in flight finish on the old snapshot."""
    async with runtime.reload_lock:
        previous = runtime.snapshot
        try:
            snapshot = await load_champion(runtime.settings, runtime.pool) if runtime.pool else None
        except LensflowError as exc:
            telemetry.RELOADS.labels("failure").inc()
            raise HTTPException(409, f"cannot reload: {exc}") from exc
        if snapshot is None:
            raise ServiceUnavailable("the service is starting")
        if previous is not None and previous.info.version == snapshot.info.version:
            telemetry.RELOADS.labels("unchanged").inc()
            return ReloadResult(previous_version=previous.version, version=previous.version, changed=False)
        runtime.snapshot = snapshot  # one reference swap: readers see the old or the new, never a mix
        publish(snapshot, previous)
        settle_heap()
        telemetry.RELOADS.labels("success").inc()
        log.info("reloaded: v%s -> v%s", previous.version if previous else None, snapshot.version)
        await asyncio.sleep(0)
        return ReloadResult(
            previous_version=previous.version if previous else None, version=snapshot.version, changed=True
        )
