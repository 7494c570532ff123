"""A member's journey in a real browser: Playwright driving Debian's Chromium.

Sign up, see the welcome balance, earn on a purchase a partner records and read why, redeem a
reward and see the voucher, switch to Lithuanian. Screenshots of the dashboard at phone and
desktop widths go to docs/screenshots/ for the README.
"""

import re
from decimal import Decimal

import pytest
from django.utils import translation

from accounts.models import Member
from loyalty.core.purchases import purchase_record
from tests import factories
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_signs_up_earns_redeems_and_switches_language(
    live_server, chromium_browser, settings
):
    # given: the program's tiers, a rule, a partner and a reward
    settings.LOYALTY_WELCOME_POINTS = 50
    factories.make_tiers()
    factories.make_rule(name="One point per euro")
    partner = factories.make_partner("Corner Shop")
    factories.make_reward(
        slug="free-coffee",
        name_en="Free coffee",
        name_lt="Nemokama kava",
        points_cost=100,
        voucher_valid_days=30,
    )
    page = chromium_browser.new_page(viewport={"width": 1280, "height": 900})
    url = live_server.url

    # when: a visitor signs up
    page.goto(f"{url}/join/")
    page.get_by_label("E-mail").fill("rasa@example.com")
    page.get_by_label("First name").fill("Rasa")
    page.locator("#id_password1").fill("a-long-Secret-42")
    page.locator("#id_password2").fill("a-long-Secret-42")
    page.get_by_role("button", name="Join").click()

    # then: the dashboard shows the welcome balance
    page.wait_for_url(re.compile(r"/dashboard/"))
    assert page.locator(".big-number").first.inner_text().strip() == "50"

    # when: a partner's till records a purchase
    member = Member.objects.select_related("tier").get(user__email="rasa@example.com")
    purchase_record(
        partner=partner,
        member=member,
        external_id="T-100",
        amount=Decimal("120.00"),
        currency="EUR",
    )
    page.reload()
    # then: the balance rises and the history says why
    assert page.locator(".big-number").first.inner_text().strip() == "170"
    page.goto(f"{url}/history/")
    history = page.locator("main").inner_text()
    assert "One point per euro" in history and "120" in history

    # when: the member redeems a reward, confirming it
    page.goto(f"{url}/rewards/")
    page.get_by_role("link", name=re.compile("Redeem")).first.click()
    page.get_by_role("button", name=re.compile("Yes, redeem")).click()
    # then: the voucher page shows the code, its QR code and its status
    page.wait_for_url(re.compile(r"/vouchers/[0-9A-Z-]+/"))
    voucher = member.redemptions.get().voucher
    body = page.locator("main").inner_text()
    assert voucher.display_code in body
    assert page.locator("main svg").count() >= 1
    assert Member.objects.get(pk=member.pk).points_balance == 70

    # and: screenshots of the dashboard at desktop and phone widths
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/dashboard/")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=str(SCREENSHOTS / "dashboard-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # when: the member switches to Lithuanian
    page.locator("#language-select").select_option("lt")
    page.locator("form.language-switcher button[type=submit]").click()
    page.wait_for_load_state()
    # then: the page speaks Lithuanian, and the choice is remembered on the membership
    with translation.override("lt"):
        dashboard_lt = translation.gettext("Available points")
    assert dashboard_lt != "Available points"
    page.goto(f"{url}/dashboard/")
    assert page.locator("html").get_attribute("lang") == "lt"
    assert dashboard_lt in page.locator("main").inner_text()
    assert Member.objects.get(pk=member.pk).language == "lt"
