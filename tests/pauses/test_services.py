"""Hardship pauses: asked, granted at once or by staff, refused, extended, ended, and the rules."""

import re
from datetime import date

import pytest
from django.utils import translation

from accounts.errors import MemberNotActive
from accounts.models import Member
from accounts.services import member_set_status
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core.errors import PauseNotOpen, PauseOpen, PauseTooSoon
from loyalty.core.pause_models import Pause, PausePolicy
from loyalty.core.pauses import (
    pause_end,
    pause_extend,
    pause_grant,
    pause_refuse,
    pause_request,
    pause_start,
)
from notifications.models import Message
from notifications.services import render_message
from rewards.services import reward_redeem
from tests import factories
from tests.jobs.conftest import travel
from tests.pauses.conftest import fresh, lot

pytestmark = pytest.mark.django_db


def _kinds(member) -> list[str]:
    return list(
        Message.objects.filter(member=member, kind__startswith="pause_")
        .order_by("created_at", "pk")
        .values_list("kind", flat=True)
    )


def test_asked_and_granted_at_once(ona):
    # given: points due during the pause and after it, and a voucher
    early = lot(ona, 100, date(2027, 1, 20))
    late = lot(ona, 38, date(2027, 9, 1))
    never = lot(ona, 5, None)
    reward = factories.make_reward(points_cost=10, voucher_valid_days=30)
    with travel(date(2027, 1, 5)):
        voucher = reward_redeem(member=fresh(ona), reward=reward).voucher
    # when
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=2, reason="")
    # then: runs for two calendar months; the dates moved by its 59 days
    assert (pause.status, pause.starts_on, pause.ends_on, pause.shift_days) == (
        Pause.Status.RUNNING,
        date(2027, 1, 10),
        date(2027, 3, 10),
        59,
    )
    assert (pause.requested_by_staff, pause.decided_by, pause.reason) == (False, None, "")
    assert fresh(ona).status == Member.Status.PAUSED
    for item in (early, late, never, voucher):
        item.refresh_from_db()
    # 20 Jan + 59 days is 20 March, but a lot never falls due in the month after the return
    assert early.expires_on == date(2027, 4, 9)
    assert late.expires_on == date(2027, 10, 30)
    assert never.expires_on is None
    assert voucher.expires_on == date(2027, 4, 4)  # 4 Feb + 59 days
    assert _kinds(ona) == ["pause_started"]


def test_asked_then_waits_and_staff_grant_it(ona, staff, waiting_policy):
    # given
    due = lot(ona, 100, date(2027, 2, 1))
    # when
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=1, reason="  My mother is ill.  ")
    # then: nothing changes until staff decide
    assert (pause.status, pause.starts_on, pause.reason) == (
        Pause.Status.REQUESTED,
        None,
        "My mother is ill.",
    )
    assert fresh(ona).status == Member.Status.ACTIVE
    due.refresh_from_db()
    assert due.expires_on == date(2027, 2, 1)
    assert _kinds(ona) == ["pause_requested"]
    # when: staff grant it two days later
    with travel(date(2027, 1, 12)):
        pause_grant(pause=pause, staff_user=staff)
    # then: it starts on the day it is granted
    pause.refresh_from_db()
    assert (pause.status, pause.starts_on, pause.ends_on, pause.decided_by) == (
        Pause.Status.RUNNING,
        date(2027, 1, 12),
        date(2027, 2, 12),
        staff,
    )
    assert fresh(ona).status == Member.Status.PAUSED
    due.refresh_from_db()
    assert due.expires_on == date(2027, 3, 14)  # the floor: 30 days after 12 February
    assert _kinds(ona) == ["pause_requested", "pause_started"]
    with pytest.raises(PauseNotOpen):
        pause_grant(pause=pause, staff_user=staff)


def test_staff_refuse_a_request_kindly(ona, staff, waiting_policy):
    # given
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=3)
    # when
    with travel(date(2027, 1, 11)):
        pause_refuse(pause=pause, staff_user=staff)
    # then: nothing changed for the member, who may ask again
    pause.refresh_from_db()
    assert (pause.status, pause.decided_by) == (Pause.Status.REFUSED, staff)
    assert fresh(ona).status == Member.Status.ACTIVE
    assert _kinds(ona) == ["pause_requested", "pause_refused"]
    with travel(date(2027, 1, 12)):
        again = pause_request(member=fresh(ona), months=1)
    assert again.status == Pause.Status.REQUESTED


def test_staff_extend_a_running_pause_up_to_six_months(ona, staff):
    # given
    due = lot(ona, 100, date(2027, 1, 20))
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=2)
    # when
    with travel(date(2027, 2, 20)):
        pause_extend(pause=pause, months=1, staff_user=staff)
    # then: the 31 days added move the dates again
    pause.refresh_from_db()
    assert (pause.months, pause.ends_on, pause.shift_days) == (3, date(2027, 4, 10), 90)
    due.refresh_from_db()
    assert due.expires_on == date(2027, 5, 10)
    assert _kinds(ona) == ["pause_started", "pause_extended"]
    # and: six months in all at most
    with travel(date(2027, 2, 21)), pytest.raises(InvalidInput):
        pause_extend(pause=pause, months=4, staff_user=staff)
    pause_extend(pause=pause, months=3, staff_user=staff)
    pause.refresh_from_db()
    assert (pause.months, pause.ends_on) == (6, date(2027, 7, 10))


