import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member
from accounts.services import member_set_status
from loyalty.base.errors import NotAllowed, ReasonRequired
from loyalty.core.errors import InsufficientPoints, InvalidPoints
from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_adjust, points_credit, points_debit, points_reverse
from loyalty.core.models import LedgerEntry, LotMovement, PointLot
from loyalty.core.pauses import pause_start

GIFT = LedgerEntry.Kind.GIFT


def credit(member, points, expires_on="policy", **kwargs):
    return points_credit(
        member=member, points=points, kind=GIFT, cause=member, expires_on=expires_on, **kwargs
    )


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def months_after(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it is shorter (29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        (None, 24, None),  # today, whatever day it is (29 February included)
        (datetime(2025, 6, 15, 12, tzinfo=UTC), 24, date(2027, 6, 15)),
        (datetime(2024, 2, 29, 10, tzinfo=UTC), 24, date(2026, 2, 28)),
        (datetime(2024, 2, 29, 10, tzinfo=UTC), 48, date(2028, 2, 29)),
        (datetime(2024, 8, 31, 10, tzinfo=UTC), 18, date(2026, 2, 28)),
        # 22:30 UTC on 31 December is already 1 January in Vilnius: the local date counts
        (datetime(2025, 12, 31, 22, 30, tzinfo=UTC), 24, date(2028, 1, 1)),
    ],
    ids=[
        "today",
        "ordinary-day",
        "29-february",
        "29-february-to-leap-year",
        "31-august",
        "new-year",
    ],
)
def test_credit_creates_an_entry_and_a_lot_with_the_policy_expiry(
    member, settings, now, months, expected
):
    # given: the clock pinned (or today's), points that expire `months` after the day earned
    settings.LOYALTY_POINTS_EXPIRY_MONTHS = months
    with time_machine.travel(now or datetime.now(tz=UTC), tick=False):
        earned_on = datetime.now(tz=ZoneInfo(settings.TIME_ZONE)).date()
        # when
        entry = credit(member, 100)
    # then
    assert (entry.points, entry.balance_after, entry.kind) == (100, 100, "gift")
    lot = PointLot.objects.get(entry=entry)
    assert (lot.points, lot.remaining) == (100, 100)
    assert lot.expires_on == months_after(earned_on, months)
    if expected is not None:
        assert lot.expires_on == expected
    assert balance(member) == 100


@pytest.mark.parametrize("points", [0, -5, 1.5, "10", True, None, 10**13])
def test_credit_refuses_points_that_are_not_positive_whole_numbers(member, points):
    with pytest.raises(InvalidPoints):
        credit(member, points)
    assert balance(member) == 0
    assert LedgerEntry.objects.count() == 0


def test_debit_takes_from_the_soonest_expiring_lots_first(member):
    # given
    today = timezone.localdate()
    late = credit(member, 50, expires_on=today + timedelta(days=300))
    never = credit(member, 50, expires_on=None)
    soon = credit(member, 30, expires_on=today + timedelta(days=10))
    # when
    entry = points_debit(member=member, points=60, cause=member)
    # then
    assert entry.points == -60 and entry.balance_after == 70
    remaining = {lot.entry_id: lot.remaining for lot in PointLot.objects.filter(member=member)}
    assert remaining == {soon.pk: 0, late.pk: 20, never.pk: 50}
    moves = sorted(LotMovement.objects.filter(entry=entry).values_list("lot__entry_id", "points"))
    assert moves == sorted([(soon.pk, -30), (late.pk, -30)])


def test_debit_refuses_a_short_balance_and_changes_nothing(member):
    # given
    credit(member, 40)
    entries_before = LedgerEntry.objects.count()
    # when
    with pytest.raises(InsufficientPoints):
        points_debit(member=member, points=41, cause=member)
    # then
    assert balance(member) == 40
    assert LedgerEntry.objects.count() == entries_before
    assert PointLot.objects.get(member=member).remaining == 40


def test_a_closed_member_can_neither_earn_nor_spend(member, staff_user):
    # given
    credit(member, 10)
    member_set_status(member=member, status="closed", staff_user=staff_user, reason="Asked to")
    # when / then
    with pytest.raises(MemberNotActive):
        credit(member, 5)
    with pytest.raises(MemberNotActive):
        points_debit(member=member, points=5, cause=member)
    assert balance(member) == 10


