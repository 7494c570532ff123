"""Every kind of ledger entry the code writes is worded in the reader's language
(loyalty.core.wording): no English word in another language's words but names, brands and
codes; numbers and dates in the language's own format.

The entries are written through the services (enrolment, purchases, refunds, referrals,
rewards, vouchers, the anniversary, birthday and expiry jobs, gifts, campaigns, feedback,
staff adjustments and corrections, closing), then each is rendered for a member and for staff
in all six languages.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import translation
from django.utils.formats import date_format

from accounts.services import member_set_birthday
from feedback.services import feedback_file, feedback_thank
from insights import services as insight_services
from insights.campaigns import campaign_launch
from insights.models import Campaign
from loyalty.base.formats import money
from loyalty.core.closing import member_close
from loyalty.core.jobs import job_run
from loyalty.core.ledger import points_adjust, points_reverse
from loyalty.core.models import LedgerEntry, Tier
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from loyalty.core.wording import MEMBER, STAFF, entries_word
from referrals.services import referral_code_ensure
from rewards.gifts import gift_send
from rewards.models import BirthdayGiftSettings, CardTemplate, Voucher
from rewards.services import redemption_cancel, reward_redeem, voucher_expire
from tests import factories

pytestmark = pytest.mark.django_db

LANGS = ("en", "lt", "bg", "da", "ru", "pl")
COFFEE = {
    "en": "Free coffee",
    "lt": "Nemokama kava",
    "bg": "Безплатно кафе",
    "da": "Gratis kaffe",
    "ru": "Бесплатный кофе",
    "pl": "Darmowa kawa",
}
CARD = {
    "en": "Thank you",
    "lt": "Ačiū",
    "bg": "Благодарим",
    "da": "Tak",
    "ru": "Спасибо",
    "pl": "Dziękujemy",
}
PARTNER = "Corner Shop"  # a brand: shown as it is in every language
SALE, RETURN, OTHER_SALE = "SALE-1234", "RET-77", "SALE-2000"
AMOUNT, OTHER_AMOUNT = Decimal("1234.50"), Decimal("2000.00")
STAFF_REASON = "Kasos klaida"  # a staff member's own words, shown as written
# Names, brands and codes may stay as they are; a few words are the same in a language.
ALLOWED = {w.lower() for w in re.findall(r"[^\W\d_]+", f"{PARTNER} {SALE} {RETURN} {OTHER_SALE}")}
ALLOWED |= {"ret", "bonus"}


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def every_entry(settings, tiers, django_capture_on_commit_callbacks):
    """One ledger entry of every kind and cause the code writes, through the services."""
    settings.LOYALTY_WELCOME_POINTS = 50
    settings.LOYALTY_POINTS_EXPIRY_MONTHS = 24
    settings.REFERRAL_BONUS_REFERRER = 200
    settings.REFERRAL_BONUS_FRIEND = 100
    settings.REFERRAL_MIN_PURCHASE = "20.00"
    settings.REFERRAL_RETURN_WINDOW_DAYS = 30
    Tier.objects.update(anniversary_bonus_base=50, anniversary_bonus_per_year=10)
    staff = get_user_model().objects.create_superuser(email="chief@example.com", password="x")
    reward = factories.make_reward(
        slug="coffee",
        points_cost=100,
        voucher_valid_days=10,
        return_points_on_expiry=True,
        **{f"name_{code}": name for code, name in COFFEE.items()},
    )
    card = CardTemplate.objects.create(
        name="Thanks",
        **{f"title_{code}": title for code, title in CARD.items()},
        **{f"text_{code}": "{name}" for code in LANGS},
    )
    BirthdayGiftSettings.objects.update_or_create(
        pk=BirthdayGiftSettings.SINGLETON, defaults={"points": 75, "discount_reward": reward}
    )
    with time_machine.travel(_at(date(2024, 3, 5)), tick=False):
        partner = factories.make_partner(PARTNER)
        factories.make_rule(name="One point per euro")
        referrer = factories.make_member(email="rasa@example.com", first_name="Rasa")
        member = factories.make_member(
            email="ieva@example.com",
            first_name="Ieva",
            referral_code=referral_code_ensure(member=referrer).code,
        )
        discount = factories.make_member(email="dora@example.com", delight="discount")
        leaving = factories.make_member(email="lena@example.com")
        for who in (member, discount):
            member_set_birthday(member=who, birthday="06-15")
        sale = purchase_record(
            partner=partner, member=member, external_id=SALE, amount=AMOUNT, currency="EUR"
        ).purchase  # earns, and qualifies the referral: both bonuses
        other = purchase_record(
            partner=partner,
            member=member,
            external_id=OTHER_SALE,
            amount=OTHER_AMOUNT,
            currency="EUR",
        )
        points_reverse(entry=other.entry, points=10)  # a purchase's points taken back by hand
        adjusted = points_adjust(member=member, points=300, staff_user=staff, reason=STAFF_REASON)
        points_reverse(entry=adjusted, points=5)  # a correction of an entry
        cancelled = reward_redeem(member=member, reward=reward)
        redemption_cancel(redemption=cancelled)
        kept = reward_redeem(member=member, reward=reward)
        item = feedback_file(
            member=member, kind="complaint", category="service", text="The queue was long"
        )
        feedback_thank(item=item, staff_user=staff, points=30)
        for what in ("points", "voucher"):
            gift_send(
                member=member,
                what=what,
                points=25 if what == "points" else None,
                reward=reward if what == "voucher" else None,
                template=card,
                staff_user=staff,
            )
        campaign = insight_services.campaign_save(
            campaign=Campaign(
                name="Spring",
                offer=Campaign.Offer.POINTS,
                points=40,
                holdout_percent=0,
                **{f"subject_{code}": code for code in LANGS},
                **{f"card_{code}": code for code in LANGS},
            ),
            staff=staff,
        )
        with django_capture_on_commit_callbacks(execute=True):
            campaign_launch(campaign=campaign, staff=staff)
    with time_machine.travel(_at(date(2024, 3, 6)), tick=False):
        purchase_refund(purchase=sale, external_id=RETURN)  # the points and the bonuses back
    voucher_expire(voucher=Voucher.objects.get(redemption=kept), today=date(2024, 3, 20))
    job_run(name="birthdays", day=date(2024, 6, 15))
    job_run(name="anniversary", day=date(2025, 3, 5))
    job_run(name="anniversary", day=date(2026, 3, 5))
    with time_machine.travel(_at(date(2026, 3, 6)), tick=False):
        member_close(member=leaving, by=leaving.user)
    job_run(name="expiry", day=date(2026, 3, 31))
    return list(LedgerEntry.objects.order_by("pk"))


def _combination(entry: LedgerEntry) -> tuple[str, str]:
    cause = ContentType.objects.get_for_id(entry.cause_type_id).model if entry.cause_id else "-"
    return entry.kind, f"{cause}{'+purchase' if entry.purchase_id else ''}"


def _render(entries, language, view) -> dict[int, str]:
    with translation.override(language):
        return {e.pk: e.words for e in entries_word(entries, view=view)}


def _formatted(entry: LedgerEntry, language: str) -> list[str]:
    """The numbers and dates the entry's words hold, as the language writes them."""
    with translation.override(language):
        values = []
        if entry.purchase_id and entry.kind == LedgerEntry.Kind.EARN:
            values.append(money(entry.purchase.amount, entry.purchase.currency))
        if entry.kind == LedgerEntry.Kind.EXPIRE and entry.cause.expires_on < date(2026, 3, 6):
            values.append(date_format(entry.cause.expires_on, "DATE_FORMAT"))
        return values


