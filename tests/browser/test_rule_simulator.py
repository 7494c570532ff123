"""The rule simulator in a real browser, on the demo's data: from an earning rule's page, staff
draft a change, save it and read what it would have done (tables and a chart) under the admin's
Content-Security-Policy, on a desktop and a phone."""

import pytest

from loyalty.core.demo import STAFF_EMAIL, STAFF_PASSWORD
from loyalty.demo import seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_drafted_rule_change_is_simulated_from_the_rules_page(
    live_server, chromium_browser, settings
):
    settings.LOYALTY_WELCOME_POINTS = 50
    seed_demo()
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 900})
    refused: list[str] = []  # what the Content-Security-Policy blocked (a script inline, say)
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", STAFF_EMAIL)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("input[type=submit]")

    # from the coffee rule's page
    page.goto(f"{live_server.url}/admin/loyalty/earningrule/")
    page.click("text=2 points per euro on coffee")
    page.click("text=Draft a change and simulate it")
    assert page.input_value("input[name=points_per_unit]") == "2.000"
    page.fill("input[name=title]", "Coffee at three")
    page.fill("input[name=points_per_unit]", "3")
    page.click("input[name=_save]")

    # the simulation, done in process without a broker
    assert page.title().startswith("What the draft would have done")
    for key in ("summary", "months", "partners", "categories", "tiers"):
        assert page.locator(f"#panel-{key}").is_visible()
    assert page.locator("#panel-months svg rect").count() > 0
    difference = page.locator("#panel-summary tbody tr").first.locator("td").nth(3).inner_text()
    assert difference.startswith("+")
    assert refused == []
    # on a phone nothing sticks out sideways
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.close()
