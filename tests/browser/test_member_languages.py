"""A Lithuanian and a Bulgarian member in a real browser, from sign-up to a redemption: every
page on the way speaks their language, with no English word left (names and codes aside)."""

import re
from decimal import Decimal

import pytest

from accounts.models import Member
from loyalty.core.models import Tier
from loyalty.core.purchases import purchase_record
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Words of the site's English that must not show through in another language.
ENGLISH = re.compile(
    r"\b(the|your|you|points?|rewards?|history|dashboard|profile|redeem(ed)?|vouchers?|tiers?|"
    r"members?|welcome|gift|log ?out|join|purchases?|spent|earned|expires?|available|invite|"
    r"friends|feedback|inbox|menu|language|change|save|hello|next|card|until|from|with|and)\b",
    re.IGNORECASE,
)
LANGUAGES = {
    "lt": {
        "browser": "lt-LT",
        "tiers": {"bronze": "Bronzinis", "silver": "Sidabrinis", "gold": "Auksinis"},
        "rule": "Vienas taškas už eurą",
        "reward": "Nemokama kava",
        "partner": "Kampinė parduotuvė",
        "name": "Rasa",
    },
    "bg": {
        "browser": "bg-BG",
        "tiers": {"bronze": "Бронз", "silver": "Сребро", "gold": "Злато"},
        "rule": "Една точка за евро",
        "reward": "Безплатно кафе",
        "partner": "Ъглов магазин",
        "name": "Рада",
    },
}


def _no_english(page, where: str) -> None:
    text = page.locator("body").inner_text()
    found = sorted({match.group(0) for match in ENGLISH.finditer(text)})
    assert found == [], f"English on the {where} page: {found}\n{text}"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_member_signs_up_earns_and_redeems_in_their_language(
    live_server, chromium_browser, settings, language
):
    # given: the program named in the member's language by staff
    words = LANGUAGES[language]
    settings.LOYALTY_WELCOME_POINTS = 50
    factories.make_tiers()
    for code, name in words["tiers"].items():
        Tier.objects.filter(code=code).update(**{f"name_{language}": name})
    factories.make_rule(name="One point per euro", **{f"name_{language}": words["rule"]})
    partner = factories.make_partner(words["partner"])
    factories.make_reward(
        slug="free-coffee",
        name_en="Free coffee",
        **{f"name_{language}": words["reward"]},
        points_cost=100,
        voucher_valid_days=30,
    )
    context = chromium_browser.new_context(
        locale=words["browser"], viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    url = live_server.url

    # when: a visitor whose browser reads their language signs up
    page.goto(f"{url}/join/")
    assert page.locator("html").get_attribute("lang") == language
    _no_english(page, "join")
    email = f"{language}@example.com"
    page.locator("#id_email").fill(email)
    page.locator("#id_first_name").fill(words["name"])
    page.locator("#id_password1").fill("a-long-Secret-42")
    page.locator("#id_password2").fill("a-long-Secret-42")
    page.locator("main button[type=submit]").click()

    # then: the dashboard, in their language
    page.wait_for_url(re.compile(r"/dashboard/"))
    member = Member.objects.select_related("tier").get(user__email=email)
    assert member.language == language
    _no_english(page, "new member's dashboard")

    # when: a till records a purchase, and the member reads the dashboard and the history
    purchase_record(
        partner=partner,
        member=member,
        external_id="T-100",
        amount=Decimal("120.00"),
        currency="EUR",
    )
    page.reload()
    _no_english(page, "dashboard")
    page.goto(f"{url}/history/")
    assert words["rule"] in page.locator("main").inner_text()
    _no_english(page, "history")

    # when: they redeem the reward
    page.goto(f"{url}/rewards/")
    _no_english(page, "rewards")
    page.goto(f"{url}/rewards/free-coffee/redeem/")
    _no_english(page, "redeem")
    page.locator("main form button[type=submit]").first.click()

    # then: the voucher page, in their language too
    page.wait_for_url(re.compile(r"/vouchers/[0-9A-Z-]+/"))
    assert words["reward"] in page.locator("main").inner_text()
    _no_english(page, "voucher")
    page.goto(f"{url}/card/")
    _no_english(page, "member card")
    page.goto(f"{url}/inbox/")
    _no_english(page, "inbox")
    context.close()
