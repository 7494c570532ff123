"""The nightly ladder on PostgreSQL: rungs from real purchases, the history of moves, RFM, the
signals, a second run that changes nothing, and the portable path giving the same answers."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command

from insights.ladder import ladder_compute
from insights.models import MemberInsight, Rung, RungChange, Snapshot
from loyalty.core.models import JobRun
from tests.factories import make_member

from .helpers import buy, noon

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 6)


def every_days(member, partner, last: date, gap: int, count: int, amount="20.00"):
    for k in range(count):
        buy(member, partner, last - timedelta(days=gap * (count - 1 - k)), amount)


@pytest.fixture
def cast(tiers, partner, base_rule):
    """A member on each rung, as of DAY."""
    people = {name: make_member(email=f"{name}@example.com") for name in (
        "prospect", "first", "first_risk", "repeat", "loyal", "risk", "lapsed")}  # fmt: skip
    buy(people["first"], partner, DAY - timedelta(days=10))
    buy(people["first_risk"], partner, DAY - timedelta(days=91))
    every_days(people["repeat"], partner, DAY - timedelta(days=3), gap=60, count=3)
    every_days(people["loyal"], partner, DAY - timedelta(days=2), gap=30, count=11, amount="80")
    every_days(people["risk"], partner, DAY - timedelta(days=70), gap=20, count=4)
    every_days(people["lapsed"], partner, DAY - timedelta(days=400), gap=20, count=3)
    return people


def rungs(people) -> dict[str, str]:
    found = dict(MemberInsight.objects.values_list("member_id", "rung"))
    return {name: found.get(member.pk) for name, member in people.items()}


def test_each_member_lands_on_their_rung(cast):
    with time_machine.travel(noon(DAY), tick=False):
        call_command("run_job", "insights", "--date", DAY.isoformat())
    assert rungs(cast) == {
        "prospect": Rung.PROSPECT,
        "first": Rung.FIRST_TIME,
        "first_risk": Rung.AT_RISK,
        "repeat": Rung.REPEAT,
        "loyal": Rung.LOYAL,
        "risk": Rung.AT_RISK,
        "lapsed": Rung.LAPSED,
    }
    run = JobRun.objects.get(name="insights")
    assert run.finished_at is not None and run.errors == 0
    loyal = MemberInsight.objects.get(member=cast["loyal"])
    assert (loyal.purchases, loyal.median_gap_days, loyal.months_active) == (11, 30, 11)
    assert loyal.monetary == 5 and loyal.recency == 5
    risk = MemberInsight.objects.get(member=cast["risk"])
    assert {"kind": "gap", "days": 70, "usual": 20} in risk.signals
    assert Snapshot.objects.get(day=DAY).figures["rungs"][Rung.AT_RISK] == 2


def test_moves_are_kept_and_a_second_run_changes_nothing(cast, partner):
    ladder_compute(day=DAY)
    assert RungChange.objects.filter(day=DAY, from_rung="").count() == len(cast)
    again = ladder_compute(day=DAY)
    assert again.paid == 0 and again.details["moved"] == 0
    # the member at risk comes back the next day
    buy(cast["risk"], partner, DAY + timedelta(days=1))
    later = DAY + timedelta(days=1)
    ladder_compute(day=later)
    move = RungChange.objects.get(member=cast["risk"], day=later)
    assert (move.from_rung, move.to_rung) == (Rung.AT_RISK, Rung.REPEAT)
    insight = MemberInsight.objects.get(member=cast["risk"])
    assert insight.rung_since == later
    assert MemberInsight.objects.get(member=cast["loyal"]).rung_since == DAY


@pytest.mark.postgres
def test_the_portable_path_gives_the_same_answers(cast):
    def table():
        return {row["member_id"]: row for row in MemberInsight.objects.values()}

    ladder_compute(day=DAY, portable=False)
    fast = table()
    MemberInsight.objects.all().delete()
    RungChange.objects.all().delete()
    ladder_compute(day=DAY, portable=True)
    assert table() == fast


def test_attrition_signals_and_the_quiet(cast, partner, tiers):
    from accounts.models import Member
    from feedback.models import FeedbackItem
    from feedback.services import feedback_file

    risk = cast["risk"]
    with time_machine.travel(noon(DAY - timedelta(days=20)), tick=False):
        feedback_file(
            member=risk, kind=FeedbackItem.Kind.COMPLAINT, category="service", text="Cold coffee."
        )
    Member.objects.filter(pk=risk.pk).update(tier_grace_until=DAY + timedelta(days=40))
    ladder_compute(day=DAY)
    insight = MemberInsight.objects.get(member=risk)
    kinds = {signal["kind"]: signal for signal in insight.signals}
    assert kinds["gap"] == {"kind": "gap", "days": 70, "usual": 20}
    assert kinds["complaint"]["why"] == "unanswered"
    assert kinds["downgrade"]["until"] == (DAY + timedelta(days=40)).isoformat()
    assert not insight.quiet
    assert MemberInsight.objects.get(member=cast["loyal"]).quiet