def test_staff_end_a_pause_early_and_the_dates_stay_moved(ona, staff):
    # given
    due = lot(ona, 100, date(2027, 2, 1))
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=3)
    due.refresh_from_db()
    moved = due.expires_on
    # when
    with travel(date(2027, 2, 1)):
        pause_end(member=fresh(ona), staff_user=staff)
    # then
    pause.refresh_from_db()
    assert (pause.status, pause.ended_on, pause.decided_by) == (
        Pause.Status.ENDED,
        date(2027, 2, 1),
        staff,
    )
    assert fresh(ona).status == Member.Status.ACTIVE
    due.refresh_from_db()
    assert due.expires_on == moved == date(2027, 5, 10)
    assert _kinds(ona) == ["pause_started", "pause_ended"]


def test_staff_pause_a_membership_with_their_reason(ona, staff):
    # when: staff may pause for 6 months even if the policy lets members ask for less
    PausePolicy.objects.filter(pk=1).update(longest_months=2, grant_automatically=False)
    with travel(date(2027, 1, 10)):
        pause = pause_start(member=fresh(ona), months=6, reason="Lost their job", staff_user=staff)
    # then
    assert (pause.status, pause.requested_by_staff, pause.ends_on) == (
        Pause.Status.RUNNING,
        True,
        date(2027, 7, 10),
    )
    member = fresh(ona)
    assert (member.status, member.status_reason) == (Member.Status.PAUSED, "Lost their job")


@pytest.mark.parametrize("months", [0, 7, "x", None])
def test_a_break_lasts_one_to_six_months(ona, months):
    with pytest.raises(InvalidInput):
        pause_request(member=fresh(ona), months=months)
    assert not Pause.objects.exists()


def test_the_policy_sets_the_longest_break_a_member_asks_for(ona):
    PausePolicy.objects.filter(pk=1).update(longest_months=3)
    with pytest.raises(InvalidInput) as refused:
        pause_request(member=fresh(ona), months=4)
    assert refused.value.extra == {"field": "months", "longest": 3}


def test_a_reason_is_at_most_500_characters(ona):
    with pytest.raises(InvalidInput):
        pause_request(member=fresh(ona), months=1, reason="x" * 501)
    assert not Pause.objects.exists()


def test_one_open_pause_at_a_time(ona, waiting_policy):
    pause_request(member=fresh(ona), months=1)
    with pytest.raises(PauseOpen):
        pause_request(member=fresh(ona), months=2)
    assert Pause.objects.count() == 1


def test_a_member_asks_again_only_months_after_the_last_break_started(ona, staff):
    # given: a break that started on 10 January 2027 and ended early
    with travel(date(2027, 1, 10)):
        pause_request(member=fresh(ona), months=1)
    with travel(date(2027, 1, 20)):
        pause_end(member=fresh(ona), staff_user=staff)
    # when / then
    with travel(date(2028, 1, 9)), pytest.raises(PauseTooSoon) as refused:
        pause_request(member=fresh(ona), months=1)
    assert refused.value.extra == {"allowed_on": "2028-01-10"}
    with travel(date(2028, 1, 10)):
        assert pause_request(member=fresh(ona), months=1).status == Pause.Status.RUNNING
    # and staff may always pause
    with travel(date(2028, 1, 11)):
        pause_end(member=fresh(ona), staff_user=staff)
        pause_start(member=fresh(ona), months=1, reason="Flooded house", staff_user=staff)


def test_a_closed_membership_cannot_be_paused(ona, staff):
    member_set_status(member=ona, status="closed", staff_user=staff, reason="Left")
    with pytest.raises(MemberNotActive):
        pause_request(member=fresh(ona), months=1)


def test_only_staff_decide(ona, waiting_policy):
    pause = pause_request(member=fresh(ona), months=1)
    with pytest.raises(NotAllowed):
        pause_grant(pause=pause, staff_user=ona.user)
    with pytest.raises(NotAllowed):
        pause_start(member=fresh(ona), months=1, reason="x", staff_user=None)


def test_the_member_hears_every_step_in_their_language(ona, staff, waiting_policy):
    # given / when: asked, granted, extended, told it ends, ended by itself
    from loyalty.core.jobs import job_run

    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=1)
        pause_grant(pause=pause, staff_user=staff)
        pause_extend(pause=pause, months=1, staff_user=staff)
    with travel(date(2027, 3, 3)):
        job_run(name="expiry", day=date(2027, 3, 3))
    with travel(date(2027, 3, 10)):
        job_run(name="expiry", day=date(2027, 3, 10))
    # then
    messages = list(Message.objects.filter(member=ona, kind__startswith="pause_"))
    assert sorted(m.kind for m in messages) == [
        "pause_ended",
        "pause_ending",
        "pause_extended",
        "pause_requested",
        "pause_started",
    ]
    assert {m.language for m in messages} == {"lt"}
    # and: every word of them is Lithuanian (no English left in subject or body)
    english = re.compile(r"\b(your|break|paused?|dear|points|we|the|with)\b", re.IGNORECASE)
    assert [m.kind for m in messages if english.search(f"{m.subject} {m.body}")] == []
    # rendered under Lithuanian: the dates are in Lithuanian form
    started = next(m for m in messages if m.kind == "pause_started")
    assert "2027 m. vasario 10 d." in started.body
    ending = next(m for m in messages if m.kind == "pause_ending")
    assert "2027 m. kovo 10 d." in ending.subject
    with translation.override("lt"):
        assert render_message(
            kind="pause_ending",
            language="lt",
            context={"ends_on": date(2027, 3, 10), "name": "Ona"},
        ) == (ending.subject, ending.body)
