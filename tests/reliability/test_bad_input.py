"""Hand-written hostile input against the live service: each is refused with a JSON 4xx, never a 5xx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

BIG_IDS = ["2147483648", "9223372036854775807", "9223372036854775808", "1" + "0" * 40]
ID_PATHS = ["/recommendations/{}", "/movies/{}/similar", "/movies/{}", "/users/{}/ratings"]


@pytest.fixture(scope="module")
def client(live_api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api, timeout=10) as c:
        yield c


def assert_json_error(response: httpx.Response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("error"), str), body
    return body


def new_user(ratings: object, k: object = 5) -> dict[str, object]:
    return {"ratings": ratings, "k": k}


@pytest.mark.parametrize("template", ID_PATHS)
@pytest.mark.parametrize("raw", ["-1", "0", *BIG_IDS])
def test_out_of_range_ids_are_unknown(client: httpx.Client, template: str, raw: str) -> None:
    assert_json_error(client.get(template.format(raw)), 404)


@pytest.mark.parametrize("template", ID_PATHS)
@pytest.mark.parametrize("raw", ["abc", "1.5", "1e3", "0x10", "%F0%9F%8E%AC", "%00", "1%20OR%201=1", "NaN"])
def test_non_numeric_ids_are_422(client: httpx.Client, template: str, raw: str) -> None:
    assert_json_error(client.get(template.format(raw)), 422)


@pytest.mark.parametrize("raw", ["١٢٣", "１２３", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%ff%fe"])
def test_unicode_digits_and_traversal_never_break_the_service(client: httpx.Client, raw: str) -> None:
    for template in ID_PATHS:
        r = client.get(template.format(raw))
        if r.status_code != 200:  # some runtimes read Unicode digits as numbers; either way no 5xx
            assert_json_error(r, 404, 422)


@pytest.mark.parametrize("k", ["101", "0", "-1", "1" + "0" * 30, "1e2", "ten", "", "%00"])
def test_k_out_of_bounds_is_422(client: httpx.Client, k: str) -> None:
    for path in ("/recommendations/1", "/movies/1/similar"):
        assert_json_error(client.get(f"{path}?k={k}"), 422)
    assert_json_error(client.post("/recommendations", json=new_user([{"movie_id": 1, "rating": 4}], k)), 422)


def test_largest_k_is_served(client: httpx.Client) -> None:
    assert len(client.get("/recommendations/1?k=100").json()["items"]) == 100
    assert len(client.get("/movies/1/similar?k=100").json()["items"]) == 100


@pytest.mark.parametrize(
    "q, matches",
    [
        ("🎬🍿", False),
        ("Amélie", None),
        ("%", False),  # LIKE wildcards are literal: "%" must not match every title
        ("_", False),
        ("\\", False),
        ("'; DROP TABLE movies; --", False),
        ("ß" * 100, False),
        ("   ", None),
    ],
)
def test_search_text_is_literal(client: httpx.Client, q: str, matches: bool | None) -> None:
    r = client.get("/movies/search", params={"q": q})
    assert r.status_code == 200, r.text
    if matches is False:
        assert r.json() == []


@pytest.mark.parametrize("q", ["", "x" * 101, "a\x00b", "\x00"])
def test_bad_search_text_is_422(client: httpx.Client, q: str) -> None:
    assert_json_error(client.get("/movies/search", params={"q": q}), 422)


def test_ten_megabyte_body_is_413(client: httpx.Client) -> None:
    huge = b'{"ratings": [' + b" " * 10_000_000 + b"]}"
    assert_json_error(client.post("/recommendations", content=huge), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming too
        yield b'{"ratings": ['
        for _ in range(100):
            yield b" " * 100_000
        yield b"]}"

    body = assert_json_error(client.post("/recommendations", content=chunks()), 413)
    assert "exceeds" in body["message"]


def test_ten_thousand_ratings_are_refused_fast(client: httpx.Client) -> None:
    ratings = [{"movie_id": i % 1682 + 1, "rating": 4} for i in range(10_000)]
    started = time.monotonic()
    body = assert_json_error(client.post("/recommendations", json=new_user(ratings)), 422)
    assert time.monotonic() - started < 2.0
    assert "at most" in body["message"]


def test_duplicate_movies_are_422_naming_the_movie(client: httpx.Client) -> None:
    ratings = [{"movie_id": 50, "rating": 5}, {"movie_id": 7, "rating": 3}, {"movie_id": 50, "rating": 1}]
    body = assert_json_error(client.post("/recommendations", json=new_user(ratings)), 422)
    assert "50" in body["message"]


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", '"NaN"', '"inf"', "true"]
)
def test_non_finite_or_non_numeric_ratings_are_422(client: httpx.Client, literal: str) -> None:
    raw = '{"ratings": [{"movie_id": 1, "rating": ' + literal + '}], "k": 5}'
    headers = {"content-type": "application/json"}
    assert_json_error(client.post("/recommendations", content=raw, headers=headers), 422)


@pytest.mark.parametrize(
    "movie_id", [0, -1, 2**31, 2**63, 10**30, 1.0, "1", True, None, [1], {"id": 1}, 99999]
)
def test_bad_movie_ids_in_the_body_are_422(client: httpx.Client, movie_id: object) -> None:
    assert_json_error(
        client.post("/recommendations", json=new_user([{"movie_id": movie_id, "rating": 4}])), 422
    )


@pytest.mark.parametrize(
    "content_type, content",
    [
        ("text/plain", json.dumps(new_user([{"movie_id": 1, "rating": 4}]))),
        ("application/x-www-form-urlencoded", "ratings=1&k=5"),
        ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--"),
        ("application/xml", "<ratings/>"),
        ("application/json", "{not json"),
        ("application/json", ""),
        ("application/json; charset=latin-1", '{"ratings": "\xe9"}'),
        ("application/json", "[" * 100_000 + "]" * 100_000),
        ("application/json", '{"ratings": ' + "[" * 5_000 + "]" * 5_000 + "}"),
        ("application/json", '{"a":' * 20_000 + "1" + "}" * 20_000),
    ],
    ids=[
        "text",
        "form",
        "multipart",
        "xml",
        "broken",
        "empty",
        "latin1",
        "deep-list",
        "deep-field",
        "deep-obj",
    ],
)
def test_wrong_content_types_and_malformed_bodies_are_4xx(
    client: httpx.Client, content_type: str, content: str
) -> None:
    r = client.post(
        "/recommendations", content=content.encode("utf-8"), headers={"content-type": content_type}
    )
    assert_json_error(r, 400, 422)


def test_unknown_routes_and_methods_are_json(client: httpx.Client) -> None:
    assert_json_error(client.get("/nope"), 404)
    assert_json_error(client.delete("/recommendations/1"), 405)
    assert_json_error(client.put("/admin/reload"), 405)
