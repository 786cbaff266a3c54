"""Debian's headless Chromium, driven by Playwright, against the real `lensflow serve` process.

Never a downloaded browser: CI installs the `chromium` package (see .ci/run). A missing binary
fails the run instead of skipping it, so a green suite always means the page was really driven.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.conftest import REPO

CHROMIUM = Path(os.environ.get("LENSFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 900}
# Two shared cores and a real database under the page: give each wait room.
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (`apt-get install chromium`, "
            "as .ci/run does) or point LENSFLOW_CHROMIUM at a Chromium binary. "
            "The browser tests never download a browser."
        )
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """One page in a fresh browser context, with everything it asked the network for."""

    page: Page
    context: BrowserContext
    base_url: str
    requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def open(self) -> Page:
        self.page.goto(self.base_url + "/")
        expect(self.page.locator("#model-badge")).not_to_have_text("loading model…")
        return self.page

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the API's own origin (data: URLs never leave the browser)."""
        api = urlsplit(self.base_url)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme != "data"
            and (urlsplit(url).scheme, urlsplit(url).netloc) != (api.scheme, api.netloc)
        ]


@contextmanager
def new_tab(browser: Browser, base_url: str, **context_options: object) -> Iterator[Tab]:
    options: dict[str, object] = {"viewport": DESKTOP, **context_options}
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Tab(page=page, context=context, base_url=base_url)
    context.on("request", lambda request: tab.requests.append(request.url))
    page.on("pageerror", lambda exc: tab.script_errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        # A CSP violation means an inline style or script slipped in: the page would break under its policy.
        if message.type == "error" and "Content Security Policy" in message.text:
            tab.script_errors.append(message.text)

    page.on("console", on_console)
    try:
        yield tab
        # Every test also proves the page stays on 127.0.0.1 and throws no script error.
        assert not tab.foreign_requests(), f"requests left the API host: {tab.foreign_requests()}"
        assert not tab.script_errors, f"script errors on the page: {tab.script_errors}"
    finally:
        context.close()


@pytest.fixture
def tab(browser: Browser, live_api: str) -> Iterator[Tab]:
    with new_tab(browser, live_api) as opened:
        yield opened


@pytest.fixture
def phone_tab(browser: Browser, live_api: str) -> Iterator[Tab]:
    phone = {"width": 375, "height": 812}
    with new_tab(
        browser, live_api, viewport=phone, device_scale_factor=2, is_mobile=True, has_touch=True
    ) as opened:
        yield opened
