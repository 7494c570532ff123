"""The staff dashboard in a real browser, on the demo's data: every panel is drawn, the page
fits a desktop and a phone, and its screenshot goes to docs/screenshots/ for the README."""

import pytest

from insights.demo import seed_crowd
from loyalty.core.demo import STAFF_EMAIL, STAFF_PASSWORD
from loyalty.demo import seed_demo
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_demo_dashboard_tells_its_story(live_server, chromium_browser, settings):
    settings.LOYALTY_WELCOME_POINTS = 50
    seed_demo()
    seed_crowd()
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.click("#dashboard-link a.section")
    assert page.title().startswith("Dashboard")
    for key in ("rungs", "tiers", "flow", "points", "liability", "customers", "campaigns"):
        assert page.locator(f"#panel-{key}").is_visible()
    assert page.locator("#panel-rungs svg rect").count() == 7
    campaign = page.locator("#panel-campaigns td.words").first.inner_text()
    assert "came back against" in campaign and "without the offer" in campaign
    assert "points are outstanding" in page.locator("#panel-liability").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "staff-dashboard-1280.png"), full_page=True)
    # on a phone the panels stack and nothing sticks out sideways
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.close()
