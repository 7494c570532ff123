"""The header on a phone folds into a menu (no script), and long text counts as one types."""

import re

import pytest

from tests import factories
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-Secret-42"


def _log_in(page, url, email):
    page.goto(f"{url}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/dashboard/"))


def test_the_phone_header_folds_and_its_menu_opens_and_leads_on(live_server, chromium_browser):
    # given: a member on a 390 × 844 phone
    factories.make_tiers()
    factories.make_member(email="ona@example.com", first_name="Ona", password=PASSWORD)
    page = chromium_browser.new_page(viewport={"width": 390, "height": 844})
    url = live_server.url
    _log_in(page, url, "ona@example.com")

    # then: the folded header is one short row; the links and the language switcher are folded
    header = page.locator("header.site-header")
    assert header.bounding_box()["height"] <= 70
    assert not header.get_by_role("link", name="History").is_visible()
    assert not page.locator("#language-select").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "header-390-folded.png"))

    # when: the member opens the menu
    page.locator(".menu-toggle summary").click()

    # then: every link and the language switcher are there, and a link leads on
    for name in ("Dashboard", "History", "Rewards", "Vouchers", "Inbox", "Profile"):
        assert header.get_by_role("link", name=name).is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    assert page.locator("#language-select").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "header-390-open.png"))
    header.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"/history/"))
    assert header.bounding_box()["height"] <= 70  # folded again on the next page

    # when: on a wide screen
    page.set_viewport_size({"width": 1280, "height": 900})
    # then: no menu button, the links in view
    assert not page.locator(".menu-toggle summary").is_visible()
    assert header.get_by_role("link", name="Rewards").is_visible()
    assert page.locator("#language-select").is_visible()


def test_the_complaint_box_counts_as_one_types_and_lets_a_long_text_through(
    live_server, chromium_browser
):
    # given: a member writing to us
    factories.make_tiers()
    factories.make_member(email="ona@example.com", first_name="Ona", password=PASSWORD)
    page = chromium_browser.new_page(viewport={"width": 390, "height": 844})
    url = live_server.url
    _log_in(page, url, "ona@example.com")
    page.goto(f"{url}/feedback/new/")
    counter = page.locator("#id_text_count")

    # then: the script shows the counter
    assert counter.inner_text() == "0 of 4,000 characters"

    # when: they type, then paste past the limit
    page.locator("#id_text").fill("Hello")
    assert counter.inner_text() == "5 of 4,000 characters"
    page.locator("#id_text").fill("x" * 4213)

    # then: nothing is cut, the counter says it is too long, and so does the server
    assert counter.inner_text() == "4,213 of 4,000 characters: too long, please shorten it"
    assert len(page.locator("#id_text").input_value()) == 4213
    page.get_by_label("Something went wrong").check()
    page.get_by_label("What is it about?").select_option(index=1)
    page.get_by_role("button", name="Send it to us").click()
    page.wait_for_load_state()
    assert "you wrote 4,213" in page.locator("main").inner_text()
    assert len(page.locator("#id_text").input_value()) == 4213
