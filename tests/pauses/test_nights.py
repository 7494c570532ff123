"""Hardship pauses night by night: the daily expiry job during a pause, on its end and after."""

from datetime import date, timedelta

import pytest

from accounts.models import Member
from loyalty.core.closing import member_close
from loyalty.core.jobs import job_run
from loyalty.core.models import LedgerEntry, Tier
from loyalty.core.pause_models import Pause
from loyalty.core.pauses import pause_end, pause_extend, pause_request
from notifications.models import Message
from rewards.models import Voucher
from rewards.services import reward_redeem
from tests import factories
from tests.jobs.conftest import travel
from tests.ledger import assert_ledger_invariants
from tests.pauses.conftest import fresh, lot

pytestmark = pytest.mark.django_db


def _nights(first: date, last: date, job: str = "expiry"):
    day = first
    while day <= last:
        with travel(day):
            yield day, job_run(name=job, day=day)
        day += timedelta(days=1)


def _expired(member) -> dict[str, int]:
    """{expiry date: points} of the member's expire entries (their cause is the lot)."""
    return {
        entry.cause.expires_on.isoformat(): -entry.points
        for entry in LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EXPIRE)
    }


def _notices(member) -> dict[str, date]:
    """{expiry date told about: the day the notice was written}."""
    return {
        key.removeprefix("points_expiring:"): created.date()
        for key, created in Message.objects.filter(
            member=member, kind="points_expiring"
        ).values_list("dedupe_key", "created_at")
    }


def test_a_pause_asked_granted_extended_and_ended_by_itself(ona, staff):
    # given: a voucher, and 188 points in 4 lots, two due during the pause
    reward = factories.make_reward(points_cost=10, voucher_valid_days=23)
    lot(ona, 10, date(2029, 1, 1))
    with travel(date(2027, 1, 9)):
        voucher = reward_redeem(member=fresh(ona), reward=reward).voucher
    a = lot(ona, 100, date(2027, 1, 20))
    b = lot(ona, 50, date(2027, 2, 15))
    c = lot(ona, 30, date(2027, 3, 30))
    d = lot(ona, 8, date(2027, 8, 1))
    assert voucher.expires_on == date(2027, 2, 1)
    # when: asked (granted at once) on 10 January for 2 months, extended by 1 on 20 February
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=2)
    nights = list(_nights(date(2027, 1, 10), date(2027, 2, 19)))
    with travel(date(2027, 2, 20)):
        pause_extend(pause=pause, months=1, staff_user=staff)
    nights += list(_nights(date(2027, 2, 20), date(2027, 4, 11)))
    # then: nothing expired during the pause, on its end (10 April) or the day after
    assert _expired(ona) == {}
    assert not any(run.details.get("vouchers_expired") for _day, run in nights)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ISSUED
    assert fresh(ona).points_balance == 188
    # it ended by itself on its day, and the member heard a week before
    pause.refresh_from_db()
    assert (pause.status, pause.ends_on, pause.ended_on) == (
        Pause.Status.ENDED,
        date(2027, 4, 10),
        date(2027, 4, 10),
    )
    assert fresh(ona).status == Member.Status.ACTIVE
    told = dict(
        Message.objects.filter(member=ona, kind__startswith="pause_").values_list(
            "kind", "created_at__date"
        )
    )
    assert told == {
        "pause_started": date(2027, 1, 10),
        "pause_extended": date(2027, 2, 20),
        "pause_ending": date(2027, 4, 3),
        "pause_ended": date(2027, 4, 10),
    }
    # the dates moved by the 90 days (none sooner than 30 days after the return)
    for item in (a, b, c, d, voucher):
        item.refresh_from_db()
    assert [a.expires_on, b.expires_on, c.expires_on, d.expires_on] == [
        date(2027, 5, 10),
        date(2027, 5, 16),
        date(2027, 6, 28),
        date(2027, 10, 30),
    ]
    assert voucher.expires_on == date(2027, 5, 2)

    # when: the nights go on
    list(_nights(date(2027, 4, 12), date(2027, 6, 28)))
    # then: each lot expires on its moved date, after a notice sent at least a week before
    assert _expired(ona) == {
        "2027-05-10": 100,
        "2027-05-16": 50,
        "2027-06-28": 30,
    }
    notices = _notices(ona)
    assert notices == {
        "2027-05-10": date(2027, 4, 10),
        "2027-05-16": date(2027, 4, 16),
        "2027-06-28": date(2027, 5, 29),
    }
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED
    assert fresh(ona).points_balance == 8 + 10  # the voucher's 10 points came back
    assert_ledger_invariants()


