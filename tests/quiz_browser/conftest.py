"""Browser fixtures: Debian's chromium driven by Playwright (sync API), and the static files served
from ``src/transmodal/server/static`` through request routing (no HTTP server needed for unit tests).

Tests here skip (with the reason) when /usr/bin/chromium or the playwright package is missing.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest

from voice_driver import CHROMIUM, chromium_args

STATIC = Path(__file__).resolve().parents[2] / "src" / "transmodal" / "server" / "static"
# Never contacted: routing answers /static/* from STATIC. localhost is a secure context, so getUserMedia exists.
ORIGIN = "http://localhost:9"


@pytest.fixture(scope="module")
def playwright_driver():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=chromium_args())
    yield browser
    browser.close()


def serve_static(route) -> None:
    """Answer a request for ORIGIN/static/PATH with that file from the package's static folder."""
    path = route.request.url.split("/static/", 1)[1].split("?", 1)[0]
    file = (STATIC / path).resolve()
    if STATIC not in file.parents or not file.is_file():
        route.fulfill(status=404, body="not found")
        return
    route.fulfill(status=200, body=file.read_bytes(),
                  content_type=mimetypes.guess_type(file.name)[0] or "application/octet-stream")


@pytest.fixture
def static_page(browser):
    """A page at ORIGIN/static/blank with the static files routed in; ES modules import from /static/js/…"""
    context = browser.new_context()
    page = context.new_page()
    page.route(f"{ORIGIN}/static/**", serve_static)
    page.route(f"{ORIGIN}/blank", lambda route: route.fulfill(status=200, body="<!doctype html><title>t</title>",
                                                              content_type="text/html"))
    page.goto(f"{ORIGIN}/blank")
    yield page
    context.close()
