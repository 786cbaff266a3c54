"""The page's four jobs, driven in Chromium and checked against the API and the database behind it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect

from lensflow.settings import Settings
from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def api(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api, timeout=10) as client:
        yield client


def rated_by(settings: Settings, user_id: int) -> set[int]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return {r[0] for r in conn.execute("SELECT movie_id FROM ratings WHERE user_id = %s", (user_id,))}


def shown_ids(page: Page, selector: str) -> list[int]:
    ids = page.locator(f"{selector} > li").evaluate_all("rows => rows.map(r => r.dataset.movieId)")
    return [int(i) for i in ids]


def shown_scores(page: Page, selector: str) -> list[float]:
    return [float(t) for t in page.locator(f"{selector} .score").all_inner_texts()]


def first_match(api: httpx.Client, query: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = api.get("/movies/search", params={"q": query, "limit": 1}).json()
    assert found, f"no movie matches {query!r}"
    return found[0]


def test_home_shows_the_serving_model_and_its_ndcg_curve(
    tab: Tab, api: httpx.Client, trained: tuple[Settings, dict[str, object]]
) -> None:
    page = tab.open()
    model = api.get("/model").json()
    assert model["version"] == trained[1]["model_version"]
    expect(page.locator("#model-badge")).to_have_text(f"{model['name']} v{model['version']} · champion")
    for label, key in [("NDCG@10", "ndcg@10"), ("Recall@10", "recall@10"), ("RMSE", "rmse")]:
        card = page.locator("#model-metrics .metric.headline", has=page.get_by_text(label, exact=True))
        expect(card.locator("dd")).to_have_text(f"{model['metrics'][key]:.3f}")
    # The plot is drawn from ndcg_curve: one point per k, the k=10 point called out with its value.
    curve = model["ndcg_curve"]
    assert len(curve) >= 2, "the evaluation report should carry an NDCG@k curve"
    expect(page.locator("#ndcg-plot circle")).to_have_count(len(curve))
    points = page.locator("#ndcg-plot polyline").get_attribute("points") or ""
    assert len(points.split()) == len(curve)
    expect(page.locator("#ndcg-plot .callout")).to_have_text(f"@10: {curve['10']:.3f}")
    # Higher NDCG is drawn higher: SVG y grows downwards.
    ys = {int(k): float(p.split(",")[1]) for k, p in zip(sorted(curve, key=int), points.split(), strict=True)}
    best, worst = max(curve, key=curve.__getitem__), min(curve, key=curve.__getitem__)
    assert ys[int(best)] < ys[int(worst)]
    tab.shot("01-home-model-panel")


def test_user_sees_top_rated_beside_ten_unseen_recommendations(
    tab: Tab, api: httpx.Client, trained: tuple[Settings, dict[str, object]]
) -> None:
    settings, result = trained
    page = tab.open()
    page.get_by_label("User id").fill("1")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#user-recs > li")).to_have_count(10)

    recs = shown_ids(page, "#user-recs")
    assert len(set(recs)) == 10
    assert not set(recs) & rated_by(settings, 1), "a movie user 1 already rated was recommended"
    assert recs == [m["movie_id"] for m in api.get("/recommendations/1", params={"k": 10}).json()["items"]]
    scores = shown_scores(page, "#user-recs")
    assert scores == sorted(scores, reverse=True), "recommendations are not shown best first"

    top = api.get("/users/1/ratings", params={"limit": 10}).json()["items"]
    assert shown_ids(page, "#user-rated") == [m["movie_id"] for m in top]
    first = page.locator("#user-rated > li").first
    expect(first.locator(".year")).to_have_text(str(top[0]["year"]))
    expect(first.locator(".genres")).to_have_text(" · ".join(top[0]["genres"]))
    expect(first.get_by_role("img")).to_have_attribute("aria-label", f"rated {top[0]['rating']} of 5")

    version = result["model_version"]
    expect(page.locator("#user-model")).to_contain_text(f"lensflow v{version}")
    expect(page.locator("#user-msg")).to_contain_text(f"lensflow v{version}")
    assert "#user=1" in page.url
    tab.shot("02-user-1")


def test_search_as_you_type_then_open_a_movie_and_its_neighbours(tab: Tab, api: httpx.Client) -> None:
    page = tab.open()
    box = page.get_by_label("Title", exact=True)
    box.press_sequentially("star")
    expect(page.locator("#search-msg")).to_contain_text("“star”")
    searches = [u for u in tab.requests if "/movies/search" in u]
    # Debounced: four quick keystrokes make fewer requests than keystrokes, the last for the whole word.
    assert 1 <= len(searches) < 4 and searches[-1].endswith("q=star&limit=8"), searches
    expected = api.get("/movies/search", params={"q": "star", "limit": 8}).json()
    assert shown_ids(page, "#search-results") == [m["movie_id"] for m in expected]
    for title in page.locator("#search-results .link").all_inner_texts():
        assert "star" in title.lower()

    star_wars = first_match(api, "star wars")
    row = page.locator(f"#search-results > li[data-movie-id='{star_wars['movie_id']}']")
    row.get_by_role("button", name="Star Wars").click()
    expect(page.locator("#movie-title")).to_have_text("Star Wars (1977)")
    expect(page.locator("#movie-title")).to_be_focused()
    expect(page.locator("#movie-similar > li")).to_have_count(10)
    similar = api.get(f"/movies/{star_wars['movie_id']}/similar", params={"k": 10}).json()["items"]
    assert shown_ids(page, "#movie-similar") == [m["movie_id"] for m in similar]
    assert star_wars["movie_id"] not in shown_ids(page, "#movie-similar")
    tab.shot("03-search-star-similar")

    # A neighbour's title opens that movie in turn.
    neighbour = page.locator("#movie-similar > li").first
    neighbour.locator(".link").click()
    expect(page.locator("#movie-detail")).to_have_attribute("data-movie-id", str(similar[0]["movie_id"]))


def rate(page: Page, query: str, movie_id: int, stars: int) -> None:
    page.get_by_label("Find movies to rate").fill(query)
    expect(page.locator("#cold-search-msg")).to_contain_text(f"“{query}”")
    row = page.locator(f"#cold-results > li[data-movie-id='{movie_id}']")
    row.locator("label").nth(stars - 1).click()
    expect(row.locator("input:checked")).to_have_value(str(stars))


def test_cold_start_recommendations_follow_each_rating(tab: Tab, api: httpx.Client) -> None:
    page = tab.open()
    wanted = [("toy story", 5), ("star wars", 5), ("the godfather", 4)]
    movies = [first_match(api, q.removeprefix("the ")) for q, _ in wanted]
    posts: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: posts.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None,
    )

    rate(page, wanted[0][0], int(movies[0]["movie_id"]), wanted[0][1])
    expect(page.locator("#cold-recs > li")).to_have_count(10)
    expect(page.locator("#cold-msg")).to_contain_text("1 rating")
    after_one = shown_ids(page, "#cold-recs")

    for (query, stars), movie in zip(wanted[1:], movies[1:], strict=True):
        rate(page, query, int(movie["movie_id"]), stars)
    expect(page.locator("#cold-msg")).to_contain_text("3 ratings")
    expect(page.locator("#cold-count")).to_have_text("3")
    expect(page.locator("#cold-rated > li")).to_have_count(3)

    ratings = [{"movie_id": m["movie_id"], "rating": s} for m, (_, s) in zip(movies, wanted, strict=True)]
    body = {"ratings": ratings, "k": 10}
    assert posts[-1] == body, "the last request should carry all three ratings"
    recs = shown_ids(page, "#cold-recs")
    assert len(set(recs)) == 10
    assert not set(recs) & {int(m["movie_id"]) for m in movies}, "a movie just rated was recommended"
    assert recs == [m["movie_id"] for m in api.post("/recommendations", json=body).json()["items"]]
    assert recs != after_one, "recommendations did not change as ratings were added"
    tab.shot("04-cold-start-3-ratings")

    # Removing a rating takes it out of the next request.
    page.get_by_role("button", name=re.compile(r"^Remove your rating for Toy Story")).click()
    expect(page.locator("#cold-msg")).to_contain_text("2 ratings")
    assert [r["movie_id"] for r in posts[-1]["ratings"]] == [m["movie_id"] for m in movies[1:]]
