"""Phone width, keyboard only, error messages, offline assets: the page for everyone, anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from lensflow.settings import Settings
from tests.browser.conftest import Tab, new_tab
from tests.conftest import ApiProcess

pytestmark = pytest.mark.browser

PHONE_WIDTH = 375
ASSET_BUDGET_BYTES = 60_000


def overflow(page: Page) -> int:
    """How far the page is wider than the screen; anything above 0 scrolls sideways on a phone."""
    return int(page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


def test_phone_width_has_no_sideways_scroll(phone_tab: Tab) -> None:
    page = phone_tab.open()
    assert page.evaluate("window.innerWidth") == PHONE_WIDTH
    assert overflow(page) <= 0
    phone_tab.shot("07-phone-home")

    page.get_by_label("User id").fill("1")
    page.get_by_label("User id").press("Enter")
    expect(page.locator("#user-recs > li")).to_have_count(10)
    page.get_by_label("Title", exact=True).fill("star")
    expect(page.locator("#search-msg")).to_contain_text("“star”")
    page.locator("#search-results .link").first.click()
    expect(page.locator("#movie-similar > li")).to_have_count(10)
    page.get_by_label("Find movies to rate").fill("toy story")
    expect(page.locator("#cold-search-msg")).to_contain_text("“toy story”")
    page.locator("#cold-results > li").first.locator("label").nth(4).click()
    expect(page.locator("#cold-recs > li")).to_have_count(10)

    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width}px wide on a {PHONE_WIDTH}px screen"
    # The plot is redrawn at the phone's width, so its labels are not shrunk to specks.
    box = page.locator("#ndcg-plot").bounding_box()
    view_width = float((page.locator("#ndcg-plot").get_attribute("viewBox") or "0 0 0 0").split()[2])
    assert box is not None and abs(box["width"] - view_width) <= 2
    phone_tab.shot("08-phone-everything")


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def tab_until(page: Page, predicate: str, limit: int) -> int:
    """Press Tab until `predicate` (JS on document.activeElement) holds; return the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => Boolean({predicate}))(document.activeElement)"):
            return presses
    raise AssertionError(f"Tab never reached an element where {predicate} in {limit} presses")


def test_keyboard_alone_finds_a_user_and_rates_a_movie(tab: Tab) -> None:
    page = tab.open()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    tab_until(page, "el.id === 'user-id'", limit=4)
    # A visible focus ring, not the browser default removed.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    expect(page.locator("#user-recs > li")).to_have_count(10)
    expect(page.locator("#user-label")).to_have_text("2")

    tab_until(page, "el.id === 'cold-q'", limit=80)
    page.keyboard.type("toy story")
    expect(page.locator("#cold-search-msg")).to_contain_text("“toy story”")
    tab_until(page, "el.type === 'radio'", limit=4)
    page.keyboard.press("Space")  # 1 star
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # radio arrows move and select: 4 stars
    row = page.locator("#cold-results > li").first
    expect(row.locator("input:checked")).to_have_value("4")
    expect(page.locator("#cold-rated > li .stars input:checked")).to_have_value("4")
    expect(page.locator("#cold-recs > li")).to_have_count(10)
    expect(page.locator("#cold-msg")).to_contain_text("1 rating")
    tab.shot("09-keyboard-rating")


def test_unknown_user_and_bad_input_get_readable_messages(tab: Tab, live_api: str) -> None:
    page = tab.open()
    message = page.locator("#user-msg")
    expect(message).to_have_attribute("aria-live", "polite")
    page.get_by_label("User id").fill("99999")
    page.get_by_label("User id").press("Enter")
    expected = httpx.get(f"{live_api}/recommendations/99999").json()["message"]
    expect(message).to_have_text(expected)
    expect(message).to_have_attribute("data-kind", "error")
    expect(page.locator("#user-result")).to_be_hidden()
    tab.shot("05-unknown-user")

    page.get_by_label("User id").fill("")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(message).to_contain_text("Type a user id")


@pytest.fixture
def doomed_api(trained: tuple[Settings, dict[str, object]]) -> Iterator[ApiProcess]:
    """A second real API process for a test to kill under the page."""
    api = ApiProcess(trained[0])
    try:
        api.wait_ready()
        yield api
    finally:
        if api.proc.poll() is None:
            api.stop()


def test_api_down_shows_a_readable_message(browser: Browser, doomed_api: ApiProcess) -> None:
    with new_tab(browser, doomed_api.url) as down:
        page = down.open()
        expect(page.locator("#model-badge")).to_have_attribute("data-kind", "ok")
        doomed_api.stop()
        page.get_by_label("User id").fill("1")
        page.get_by_label("User id").press("Enter")
        expect(page.locator("#user-msg")).to_contain_text("Cannot reach the lensflow API")
        expect(page.locator("#user-msg")).to_have_attribute("data-kind", "error")
        page.get_by_label("Find movies to rate").fill("alien")
        expect(page.locator("#cold-search-msg")).to_contain_text("Cannot reach the lensflow API")
        down.shot("06-api-down")


def test_titles_render_as_text_never_markup(tab: Tab) -> None:
    page = tab.open()
    hostile = '<img src=x onerror="window.pwned=1">Tom & "Jerry" (1999)'

    def fake_search(route: Route) -> None:
        body = [{"movie_id": 1, "title": hostile, "year": 1999, "genres": ["Comedy"]}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(re.compile(r"/movies/search\?"), fake_search)
    page.get_by_label("Title", exact=True).fill("tom")
    shown = hostile.removesuffix(" (1999)")
    expect(page.locator("#search-results .link")).to_have_text(shown)
    assert page.locator("#search-results img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_assets_are_local_small_and_cacheable(live_api: str) -> None:
    with httpx.Client(base_url=live_api, timeout=10) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        assert not [u for u in links if "//" in u], f"external references in the page: {links}"
        assets = sorted({u for u in links if u.startswith("/static/")})
        assert len(assets) == 2, assets
        total = len(page.content)
        for url in assets:
            got = client.get(url)
            assert got.status_code == 200, url
            assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
            again = client.get(url, headers={"If-None-Match": got.headers["etag"]})
            assert again.status_code == 304 and not again.content
            stale = client.get(url.split("?")[0] + "?v=old")
            assert stale.headers["cache-control"] == "no-cache"
            total += len(got.content)
        assert total < ASSET_BUDGET_BYTES, f"page + assets are {total} bytes"
        missing = client.get("/static/nope.js")
        assert missing.status_code == 404 and "nope.js" in missing.json()["message"]
