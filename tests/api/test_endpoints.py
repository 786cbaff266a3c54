"""Every endpoint of the real service, over HTTP, against the trained champion."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from lensflow.settings import Settings
from tests.conftest import ADMIN_TOKEN


@pytest.fixture(scope="module")
def client(live_api: str) -> httpx.Client:
    return httpx.Client(base_url=live_api, timeout=10)


def rated_by(settings: Settings, user_id: int) -> set[int]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return {r[0] for r in conn.execute("SELECT movie_id FROM ratings WHERE user_id = %s", (user_id,))}


def assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["error"], str)
    return body


def test_recommendations_for_known_user_exclude_rated(
    client: httpx.Client, trained: tuple[Settings, dict]
) -> None:
    settings, result = trained
    body = client.get("/recommendations/1", params={"k": 10}).json()
    assert body["user_id"] == 1 and body["model_version"] == result["model_version"]
    ids = [item["movie_id"] for item in body["items"]]
    assert len(ids) == len(set(ids)) == 10
    assert not set(ids) & rated_by(settings, 1)
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(item["title"] for item in body["items"])


@pytest.mark.parametrize("k", [1, 37, 100])
def test_k_is_honoured(client: httpx.Client, k: int) -> None:
    assert len(client.get("/recommendations/5", params={"k": k}).json()["items"]) == k


def test_unknown_user_is_404_and_bad_k_is_422(client: httpx.Client) -> None:
    assert "unknown" in assert_error(client.get("/recommendations/99999"), 404)["message"]
    assert_error(client.get("/recommendations/-3"), 404)
    assert_error(client.get("/recommendations/abc"), 422)
    for k in (0, 101, -1, "x"):
        assert_error(client.get("/recommendations/1", params={"k": k}), 422)


def test_new_user_fold_in(client: httpx.Client) -> None:
    ratings = [{"movie_id": 1, "rating": 5}, {"movie_id": 50, "rating": 4}, {"movie_id": 181, "rating": 5}]
    body = client.post("/recommendations", json={"ratings": ratings, "k": 5}).json()
    assert body["user_id"] is None and len(body["items"]) == 5
    assert not {1, 50, 181} & {i["movie_id"] for i in body["items"]}


@pytest.mark.parametrize(
    "payload",
    [
        {"ratings": []},
        {"ratings": [{"movie_id": 99999, "rating": 4}]},
        {"ratings": [{"movie_id": 1, "rating": 6}]},
        {"ratings": [{"movie_id": 1, "rating": 0}]},
        {"ratings": [{"movie_id": 1, "rating": 4}, {"movie_id": 1, "rating": 5}]},
        {"ratings": [{"movie_id": 1, "rating": 4}], "k": 0},
        {"ratings": [{"movie_id": "one", "rating": 4}]},
        {"ratings": "lots"},
        {},
    ],
)
def test_new_user_bad_input_is_422(client: httpx.Client, payload: dict) -> None:
    assert_error(client.post("/recommendations", json=payload), 422)


def test_non_json_body_is_422(client: httpx.Client) -> None:
    r = client.post("/recommendations", content=b"not json", headers={"content-type": "application/json"})
    assert_error(r, 422)


def test_similar_movies(client: httpx.Client) -> None:
    body = client.get("/movies/1/similar", params={"k": 10}).json()
    assert body["movie_id"] == 1 and len(body["items"]) == 10
    assert 1 not in {i["movie_id"] for i in body["items"]}
    assert all(-1.0001 <= i["score"] <= 1.0001 for i in body["items"])
    assert_error(client.get("/movies/99999/similar"), 404)
    assert_error(client.get("/movies/1/similar", params={"k": 1000}), 422)


def test_search_and_user_ratings(client: httpx.Client) -> None:
    found = client.get("/movies/search", params={"q": "star wars"}).json()
    assert found[0]["title"] == "Star Wars (1977)"
    assert client.get("/movies/search", params={"q": "%_%"}).json() == []  # wildcards are literal
    top = client.get("/users/1/ratings", params={"limit": 5}).json()["items"]
    assert len(top) == 5 and all(m["rating"] == 5 for m in top)
    assert_error(client.get("/users/0/ratings"), 404)


def test_model_health_ready(client: httpx.Client, trained: tuple[Settings, dict]) -> None:
    model = client.get("/model").json()
    assert model["name"] == "lensflow" and model["alias"] == "champion"
    assert model["version"] == trained[1]["model_version"] and model["run_id"] == trained[1]["run_id"]
    assert model["metrics"]["ndcg@10"] == pytest.approx(trained[1]["metrics"]["ndcg@10"], abs=1e-6)
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json() == {
        "status": "ready",
        "model_version": model["version"],
        "detail": None,
    }


def test_metrics_exposition(client: httpx.Client) -> None:
    client.get("/recommendations/2")
    text = client.get("/metrics").text
    assert (
        'lensflow_http_requests_total{method="GET",route="/recommendations/{user_id}",status_class="2xx"}'
        in text
    )
    assert "lensflow_http_request_duration_seconds_bucket" in text
    assert 'lensflow_db_query_seconds_count{query="user_recs"}' in text
    assert "lensflow_serving_model_version" in text and 'lensflow_model_info{name="lensflow"' in text
    assert 'lensflow_recommendations_served_total{kind="user"}' in text
    assert "/recommendations/2" not in text  # labels are templates, never ids


def test_admin_needs_the_bearer_token(client: httpx.Client) -> None:
    assert_error(client.post("/admin/reload"), 401)
    assert_error(client.post("/admin/reload", headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(client.post("/admin/reload", headers={"Authorization": ADMIN_TOKEN}), 401)
    ok = client.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200 and ok.json()["changed"] is False


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/nope"), 404)
    assert_error(client.delete("/recommendations/1"), 405)
