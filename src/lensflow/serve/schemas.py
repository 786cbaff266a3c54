"""Request and response bodies. Bounds live here so that bad input is a 422, never a 500."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_K = 100
MAX_RATINGS = 2000
MAX_ID = 2**31 - 1  # Postgres integer; larger ids cannot exist


class MovieScore(BaseModel):
    movie_id: int
    title: str
    score: float


class Recommendations(BaseModel):
    user_id: int | None = Field(description="The known user, or null for a new user's fold-in.")
    model_version: str
    items: list[MovieScore]


class SimilarMovies(BaseModel):
    movie_id: int
    model_version: str
    items: list[MovieScore]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    movie_id: int = Field(ge=1, le=MAX_ID, strict=True)
    # strict: a JSON number only; lax mode would take `true` as 1.0 and "4" as 4.0.
    rating: float = Field(ge=1, le=5, allow_inf_nan=False, strict=True)

    @field_validator("rating")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("rating must be a finite number from 1 to 5")
        return value


class NewUserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ratings: list[RatingIn] = Field(min_length=1, max_length=MAX_RATINGS)
    k: int = Field(default=10, ge=1, le=MAX_K, strict=True)

    @field_validator("ratings")
    @classmethod
    def _unique_movies(cls, ratings: list[RatingIn]) -> list[RatingIn]:
        seen: set[int] = set()
        for r in ratings:
            if r.movie_id in seen:
                raise ValueError(f"movie {r.movie_id} is rated more than once; rate each movie once")
            seen.add(r.movie_id)
        return ratings


class MovieOut(BaseModel):
    movie_id: int
    title: str
    year: int | None
    genres: list[str]


class RatedMovieOut(MovieOut):
    rating: int


class UserRatings(BaseModel):
    user_id: int
    items: list[RatedMovieOut]


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str | None
    run_id: str
    metrics: dict[str, float]
    loaded_at: float
    ndcg_curve: dict[str, float] = Field(default_factory=dict)


class ReloadResult(BaseModel):
    previous_version: str | None
    version: str
    changed: bool


class Health(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


class ErrorBody(BaseModel):
    error: str
    message: str
    details: list[dict[str, object]] | None = None
