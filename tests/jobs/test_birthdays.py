"""Birthday greetings: the gift that delights the member, once a year, for a birthday set early."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.services import member_set_birthday
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from rewards.models import BirthdayGiftSettings, OccasionGrant, Redemption, Voucher
from tests import factories
from tests.jobs.conftest import enroll, run, travel

pytestmark = pytest.mark.django_db

GIFT = LedgerEntry.Kind.GIFT


def _birthday_member(birthday: str, set_on: date, **kwargs):
    """A member whose birthday (MM-DD) was set on `set_on` (enrolled a year before)."""
    member = enroll(joined_on=date(set_on.year - 1, 1, 10), **kwargs)
    with travel(set_on):
        member_set_birthday(member=member, birthday=birthday)
    return member


def _gift_settings(**fields) -> BirthdayGiftSettings:
    """The birthday gift settings as staff set them in the admin."""
    surprises = fields.pop("surprise_rewards", None)
    row, _created = BirthdayGiftSettings.objects.update_or_create(pk=1, defaults=fields)
    if surprises is not None:
        row.surprise_rewards.set(surprises)
    return row


def _greeting(member) -> Message:
    return Message.objects.get(member=member, kind="birthday")


def test_a_birthday_brings_a_greeting_and_bonus_points(tiers):
    # given: the default delight is a personal greeting, with points
    member = _birthday_member("06-15", date(2025, 11, 2), first_name="Ona")
    # when
    job = run("birthdays", date(2026, 6, 15))
    # then
    grant = OccasionGrant.objects.get(member=member, occasion="birthday")
    assert (grant.period, grant.gift, grant.points) == ("2026", "points", 100)
    entry = LedgerEntry.objects.get(member=member, kind=GIFT)
    assert (entry.points, entry.cause) == (100, grant)
    greeting = _greeting(member)
    assert greeting.subject == "Happy birthday, Ona!"
    assert "Our gift: 100 points added to your balance." in greeting.body
    assert greeting.dedupe_key == "birthday:2026"
    assert (job.considered, job.paid) == (1, 1)


def test_a_birthday_set_last_week_brings_nothing_this_year(tiers):
    # given
    member = _birthday_member("06-15", date(2026, 6, 8))
    # when
    job = run("birthdays", date(2026, 6, 15))
    # then
    assert job.considered == 0
    assert not OccasionGrant.objects.filter(member=member).exists()
    assert not Message.objects.filter(member=member, kind="birthday").exists()


def test_the_birthday_must_be_set_more_than_30_days_before(tiers):
    # given
    exactly_30 = _birthday_member("06-15", date(2026, 5, 16))
    thirty_one = _birthday_member("06-15", date(2026, 5, 15))
    # when
    run("birthdays", date(2026, 6, 15))
    # then
    assert not OccasionGrant.objects.filter(member=exactly_30).exists()
    assert OccasionGrant.objects.filter(member=thirty_one).count() == 1


def test_29_february_birthdays_are_greeted_on_28_february_in_other_years(tiers):
    # given
    member = _birthday_member("02-29", date(2026, 1, 1))
    # when
    run("birthdays", date(2027, 2, 27))
    run("birthdays", date(2027, 2, 28))
    run("birthdays", date(2027, 3, 1))
    # then
    grants = OccasionGrant.objects.filter(member=member)
    assert list(grants.values_list("period", "occasion_date")) == [("2027", date(2027, 2, 28))]


def test_a_missed_birthday_is_greeted_late_and_once(tiers):
    # given: the job did not run on the 15th
    member = _birthday_member("06-15", date(2025, 1, 1), first_name="Ona")
    # when
    late = run("birthdays", date(2026, 6, 17))
    again = run("birthdays", date(2026, 6, 18))
    # then
    assert (late.paid, again.paid) == (1, 0)
    assert _greeting(member).subject == "Happy belated birthday, Ona!"
    assert LedgerEntry.objects.filter(member=member, kind=GIFT).count() == 1


def test_a_discount_lover_gets_a_voucher_paid_by_the_gift(tiers):
    # given
    reward = factories.make_reward(slug="birthday-coffee", name_en="A coffee", points_cost=300)
    _gift_settings(discount_reward=reward)
    member = _birthday_member("03-03", date(2025, 1, 1), delight="discount")
    # when
    run("birthdays", date(2026, 3, 3))
    # then: +300 gift, -300 spent on the voucher, the balance is unchanged
    grant = OccasionGrant.objects.get(member=member)
    assert (grant.gift, grant.points) == ("voucher", 300)
    redemption = Redemption.objects.get(member=member, reward=reward)
    assert grant.redemption == redemption
    voucher = Voucher.objects.get(redemption=redemption)
    entries = LedgerEntry.objects.filter(member=member).order_by("id")
    kinds = list(entries.values_list("kind", "points"))
    assert kinds == [("gift", 300), ("spend", -300)]
    member.refresh_from_db()
    assert member.points_balance == 0
    body = _greeting(member).body
    assert f"Our gift: A coffee. Your voucher code is {voucher.display_code}." in body


def test_a_gift_that_cannot_be_given_falls_back_to_points(tiers):
    # given: the discount reward is out of stock; no surprise rewards are set
    reward = factories.make_reward(slug="birthday-coffee", points_cost=300, stock=0)
    _gift_settings(discount_reward=reward, surprise_rewards=[])
    discount = _birthday_member("03-03", date(2025, 1, 1), delight="discount")
    surprise = _birthday_member("03-03", date(2025, 1, 1), delight="surprise")
    # when
    job = run("birthdays", date(2026, 3, 3))
    # then
    for member in (discount, surprise):
        grant = OccasionGrant.objects.get(member=member)
        assert (grant.gift, grant.points, grant.redemption) == ("points", 100, None)
    assert not Redemption.objects.exists()
    job.details.pop("catch_up")
    assert job.details == {"birthday_gift_fell_back": 1, "birthday_points": 2}


def test_a_surprise_lover_gets_one_of_the_surprise_rewards(tiers):
    # given
    cake = factories.make_reward(slug="surprise-cake", name_en="A cake", points_cost=150)
    tea = factories.make_reward(slug="surprise-tea", name_en="Tea", points_cost=120)
    _gift_settings(surprise_rewards=[cake, tea])
    member = _birthday_member("08-08", date(2025, 1, 1), delight="surprise")
    # when
    run("birthdays", date(2026, 8, 8))
    # then
    grant = OccasionGrant.objects.get(member=member)
    assert grant.gift == "surprise"
    assert grant.redemption.reward.slug in {"surprise-cake", "surprise-tea"}
    assert grant.points == grant.redemption.points_spent


def test_a_donation_is_made_in_the_members_name(tiers):
    # given
    _gift_settings(donation_cause="the city animal shelter", donation_amount=Decimal("7.50"))
    member = _birthday_member("10-01", date(2025, 1, 1), delight="donation")
    # when
    run("birthdays", date(2026, 10, 1))
    # then
    grant = OccasionGrant.objects.get(member=member)
    assert (grant.gift, grant.points) == ("donation", 0)
    assert (grant.donation_amount, grant.donation_currency) == (Decimal("7.50"), "EUR")
    assert grant.donation_cause == "the city animal shelter"
    assert not LedgerEntry.objects.filter(member=member, kind=GIFT).exists()
    assert "we have given 7.50 EUR to the city animal shelter" in _greeting(member).body


def test_running_twice_greets_once(tiers):
    # given
    member = _birthday_member("12-24", date(2025, 1, 1))
    # when
    first = run("birthdays", date(2026, 12, 24))
    second = run("birthdays", date(2026, 12, 24))
    # then
    assert (first.paid, second.paid, second.skipped) == (1, 0, 1)
    assert OccasionGrant.objects.filter(member=member).count() == 1
    assert Message.objects.filter(member=member, kind="birthday").count() == 1
    member.refresh_from_db()
    assert member.points_balance == 100