def test_a_membership_paused_before_pauses_were_recorded_resumes_gently(ona, staff):
    """The issue's measurement: 6 lots, 188 points gone overnight and no notice on resuming."""
    # given: paused the old way, and 6 lots fell due meanwhile
    for points, day in [(40, 1), (30, 5), (30, 10), (28, 15), (30, 20), (30, 25)]:
        lot(ona, points, date(2027, 1, day))
    Member.objects.filter(pk=ona.pk).update(status=Member.Status.PAUSED, status_reason="Illness")
    list(_nights(date(2027, 1, 1), date(2027, 1, 31)))
    # when: staff resume it
    with travel(date(2027, 2, 1)):
        pause_end(member=fresh(ona), staff_user=staff)
    list(_nights(date(2027, 2, 1), date(2027, 3, 2)))
    # then: a month and a notice, not a loss overnight
    assert fresh(ona).points_balance == 188
    assert _notices(ona) == {"2027-03-03": date(2027, 2, 1)}
    assert Message.objects.filter(member=ona, kind="pause_ended").count() == 1
    list(_nights(date(2027, 3, 3), date(2027, 3, 3)))
    assert fresh(ona).points_balance == 0


def test_a_voucher_given_during_the_pause_waits_too(ona):
    # given: a voucher of 7 days redeemed during a 1 month pause
    reward = factories.make_reward(points_cost=10, voucher_valid_days=7)
    lot(ona, 10, date(2029, 1, 1))
    with travel(date(2027, 1, 10)):
        pause_request(member=fresh(ona), months=1)
    with travel(date(2027, 1, 12)):
        voucher = reward_redeem(member=fresh(ona), reward=reward).voucher
    # when
    runs = list(_nights(date(2027, 1, 12), date(2027, 2, 11)))
    # then: it did not expire while paused, and is good for a week after the return
    voucher.refresh_from_db()
    assert (voucher.status, voucher.expires_on) == (Voucher.Status.ISSUED, date(2027, 2, 17))
    assert not any(run.details.get("vouchers_expired") for _day, run in runs)


def test_the_tier_is_kept_through_the_pause_and_the_night_after(ona, staff):
    # given: Gold, below its points, with a grace until 20 January
    gold = Tier.objects.get(code="gold")
    Member.objects.filter(pk=ona.pk).update(tier=gold, tier_grace_until=date(2027, 1, 20))
    with travel(date(2027, 1, 10)):
        pause_request(member=fresh(ona), months=1)
    # then: the grace moved with the pause
    assert fresh(ona).tier_grace_until == date(2027, 2, 20)
    # when: reviews during the pause, on its end and the day after
    for day in (date(2027, 2, 1), date(2027, 2, 10), date(2027, 2, 11)):
        with travel(day):
            job_run(name="expiry", day=day)
            job_run(name="tier_review", day=day)
    # then: still Gold, and no harsh word
    member = fresh(ona)
    assert (member.status, member.tier_id) == (Member.Status.ACTIVE, gold.pk)
    # the rest of the grace, moved on by the pause: not a fresh grace from each review
    assert member.tier_grace_until == date(2027, 2, 20)
    assert not Message.objects.filter(member=ona, kind="tier_changed").exists()


def test_the_nightly_step_is_safe_to_run_twice(ona):
    # given
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=1)
    # when: the week before, twice; the end day, twice
    runs = []
    for day in (date(2027, 2, 3), date(2027, 2, 3), date(2027, 2, 10), date(2027, 2, 10)):
        with travel(day):
            runs.append(job_run(name="expiry", day=day))
    # then
    assert [run.details.get("pause_ending_notices", 0) for run in runs] == [1, 0, 0, 0]
    assert [run.details.get("pauses_ended", 0) for run in runs] == [0, 0, 1, 0]
    assert Message.objects.filter(member=ona, kind="pause_ending").count() == 1
    assert Message.objects.filter(member=ona, kind="pause_ended").count() == 1
    pause.refresh_from_db()
    assert pause.status == Pause.Status.ENDED


def test_the_pause_of_a_membership_closed_meanwhile_just_ends(ona, staff):
    # given: a break running, then the member closes the account
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=1)
    with travel(date(2027, 1, 20)):
        member_close(member=fresh(ona), by=ona.user)
    # then: the break ended with the membership, quietly
    pause.refresh_from_db()
    assert (pause.status, pause.ended_on) == (Pause.Status.ENDED, date(2027, 1, 20))
    # when: the night it would have ended
    with travel(date(2027, 2, 10)):
        run = job_run(name="expiry", day=date(2027, 2, 10))
    # then
    assert run.errors == 0
    assert fresh(ona).status == Member.Status.CLOSED
    assert not Message.objects.filter(member=ona, kind="pause_ended").exists()


def test_the_night_does_not_end_a_pause_staff_extended_after_it_read_it(ona, staff):
    # given: a month's break ending on 10 February, as the night's batch read it
    with travel(date(2027, 1, 10)):
        pause_request(member=fresh(ona), months=1)
    as_read = Pause.objects.get(member=ona)
    # when: staff extend it before the batch ends it
    with travel(date(2027, 2, 9)):
        pause_extend(pause=Pause.objects.get(pk=as_read.pk), months=1, staff_user=staff)
    with travel(date(2027, 2, 10)):
        ended = pause_end(member=fresh(ona), today=date(2027, 2, 10), pause=as_read)
    # then: it runs on to its new end, and the member heard only that it was extended
    assert ended is None
    assert Pause.objects.get(pk=as_read.pk).status == Pause.Status.RUNNING
    assert fresh(ona).status == Member.Status.PAUSED
    assert not Message.objects.filter(member=ona, kind="pause_ended").exists()
