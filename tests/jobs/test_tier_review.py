"""The monthly tier review: a notice and a grace period first, then down one tier only."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from accounts.models import Member
from loyalty.core.models import Tier, TierChange
from loyalty.core.pauses import pause_start
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from tests.jobs.conftest import enroll, run, travel
from webhooks.models import WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

REVIEW = date(2026, 2, 1)  # a year after the purchase below: no qualifying points left
GRACE_END = REVIEW + timedelta(days=90)  # 2 May 2026


def _buy(member, amount: str, on: date, ref: str, partner):
    with travel(on):
        fresh = Member.objects.select_related("tier").get(pk=member.pk)
        return purchase_record(
            partner=partner, member=fresh, external_id=ref, amount=amount, currency="EUR"
        )


@pytest.fixture
def gold(tiers, partner, base_rule):
    """Ona reached Gold at once with a purchase of 1,600 points on 10 January 2025."""
    ona = enroll(joined_on=date(2024, 1, 1), first_name="Ona")
    result = _buy(ona, "1600.00", date(2025, 1, 10), "G-1", partner)
    assert result.tier_change.to_tier.code == "gold"
    return ona


def _state(member) -> tuple[str, date | None]:
    member = Member.objects.select_related("tier").get(pk=member.pk)
    return member.tier.code, member.tier_grace_until


def test_below_the_tier_a_member_keeps_it_and_is_told_what_keeps_it(gold):
    # when
    job = run("tier_review", REVIEW)
    # then
    assert _state(gold) == ("gold", GRACE_END)
    notice = Message.objects.get(member=gold, kind="tier_grace")
    assert notice.subject == "You keep Gold: here is what keeps it"
    assert "you keep Gold and all its benefits at least until 2 May 2026" in notice.body
    assert "Earning 1,500 more qualifying points by then keeps it." in notice.body
    assert "you will move to Silver, one tier down" in notice.body
    assert not TierChange.objects.filter(member=gold, reason__startswith="review").exists()
    assert (job.considered, job.paid, job.details["grace_started"]) == (1, 1, 1)


def test_a_second_review_on_the_same_day_changes_nothing(gold):
    # given
    run("tier_review", REVIEW)
    # when
    again = run("tier_review", REVIEW)
    # then
    assert (again.considered, again.paid) == (1, 0)
    assert _state(gold) == ("gold", GRACE_END)
    assert Message.objects.filter(member=gold, kind="tier_grace").count() == 1


def test_the_tier_is_kept_until_the_grace_ends_then_down_one_tier_only(gold, partner):
    # given
    hook = "https://example.com/hook"
    endpoint_create(partner=partner, url=hook, secret="s" * 20, event_types=["tier.changed"])
    run("tier_review", REVIEW)
    # when: the day before the grace ends, then the day it ends
    before = run("tier_review", GRACE_END - timedelta(days=1))
    on_the_day = run("tier_review", GRACE_END)
    # then: Gold to Silver only, although 0 points are below Silver too; Silver's grace starts
    assert before.paid == 0
    assert on_the_day.details["downgraded"] == 1
    silver_grace = GRACE_END + timedelta(days=90)
    assert _state(gold) == ("silver", silver_grace)
    change = TierChange.objects.get(member=gold, reason="review: grace ended")
    assert (change.from_tier.code, change.to_tier.code, change.qualifying_points) == (
        "gold",
        "silver",
        0,
    )
    assert Member.objects.get(pk=gold.pk).tier_since == GRACE_END
    message = Message.objects.get(member=gold, kind="tier_changed")
    assert message.subject == "Your tier is now Silver"
    assert "You keep Silver at least until 31 July 2026" in message.body
    event = WebhookEvent.objects.get(type="tier.changed")
    assert event.payload["data"] == {
        "member_number": gold.member_number,
        "from": "gold",
        "to": "silver",
        "reason": "review: grace ended",
    }
    # and when Silver's grace ends too: Bronze, the entry tier, has nothing to keep
    run("tier_review", silver_grace)
    assert _state(gold) == ("bronze", None)


def test_a_paused_member_is_never_downgraded_and_the_grace_waits(gold, staff_user):
    # given: in grace until 2 May, then a six-month break from 1 April (a hard time)
    run("tier_review", REVIEW)
    with travel(date(2026, 4, 1)):
        pause = pause_start(member=gold, months=6, reason="Illness", staff_user=staff_user)
    # then: the grace moved on by the break's days
    grace = GRACE_END + timedelta(days=(pause.ends_on - pause.starts_on).days)
    assert _state(gold) == ("gold", grace)
    # when: reviews after the grace would have ended
    job = run("tier_review", date(2026, 6, 1))
    run("tier_review", date(2026, 7, 1))
    # then: still Gold, not told anything harsh
    assert _state(gold)[0] == "gold"
    assert job.skipped == 1
    assert not Message.objects.filter(member=gold, kind="tier_changed").exists()
    # and when the break ends by itself (1 October), the grace runs to its end first
    run("expiry", pause.ends_on)
    assert Member.objects.get(pk=gold.pk).status == Member.Status.ACTIVE
    run("tier_review", date(2026, 10, 1))
    assert _state(gold)[0] == "gold"
    run("tier_review", grace)
    assert _state(gold)[0] == "silver"


def test_a_paused_member_below_the_tier_is_not_even_told(gold, staff_user):
    # given
    with travel(REVIEW - timedelta(days=1)):
        pause_start(member=gold, months=3, reason="Hard times", staff_user=staff_user)
    # when
    job = run("tier_review", REVIEW)
    # then
    assert _state(gold) == ("gold", None)
    assert not Message.objects.filter(member=gold, kind="tier_grace").exists()
    assert (job.considered, job.paid, job.skipped) == (1, 0, 1)


def test_earning_the_tier_back_during_the_grace_ends_it_at_once(gold, partner):
    # given
    run("tier_review", REVIEW)
    # when: a purchase brings 1,500 qualifying points again
    _buy(gold, "1500.00", date(2026, 3, 10), "G-2", partner)
    # then
    assert _state(gold) == ("gold", None)
    later = run("tier_review", date(2026, 6, 1))
    assert later.paid == 0
    assert _state(gold) == ("gold", None)


def test_an_upgrade_during_the_grace_ends_it(tiers, partner, base_rule):
    # given: Silver in grace
    ona = enroll(joined_on=date(2024, 1, 1))
    _buy(ona, "600.00", date(2025, 1, 10), "S-1", partner)
    run("tier_review", REVIEW)
    assert _state(ona) == ("silver", GRACE_END)
    # when
    _buy(ona, "1600.00", date(2026, 3, 1), "G-1", partner)
    # then
    assert _state(ona) == ("gold", None)


def test_the_review_ends_the_grace_when_the_tier_is_within_reach_again(gold):
    # given: in grace; then staff lower Gold's threshold
    run("tier_review", REVIEW)
    Tier.objects.filter(code="gold").update(qualifying_points=0)
    # when
    job = run("tier_review", date(2026, 3, 1))
    # then
    assert _state(gold) == ("gold", None)
    assert job.details["grace_cleared"] == 1


def test_members_of_the_entry_tier_are_not_reviewed(tiers):
    # given
    enroll(joined_on=date(2024, 1, 1))
    # when
    job = run("tier_review", REVIEW)
    # then
    assert (job.batches_planned, job.considered) == (0, 0)
    assert job.finished_at is not None


def test_the_review_is_monthly_in_the_programs_time_zone(gold):
    # when: the beat runs it on the first of the month, no date given
    with travel(REVIEW):
        job = run("tier_review")
    # then
    assert job.day == REVIEW
    assert _state(gold) == ("gold", GRACE_END)


def test_the_dashboard_shows_the_grace_and_what_keeps_the_tier(gold, partner, client):
    # given: the review started Ona's grace; later she earns 600 points (Gold earns × 1.5)
    run("tier_review", REVIEW)
    _buy(gold, "400.00", REVIEW + timedelta(days=10), "G-2", partner)
    client.force_login(gold.user)
    # when
    with travel(REVIEW + timedelta(days=11)):
        html = client.get(reverse("members:dashboard")).content.decode()
    # then
    assert "You keep Gold until 2 May 2026; 900 more qualifying points by then keep it." in html
    # when: she earns Gold back, the grace ends and the line goes
    _buy(gold, "600.00", REVIEW + timedelta(days=12), "G-3", partner)
    with travel(REVIEW + timedelta(days=12)):
        html = client.get(reverse("members:dashboard")).content.decode()
    assert _state(gold) == ("gold", None)
    assert "You keep Gold until" not in html


def test_a_member_without_grace_sees_no_grace_line(gold, client):
    client.force_login(gold.user)
    with travel(REVIEW - timedelta(days=30)):
        html = client.get(reverse("members:dashboard")).content.decode()
    assert 'class="grace"' not in html