def _ids(entry: LedgerEntry) -> list[str]:
    """Codes shown as they are: purchase and refund ids, a feedback item's number, a year."""
    ids = [SALE, RETURN, OTHER_SALE]
    if entry.cause_type_id and entry.cause_type.model == "feedbackitem":
        ids.append(str(entry.cause_id))
    if entry.cause_type_id and entry.cause_type.model == "occasiongrant":
        ids.append(str(entry.cause.years))
    return ids


def test_every_kind_of_entry_is_written_by_the_fixture(every_entry):
    assert {_combination(e) for e in every_entry} >= {
        ("earn", "-+purchase"),
        ("reversal", "refund+purchase"),
        ("reversal", "refund"),  # a referral bonus taken back
        ("reversal", "-+purchase"),
        ("reversal", "ledgerentry"),
        ("adjust", "-"),
        ("spend", "redemption"),
        ("reversal", "redemption"),
        ("reversal", "voucher"),
        ("expire", "pointlot"),
        ("gift", "member"),
        ("gift", "occasiongrant"),
        ("gift", "gift"),
        ("gift", "campaignmember"),
        ("gift", "feedbackitem"),
        ("referral", "referral"),
    }


def test_the_english_words_say_what_each_entry_was(every_entry):
    words = set(_render(every_entry, "en", MEMBER).values())
    staff = set(_render(every_entry, "en", STAFF).values())
    assert {
        "Welcome gift",
        "Purchase of €1,234.50 at Corner Shop",
        "Taken back because a purchase at Corner Shop was refunded",
        "Bonus taken back because a purchase at Corner Shop was refunded",
        "Points of a purchase at Corner Shop taken back",
        "Correction of an earlier entry",
        f"Our staff noted: {STAFF_REASON}",
        "Spent on the reward “Free coffee”",
        "Given back: the voucher for “Free coffee” was cancelled",
        "Given back: the voucher for “Free coffee” expired unused",
        "Anniversary thank-you: 1 year with us",
        "Anniversary thank-you: 2 years with us",
        "Birthday gift",
        "Birthday gift: “Free coffee”",
        "A gift from us: Thank you",
        "A gift from us, with a card in your inbox",
        "Welcome bonus: you joined through a friend",
        "Referral bonus: a friend you invited joined",
        "Points expired because the membership was closed",
    } <= words
    with translation.override("en"):
        day = date_format(date(2026, 3, 5), "DATE_FORMAT")  # the lot's day (24 months on)
    assert f"Points not used in time expired on {day}" in words
    assert any(w.startswith("Thank you: your feedback no. ") for w in words)
    assert {
        "Purchase SALE-1234 of €1,234.50 at Corner Shop",
        "Taken back because of refund RET-77 of purchase SALE-1234 at Corner Shop",
    } <= staff


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("view", [MEMBER, STAFF], ids=["member", "staff"])
def test_every_entry_is_worded_in_the_readers_language(every_entry, language, view):
    english = _render(every_entry, "en", view)
    theirs = _render(every_entry, language, view)
    problems = []
    for entry in every_entry:
        text = theirs[entry.pk]
        if not text.strip():
            problems.append(f"{entry.kind} #{entry.pk}: no words")
            continue
        # numbers and dates: the language's own format, and no other digits but codes
        rest = text
        for value in _formatted(entry, language):
            if value not in rest:
                problems.append(f"{text!r}: {value!r} missing (the {language} format)")
            rest = rest.replace(value, " ")
        for value in (*_ids(entry), STAFF_REASON):
            rest = rest.replace(value, " ")
        if re.search(r"\d", rest):
            problems.append(f"{text!r}: a number not in the {language} format")
        if language == "en":
            continue
        # no English word but names, brands and codes
        english_words = {w.lower() for w in re.findall(r"[^\W\d_]{3,}", english[entry.pk])}
        english_words -= ALLOWED | {w.lower() for w in STAFF_REASON.split()}
        english_words -= {w.lower() for w in (COFFEE["en"] + " " + CARD["en"]).split()}
        found = {w.lower() for w in re.findall(r"[^\W\d_]{3,}", rest)} & english_words
        if found:
            problems.append(f"{text!r}: English {sorted(found)}")
        # a reward's or card's name in the reader's language, not the English one
        if COFFEE["en"] in text or CARD["en"] in text:
            problems.append(f"{text!r}: a name in English")
    assert problems == []
