"""Points expiry: lots past their date lose what remains, a notice 30 days ahead, vouchers."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Member
from loyalty.core.ledger import points_credit, points_debit
from loyalty.core.models import LedgerEntry, LotMovement, PointLot
from loyalty.core.pauses import pause_start
from notifications.models import Message
from rewards.models import Voucher
from rewards.services import reward_redeem
from tests import factories
from tests.jobs.conftest import enroll, run, travel
from webhooks.models import WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

EXPIRES = date(2026, 4, 1)
GIFT = LedgerEntry.Kind.GIFT


def _lot(member, points: int, expires_on: date) -> PointLot:
    entry = points_credit(
        member=member, points=points, kind=GIFT, cause=member, expires_on=expires_on
    )
    return PointLot.objects.get(entry=entry)


def _balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def test_a_lot_expires_on_its_day_not_the_day_before(tiers, partner):
    # given
    hook = "https://example.com/h"
    endpoint_create(partner=partner, url=hook, secret="s" * 20, event_types=["points.expired"])
    member = enroll(joined_on=date(2024, 1, 1))
    due = _lot(member, 350, EXPIRES)
    later = _lot(member, 40, date(2026, 4, 2))
    # when
    the_day_before = run("expiry", date(2026, 3, 31))
    # then
    assert _balance(member) == 390
    assert the_day_before.details.get("lots_expired", 0) == 0
    # when
    on_the_day = run("expiry", EXPIRES)
    # then
    assert _balance(member) == 40
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.remaining, later.remaining) == (0, 40)
    entry = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.EXPIRE)
    assert (entry.points, entry.balance_after, entry.cause) == (-350, 40, due)
    assert list(LotMovement.objects.filter(lot=due).values_list("points", flat=True)) == [-350]
    assert (on_the_day.paid, on_the_day.details["points_expired"]) == (1, 350)
    event = WebhookEvent.objects.get(type="points.expired")
    assert event.payload["data"] == {
        "member_number": member.member_number,
        "points": 350,
        "balance": 40,
        "expired_on": "2026-04-01",
    }


def test_only_what_remains_of_a_lot_expires(tiers):
    # given: 100 of the 350 were spent
    member = enroll(joined_on=date(2024, 1, 1))
    _lot(member, 350, EXPIRES)
    points_debit(member=member, points=100, cause=member)
    # when
    run("expiry", EXPIRES)
    # then
    entry = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.EXPIRE)
    assert entry.points == -250
    assert _balance(member) == 0


def test_members_are_told_30_days_before(tiers):
    # given
    member = enroll(joined_on=date(2024, 1, 1), first_name="Ona")
    _lot(member, 300, EXPIRES)
    _lot(member, 50, EXPIRES)
    # when
    too_early = run("expiry", date(2026, 3, 1))
    on_time = run("expiry", date(2026, 3, 2))
    again = run("expiry", date(2026, 3, 3))
    # then
    notice = Message.objects.get(member=member, kind="points_expiring")
    assert notice.subject == "350 points expire on 1 April 2026"
    assert "350 points of your balance expire on 1 April 2026." in notice.body
    assert notice.dedupe_key == "points_expiring:2026-04-01"
    assert too_early.details.get("expiry_notices", 0) == 0
    assert on_time.details["expiry_notices"] == 1
    assert again.details.get("expiry_notices", 0) == 0
    assert _balance(member) == 350


def test_a_missed_notice_is_sent_by_the_next_run(tiers):
    # given: no run on 2 March
    member = enroll(joined_on=date(2024, 1, 1))
    _lot(member, 120, EXPIRES)
    # when
    run("expiry", date(2026, 3, 6))
    # then
    assert Message.objects.get(member=member, kind="points_expiring").subject == (
        "120 points expire on 1 April 2026"
    )


def test_a_paused_members_points_do_not_expire_while_paused(tiers, staff_user):
    # given: 350 points due on 1 April 2026, a one-month break from 1 March
    member = enroll(joined_on=date(2024, 1, 1))
    _lot(member, 350, EXPIRES)
    with travel(date(2026, 3, 1)):
        pause_start(member=member, months=1, reason="Illness", staff_user=staff_user)
    # when
    notices = run("expiry", date(2026, 3, 2))
    job = run("expiry", date(2026, 4, 1))
    # then: nothing expires and no notice comes while paused (the night it ends, the break ends)
    assert _balance(member) == 350
    assert job.details.get("pauses_ended") == 1
    assert not LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EXPIRE).exists()
    assert notices.details.get("expiry_notices", 0) == 0
    # and: the break ends by itself on 1 April; the lot's date moved on by its 31 days (and at
    # least 30 days past its end), so the points expire only then, after a notice
    assert PointLot.objects.get(member=member).expires_on == date(2026, 5, 2)
    run("expiry", date(2026, 4, 2))
    assert _balance(member) == 350
    assert Message.objects.filter(member=member, kind="points_expiring").exists()
    run("expiry", date(2026, 5, 2))
    assert _balance(member) == 0


def test_running_twice_expires_once(tiers):
    # given
    member = enroll(joined_on=date(2024, 1, 1))
    _lot(member, 350, EXPIRES)
    # when
    first = run("expiry", EXPIRES)
    second = run("expiry", EXPIRES)
    # then
    assert (first.paid, second.paid) == (1, 0)
    assert LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EXPIRE).count() == 1


def test_many_members_expire_with_set_based_writes(tiers, settings):
    # given: 5 members with 2 due lots each, in batches of 3
    settings.LOYALTY_JOB_BATCH_SIZE = 3
    members = [enroll(joined_on=date(2024, 1, 1)) for _ in range(5)]
    for member in members:
        _lot(member, 10, date(2026, 3, 1))
        _lot(member, 20, EXPIRES)
    # when
    with CaptureQueriesContext(connection) as queries:
        job = run("expiry", EXPIRES)
    # then
    assert all(_balance(member) == 0 for member in members)
    assert (job.paid, job.details["lots_expired"], job.details["points_expired"]) == (5, 10, 150)
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith('INSERT INTO "loyalty_ledgerentry"') for s in sql) == 2
    assert sum(s.startswith('INSERT INTO "loyalty_lotmovement"') for s in sql) == 2


def test_vouchers_past_their_validity_expire(tiers):
    # given: a voucher valid for 30 days from 1 March
    reward = factories.make_reward(points_cost=100, voucher_valid_days=30)
    member = enroll(joined_on=date(2024, 1, 1))
    factories.give_points(member, 100)
    with travel(date(2026, 3, 1)):
        redemption = reward_redeem(member=Member.objects.get(pk=member.pk), reward=reward)
    voucher = Voucher.objects.get(redemption=redemption)
    assert voucher.expires_on == date(2026, 3, 31)
    # when
    last_day = run("expiry", date(2026, 3, 31))
    after = run("expiry", date(2026, 4, 1))
    # then: expired, and its points came back (the reward says so)
    voucher.refresh_from_db()
    assert voucher.status == "expired"
    assert (last_day.details["vouchers_expired"], after.details["vouchers_expired"]) == (0, 1)
    assert _balance(member) == 100


def test_the_expiry_job_expires_referrals_not_qualified_in_time(db, tiers, settings):
    from datetime import timedelta

    from django.core.management import call_command

    from referrals.models import Referral
    from referrals.selectors import referral_code_for
    from tests import factories

    referrer = factories.make_member(email="ref@example.com")
    code = referral_code_for(member=referrer)
    factories.make_member(email="friend@example.com", referral_code=code)
    referral = Referral.objects.get()
    day_after = referral.expires_on + timedelta(days=1)

    call_command("run_job", "expiry", "--date", referral.expires_on.isoformat())
    assert Referral.objects.get().status == referral.status
    call_command("run_job", "expiry", "--date", day_after.isoformat())
    assert Referral.objects.get().status == "expired"