def test_reversing_a_debit_returns_the_points_to_the_same_lots(member):
    # given
    today = timezone.localdate()
    soon = credit(member, 30, expires_on=today + timedelta(days=10))
    late = credit(member, 30, expires_on=today + timedelta(days=100))
    spend = points_debit(member=member, points=40, cause=member)
    # when
    result = points_reverse(entry=spend, description="cancelled")
    # then
    assert (result.points_reversed, result.points_unrecovered) == (40, 0)
    assert result.entry.reverses_id == spend.pk and result.entry.points == 40
    assert dict(PointLot.objects.values_list("entry_id", "remaining")) == {
        soon.pk: 30,
        late.pk: 30,
    }
    assert balance(member) == 60


def test_reversing_a_credit_stops_at_zero_and_reports_what_was_not_recovered(member):
    # given
    gift = credit(member, 100)
    points_debit(member=member, points=70, cause=member)
    # when
    result = points_reverse(entry=gift, description="gift withdrawn")
    # then
    assert (result.points_reversed, result.points_unrecovered) == (30, 70)
    assert balance(member) == 0


def test_an_entry_cannot_be_reversed_twice_beyond_its_points(member):
    # given
    gift = credit(member, 10)
    points_reverse(entry=gift)
    # when / then
    with pytest.raises(InvalidPoints):
        points_reverse(entry=gift)
    assert balance(member) == 0


def test_staff_adjust_needs_a_reason_and_goes_both_ways(member, staff_user):
    # given / when
    with pytest.raises(ReasonRequired):
        points_adjust(member=member, points=10, staff_user=staff_user, reason="  ")
    up = points_adjust(member=member, points=25, staff_user=staff_user, reason="Till was offline")
    down = points_adjust(member=member, points=-5, staff_user=staff_user, reason="Double scan")
    # then
    assert (up.kind, up.points, up.reason, up.staff_user_id) == (
        "adjust",
        25,
        "Till was offline",
        staff_user.pk,
    )
    assert (down.points, down.balance_after) == (-5, 20)
    with pytest.raises(InsufficientPoints):
        points_adjust(member=member, points=-21, staff_user=staff_user, reason="x")
    assert balance(member) == 20


def test_adjust_refuses_zero_and_non_staff(member, staff_user):
    from accounts.models import User

    outsider = User.objects.create_user(email="x@example.com")
    with pytest.raises(InvalidPoints):
        points_adjust(member=member, points=0, staff_user=staff_user, reason="r")
    with pytest.raises(NotAllowed):
        points_adjust(member=member, points=5, staff_user=outsider, reason="r")
    assert balance(member) == 0


def test_expiry_takes_what_remains_on_the_day_and_not_the_day_before(member):
    # given
    day = date(2027, 3, 1)
    lot_entry = credit(member, 100, expires_on=day)
    credit(member, 5, expires_on=None)
    points_debit(member=member, points=30, cause=member)
    # when: the day before
    assert points_expire(member=member, today=day - timedelta(days=1)) == []
    assert balance(member) == 75
    # when: on the day
    expired = points_expire(member=member, today=day)
    # then
    assert [(e.kind, e.points) for e in expired] == [("expire", -70)]
    assert expired[0].cause == PointLot.objects.get(entry=lot_entry)
    assert balance(member) == 5
    # and running it again expires nothing more
    assert points_expire(member=member, today=day) == []


def test_a_paused_members_points_do_not_expire(member, staff_user):
    # given
    credit(member, 100, expires_on=date(2027, 1, 1))
    pause_start(member=member, months=1, reason="Hard time", staff_user=staff_user)
    # when
    expired = points_expire(member=member, today=date(2027, 6, 1))
    # then
    assert expired == []
    assert balance(member) == 100


def test_entries_cannot_be_changed_or_deleted_through_the_model(member):
    entry = credit(member, 10)
    entry.points = 1000
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    assert LedgerEntry.objects.get(pk=entry.pk).points == 10


@pytest.mark.postgres
def test_the_database_refuses_to_update_or_delete_an_entry(member):
    from django.db import DatabaseError, transaction

    entry = credit(member, 10)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(points=999)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).points == 10


def test_the_database_refuses_a_negative_balance(member):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(points_balance=-1)
    assert balance(member) == 0


def test_an_entry_must_name_its_cause(member):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(member=member, kind="gift", points=5, balance_after=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(member=member, kind="adjust", points=5, balance_after=5)
