"""The browser tests' Chromium (Debian's, driven by Playwright) and where screenshots go."""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_browser():
    if not shutil.which("chromium") and not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("Chromium is missing; `make test` installs it", pytrace=False)
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Inside sync_playwright the test runs in a context of its own (Playwright's
            # greenlet), and Django's connections are kept per context: the ones the test's
            # own queries opened here are not the session's, so nothing else would close them
            # (they were the sessions left on the test database at the end of the run).
            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
