"""Two runs of a job for the same day at once, each on its own connection, pay nothing twice."""

from datetime import date, timedelta

import pytest

from accounts.models import Member
from accounts.services import member_set_birthday
from loyalty.core import jobs
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry, TierChange
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from rewards.models import OccasionGrant
from tests import factories
from tests.concurrency import run_at_once
from tests.jobs.conftest import enroll, travel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _twice_at_once(name: str, day: date):
    results = run_at_once([lambda: jobs.job_run(name=name, day=day)] * 2)
    assert all(not isinstance(result, Exception) for result in results), results
    return results


def test_two_anniversary_runs_at_once_pay_each_member_once(tiers, settings):
    # given: 12 members in batches of 5
    settings.LOYALTY_JOB_BATCH_SIZE = 5
    members = [enroll(joined_on=date(2014 + n % 10, 3, 1)) for n in range(12)]
    # when
    runs = _twice_at_once("anniversary", date(2026, 3, 1))
    # then
    assert sum(job.paid for job in runs) == 12
    assert sum(job.errors for job in runs) == 0
    for member in members:
        assert OccasionGrant.objects.filter(member=member).count() == 1
        assert LedgerEntry.objects.filter(member=member, kind="gift").count() == 1
        assert Message.objects.filter(member=member, kind="anniversary").count() == 1


def test_two_birthday_runs_at_once_greet_each_member_once(tiers):
    # given
    members = [enroll(joined_on=date(2024, 1, 1)) for _ in range(6)]
    with travel(date(2025, 1, 1)):
        for member in members:
            member_set_birthday(member=member, birthday="06-15")
    # when
    runs = _twice_at_once("birthdays", date(2026, 6, 15))
    # then
    assert sum(job.paid for job in runs) == 6
    assert OccasionGrant.objects.count() == 6
    assert LedgerEntry.objects.filter(kind="gift").count() == 6


def test_two_expiry_runs_at_once_expire_each_lot_once(tiers):
    # given
    members = [enroll(joined_on=date(2024, 1, 1)) for _ in range(6)]
    for member in members:
        points_credit(
            member=member, points=70, kind="gift", cause=member, expires_on=date(2026, 4, 1)
        )
    # when
    runs = _twice_at_once("expiry", date(2026, 4, 1))
    # then
    assert sum(job.paid for job in runs) == 6
    assert LedgerEntry.objects.filter(kind="expire").count() == 6
    assert set(Member.objects.values_list("points_balance", flat=True)) == {0}


def test_two_tier_reviews_at_once_downgrade_once(tiers, partner, base_rule):
    # given: three Gold members whose grace ends on the review day
    members = [enroll(joined_on=date(2024, 1, 1)) for _ in range(3)]
    with travel(date(2025, 1, 10)):
        for n, member in enumerate(members):
            purchase_record(
                partner=partner, member=member, external_id=f"G-{n}", amount="1600", currency="EUR"
            )
    jobs.job_run(name="tier_review", day=date(2026, 2, 1))
    grace_end = date(2026, 2, 1) + timedelta(days=90)
    # when
    runs = _twice_at_once("tier_review", grace_end)
    # then
    assert sum(job.details.get("downgraded", 0) for job in runs) == 3
    assert TierChange.objects.filter(reason="review: grace ended").count() == 3
    assert set(Member.objects.values_list("tier__code", flat=True)) == {"silver"}


def test_a_purchase_during_a_run_is_not_lost(tiers, partner, base_rule, settings):
    # given: members being thanked while a purchase comes in for one of them
    settings.LOYALTY_JOB_BATCH_SIZE = 3
    members = [enroll(joined_on=date(2020, 3, 1)) for _ in range(6)]
    factories.give_points(members[0], 5)

    def purchase():
        member = Member.objects.select_related("tier").get(pk=members[2].pk)
        return purchase_record(
            partner=partner, member=member, external_id="P-1", amount="10", currency="EUR"
        )

    # when
    results = run_at_once(
        [lambda: jobs.job_run(name="anniversary", day=date(2026, 3, 1)), purchase]
    )
    # then: both happened; the ledger invariants are checked after the test
    assert not any(isinstance(result, Exception) for result in results), results
    assert OccasionGrant.objects.count() == 6
    assert Member.objects.get(pk=members[2].pk).points_balance == 110 + 10
