"""The anniversary thank-you: the tier's bonus and a card, once per member and year."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import ngettext

from accounts.models import Member
from accounts.services import member_set_status
from loyalty.core.models import LedgerEntry, PointLot, Tier
from loyalty.core.pauses import pause_start
from notifications.models import Message
from rewards.models import OccasionGrant
from tests.jobs.conftest import at, enroll, run, travel

pytestmark = pytest.mark.django_db

GIFT = LedgerEntry.Kind.GIFT


def _grants(member) -> list[tuple[str, int, int, date]]:
    return list(
        OccasionGrant.objects.filter(member=member, occasion="anniversary")
        .order_by("period")
        .values_list("period", "years", "points", "occasion_date")
    )


def test_a_member_is_thanked_with_the_tier_bonus_and_a_card_naming_the_years(tiers):
    # given: Bronze gives 50 + 10 a year
    ona = enroll(joined_on=date(2023, 3, 1), first_name="Ona", language="lt")
    # when
    job = run("anniversary", date(2026, 3, 1))
    # then
    grant = OccasionGrant.objects.get(member=ona)
    assert (grant.period, grant.years, grant.points, grant.gift) == ("2026", 3, 80, "points")
    entry = LedgerEntry.objects.get(member=ona, kind=GIFT)
    assert (entry.points, entry.cause, entry.balance_after) == (80, grant, 80)
    assert PointLot.objects.get(entry=entry).remaining == 80
    ona.refresh_from_db()
    assert ona.points_balance == 80
    card = Message.objects.get(member=ona, kind="anniversary")
    assert (card.dedupe_key, card.language) == ("anniversary:2026", "lt")
    with translation.override("lt"):
        expected = ngettext(
            "Thank you for a year with us, %(name)s",
            "Thank you for %(years)s years with us, %(name)s",
            3,
        ) % {"years": 3, "name": "Ona"}
    assert card.subject == expected and expected.startswith("Dėkojame už 3 metus")
    assert "3 metai" in card.body and "80" in card.body  # the years and the bonus, in Lithuanian
    assert (job.considered, job.paid, job.skipped, job.errors) == (1, 1, 0, 0)
    assert job.finished_at is not None and job.trigger == "manual"
    assert job.details.pop("catch_up")["from"] == "2026-02-22"
    assert job.details == {"anniversary_points": 80, "anniversary_cards": 1}


def test_the_bonus_follows_the_tier_and_the_years(tiers):
    # given: Gold gives 200 + 50 a year; a first anniversary says "a year"
    gold = enroll(joined_on=date(2016, 6, 15), first_name="Jonas")
    Member.objects.filter(pk=gold.pk).update(tier=tiers["gold"])
    first = enroll(joined_on=date(2025, 6, 15), first_name="Rūta")
    # when
    run("anniversary", date(2026, 6, 15))
    # then
    assert _grants(gold) == [("2026", 10, 700, date(2026, 6, 15))]
    assert _grants(first) == [("2026", 1, 60, date(2026, 6, 15))]
    card = Message.objects.get(member=first, kind="anniversary")
    assert card.subject == "Thank you for a year with us, Rūta"


def test_a_tier_without_a_bonus_still_sends_the_card(tiers):
    # given
    Tier.objects.update(anniversary_bonus_base=0, anniversary_bonus_per_year=0)
    member = enroll(joined_on=date(2021, 9, 9))
    # when
    run("anniversary", date(2026, 9, 9))
    # then
    grant = OccasionGrant.objects.get(member=member)
    assert (grant.gift, grant.points) == ("card", 0)
    assert not LedgerEntry.objects.filter(member=member, kind=GIFT).exists()
    card = Message.objects.get(member=member, kind="anniversary")
    assert "points" not in card.body


def test_it_is_the_day_in_the_programs_time_zone(tiers):
    # given: 23:30 UTC on 28 February is already 1 March in Vilnius
    member = enroll(joined_on=date(2022, 3, 1))
    # when
    with travel(at(2026, 3, 1, hour=1)):
        job = run("anniversary")
    # then
    assert job.day == date(2026, 3, 1)
    assert _grants(member) == [("2026", 4, 90, date(2026, 3, 1))]


def test_29_february_counts_on_28_february_in_other_years(tiers):
    # given
    leapling = enroll(joined_on=date(2024, 2, 29))
    # when: 2025 is not a leap year
    before = run("anniversary", date(2025, 2, 27))
    on_28th = run("anniversary", date(2025, 2, 28))
    on_1st = run("anniversary", date(2025, 3, 1))
    # then
    assert before.paid == 0
    assert on_28th.paid == 1
    assert on_1st.paid == 0 and on_1st.skipped == 1
    assert _grants(leapling) == [("2025", 1, 60, date(2025, 2, 28))]


def test_in_a_leap_year_29_february_is_the_day_itself(tiers):
    # given
    leapling = enroll(joined_on=date(2024, 2, 29))
    born_28th = enroll(joined_on=date(2023, 2, 28))
    # when
    on_28th = run("anniversary", date(2028, 2, 28))
    on_29th = run("anniversary", date(2028, 2, 29))
    # then
    assert _grants(born_28th) == [("2028", 5, 100, date(2028, 2, 28))]
    assert _grants(leapling) == [("2028", 4, 90, date(2028, 2, 29))]
    assert (on_28th.paid, on_29th.paid) == (1, 1)


def test_after_downtime_the_next_run_pays_the_missed_days(tiers):
    # given: no run from 1 to 4 March
    missed = enroll(joined_on=date(2020, 3, 1))
    today = enroll(joined_on=date(2020, 3, 5))
    too_old = enroll(joined_on=date(2020, 2, 25))  # 9 days before: beyond the 7 days
    # when
    job = run("anniversary", date(2026, 3, 5))
    # then
    assert _grants(missed) == [("2026", 6, 110, date(2026, 3, 1))]
    assert _grants(today) == [("2026", 6, 110, date(2026, 3, 5))]
    assert _grants(too_old) == []
    assert job.paid == 2


def test_the_catch_up_window_is_configurable(tiers, settings):
    # given
    settings.LOYALTY_JOB_CATCHUP_DAYS = 0
    member = enroll(joined_on=date(2020, 3, 1))
    # when
    job = run("anniversary", date(2026, 3, 2))
    # then
    assert job.considered == 0
    assert _grants(member) == []


def test_a_catch_up_over_new_year_pays_the_old_years_anniversary(tiers):
    # given
    member = enroll(joined_on=date(2019, 12, 30))
    # when
    run("anniversary", date(2026, 1, 2))
    # then
    assert _grants(member) == [("2025", 6, 110, date(2025, 12, 30))]


def test_never_two_years_at_once(tiers):
    # given: the job did not run for a whole year; only this year's anniversary is in reach
    member = enroll(joined_on=date(2024, 3, 3))
    # when
    first = run("anniversary", date(2026, 3, 5))
    second = run("anniversary", date(2026, 3, 6))
    # then
    assert _grants(member) == [("2026", 2, 70, date(2026, 3, 3))]
    assert LedgerEntry.objects.filter(member=member, kind=GIFT).count() == 1
    # and neither run failed: the second found the anniversary paid, it did not trip over it
    for job in (first, second):
        job.refresh_from_db()
        assert (job.errors, job.error_log) == (0, ""), job.error_log
        assert job.finished_at is not None
    assert (first.paid, first.skipped) == (1, 0)
    assert (second.considered, second.paid, second.skipped) == (1, 0, 1)


def test_running_twice_for_the_same_day_pays_nothing_twice(tiers):
    # given
    member = enroll(joined_on=date(2022, 5, 5))
    first = run("anniversary", date(2026, 5, 5))
    # when
    second = run("anniversary", date(2026, 5, 5))
    then_next_day = run("anniversary", date(2026, 5, 6))
    # then
    assert (first.paid, second.paid, then_next_day.paid) == (1, 0, 0)
    assert (second.considered, second.skipped) == (1, 1)
    assert OccasionGrant.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind=GIFT).count() == 1
    assert Message.objects.filter(member=member, kind="anniversary").count() == 1
    member.refresh_from_db()
    assert member.points_balance == 90


def test_a_new_member_and_a_closed_one_are_not_thanked_a_paused_one_is(tiers, staff_user):
    # given
    new = enroll(joined_on=date(2026, 5, 5))
    closed = enroll(joined_on=date(2021, 5, 5))
    paused = enroll(joined_on=date(2021, 5, 5))
    member_set_status(member=closed, status="closed", staff_user=staff_user, reason="Moved away")
    with travel(date(2026, 5, 1)):
        pause_start(member=paused, months=1, reason="Illness", staff_user=staff_user)
    # when
    job = run("anniversary", date(2026, 5, 5))
    # then
    assert _grants(new) == [] and _grants(closed) == []
    assert _grants(paused) == [("2026", 5, 100, date(2026, 5, 5))]
    assert job.considered == 1


def test_members_are_paid_in_batches_with_set_based_ledger_writes(tiers, settings):
    # given: 5 members, batches of 2
    settings.LOYALTY_JOB_BATCH_SIZE = 2
    members = [enroll(joined_on=date(2020 + n, 7, 1)) for n in range(5)]
    # when
    with CaptureQueriesContext(connection) as queries:
        job = run("anniversary", date(2026, 7, 1))
    # then: every member paid; one ledger insert and one balance update per batch
    assert (job.batches_planned, job.batches_done, job.paid) == (3, 3, 5)
    assert sorted(g[1] for m in members for g in _grants(m)) == [2, 3, 4, 5, 6]
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith('INSERT INTO "loyalty_ledgerentry"') for s in sql) == 3
    assert sum(s.startswith("WITH delta") for s in sql) == 3
    plan = [s for s in sql if s.startswith('SELECT "accounts_member"."id" AS "pk" FROM')]
    assert len(plan) == 3  # the plan: one keyset query per batch
