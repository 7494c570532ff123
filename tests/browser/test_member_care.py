"""Member care in a real browser: a member who hits a hard time asks for a break on the profile,
sees it kindly on the dashboard, and later closes the account; the login ends with it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Member
from loyalty.core.models import Pause
from tests import factories
from tests.browser.conftest import SCREENSHOTS
from tests.ledger import assert_ledger_invariants

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Secret-42"


def _log_in(page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()


def test_a_member_asks_for_a_break_sees_it_and_later_closes_the_account(
    live_server, chromium_browser
):
    # given: a member with 120 points, on a phone
    factories.make_tiers()
    member = factories.make_member(
        email="laima@example.com", first_name="Laima", language="en", password=PASSWORD
    )
    factories.give_points(member, 120)
    page = chromium_browser.new_page(viewport={"width": 390, "height": 844})
    url = live_server.url
    _log_in(page, url, "laima@example.com", PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard/"))

    # when: she asks for a three-month break on her profile (no reason needed)
    page.goto(f"{url}/profile/")
    page.get_by_label("How long").select_option("3")
    page.get_by_role("button", name="Pause my membership").click()
    page.wait_for_url(re.compile(r"/profile/"))

    # then: the break starts at once (the default policy) and she is told so, kindly
    assert "Your break has started" in page.locator("main").inner_text()
    pause = Pause.objects.get(member=member)
    assert (pause.status, pause.months) == (Pause.Status.RUNNING, 3)
    assert pause.starts_on == timezone.localdate()
    assert pause.ends_on > pause.starts_on + timedelta(days=88)
    until = pause.ends_on.strftime("%-d %B %Y")
    # and: the dashboard says it before anything else
    page.goto(f"{url}/dashboard/")
    banner = page.locator("main .banner").first.inner_text()
    assert f"Your membership is paused until {until}" in banner
    assert "nothing expires meanwhile" in banner
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "pause-390.png"), full_page=False)
    # and: her inbox holds the message that it started
    assert member.messages.filter(kind="pause_started").exists()

    # when: later she decides to close the account: the page says what happens first
    page.goto(f"{url}/profile/")
    page.get_by_role("link", name="Close my account").click()
    page.wait_for_url(re.compile(r"/profile/close/"))
    text = page.locator("main").inner_text()
    assert "The 120 points on your account expire now" in text
    assert "Closing cannot be undone." in text
    # a wrong password changes nothing
    page.locator("input[name=confirm]").check()
    page.locator("input[name=password]").fill("not-my-password")
    page.get_by_role("button", name="Close my account for good").click()
    page.wait_for_load_state()
    assert Member.objects.get(pk=member.pk).status == Member.Status.PAUSED
    # with the tick and her password it closes
    page.locator("input[name=confirm]").check()
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Close my account for good").click()
    page.wait_for_url(re.compile(r"/goodbye/"))

    # then: a kind goodbye; the account is closed, the break ended with it, the points expired
    assert "Your account is closed" in page.locator("main").inner_text()
    member.refresh_from_db()
    assert (member.status, member.points_balance) == (Member.Status.CLOSED, 0)
    assert Pause.objects.get(pk=pause.pk).status == Pause.Status.ENDED
    assert_ledger_invariants()
    # and: she can no longer log in
    _log_in(page, url, "laima@example.com", PASSWORD)
    assert "/login/" in page.url
    assert "/dashboard/" not in page.url
