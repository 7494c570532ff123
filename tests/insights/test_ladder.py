"""The nightly ladder on PostgreSQL: rungs from real purchases, the history of moves, RFM, the
signals, a second run that changes nothing, and the portable path giving the same answers."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.management import call_command

from insights.ladder import ladder_compute
from insights.models import MemberInsight, Rung, RungChange, Snapshot
from loyalty.core.models import JobRun
from tests.factories import give_points, make_member

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
    # a first assessment is where a member starts, not a move
    assert not RungChange.objects.exists()
    assert MemberInsight.objects.filter(rung_since=DAY).count() == len(cast)
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


@pytest.fixture
def edges(cast, partner, tiers, staff_user):
    """Members at the rules' edges, and one with each signal, beside the cast."""
    from accounts.models import Member
    from feedback.models import FeedbackItem
    from feedback.services import case_publish, feedback_answer, feedback_file, feedback_rate

    people = dict(cast)
    for name, last_ago, gap, count in (
        ("one_at_90", 90, 1, 1),  # first-time until 90 days, at risk after
        ("two_at_2x", 80, 40, 2),  # repeat until twice the gap
        ("two_past_2x", 81, 40, 2),
        ("frequent_at_min", 30, 3, 5),  # never at risk before 30 days
        ("frequent_past_min", 31, 3, 5),
        ("long_rhythm", 370, 200, 3),  # a year, but not past their rhythm
        ("same_day", 5, 0, 2),  # two purchases, one day
    ):
        member = make_member(email=f"{name}@example.com")
        people[name] = member
        if gap == 0:
            buy(member, partner, DAY - timedelta(days=last_ago))
            buy(member, partner, DAY - timedelta(days=last_ago))
        else:
            every_days(member, partner, DAY - timedelta(days=last_ago), gap=gap, count=count)
    # loyal in 7 months of 12 with a published praise: an advocate; another loyal in 6: repeat
    fan = people["fan"] = make_member(email="fan@example.com", language="lt")
    every_days(fan, partner, DAY - timedelta(days=1), gap=30, count=7, amount="45.50")
    six = people["six_months"] = make_member(email="six@example.com")
    every_days(six, partner, DAY - timedelta(days=1), gap=30, count=6)
    praise = feedback_file(member=fan, kind="praise", category="service", text="Lovely staff!",
                           publish_consent=True, at=noon(DAY - timedelta(days=9)))  # fmt: skip
    feedback_answer(item=praise, author=staff_user, what_was_done="Thanked the team.")
    case_publish(item=praise, staff_user=staff_user, language="en", problem="Kind staff.",
                 what_changed="We told them.")  # fmt: skip
    # a complaint answered and rated 1; a falling spend; a grace period; points expiring soon
    grumpy = people["repeat"]
    complaint = feedback_file(member=grumpy, kind=FeedbackItem.Kind.COMPLAINT, category="service",
                              text="Slow.", at=noon(DAY - timedelta(days=12)))  # fmt: skip
    feedback_answer(item=complaint, author=staff_user, what_was_done="Sorry.")
    feedback_rate(member=grumpy, item_id=complaint.pk, rating=1)
    spender = people["falling"] = make_member(email="falling@example.com")
    every_days(spender, partner, DAY - timedelta(days=200), gap=20, count=5, amount="90")
    every_days(spender, partner, DAY - timedelta(days=2), gap=40, count=2, amount="10")
    Member.objects.filter(pk=people["loyal"].pk).update(tier_grace_until=DAY + timedelta(days=9))
    give_points(people["first"], 30, expires_on=DAY + timedelta(days=12))
    return people


@pytest.mark.postgres
def test_the_portable_path_gives_the_same_answers(edges):
    def table():
        return {row["member_id"]: row for row in MemberInsight.objects.values()}

    ladder_compute(day=DAY, portable=False)
    fast = table()
    fast_moves = set(RungChange.objects.values_list("member_id", "from_rung", "to_rung"))
    rungs = {name: fast[m.pk]["rung"] for name, m in edges.items()}
    assert rungs["one_at_90"] == Rung.FIRST_TIME and rungs["first_risk"] == Rung.AT_RISK
    assert (rungs["two_at_2x"], rungs["two_past_2x"]) == (Rung.REPEAT, Rung.AT_RISK)
    assert (rungs["frequent_at_min"], rungs["frequent_past_min"]) == (Rung.REPEAT, Rung.AT_RISK)
    assert (rungs["long_rhythm"], rungs["same_day"]) == (Rung.REPEAT, Rung.FIRST_TIME)
    assert (rungs["fan"], rungs["six_months"]) == (Rung.ADVOCATE, Rung.REPEAT)
    kinds = {name: [s["kind"] for s in fast[m.pk]["signals"]] for name, m in edges.items()}
    assert kinds["repeat"] == ["complaint"] and kinds["falling"] == ["falling_spend"]
    assert kinds["loyal"] == ["downgrade"] and kinds["first"] == ["expiring"]
    assert kinds["risk"] == ["gap"]
    assert not fast[edges["fan"].pk]["quiet"] and fast[edges["six_months"].pk]["quiet"]
    MemberInsight.objects.all().delete()
    RungChange.objects.all().delete()
    ladder_compute(day=DAY, portable=True)
    assert table() == fast
    assert set(RungChange.objects.values_list("member_id", "from_rung", "to_rung")) == fast_moves


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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_run_on_several_connections_gives_the_same_answers(edges, settings):
    """Outside a transaction the job gathers the facts on several connections at once (more
    ranges than connections) and the ledger's figures on another: the same rows as one
    connection's run."""
    from insights import concurrency
    from insights.ladder import ladder_step

    settings.LOYALTY_INSIGHTS_CONNECTIONS = 3
    assert concurrency.can_fan_out()
    ladder_step(ids=[], day=DAY)
    fanned = {row["member_id"]: row for row in MemberInsight.objects.values()}
    figures = Snapshot.objects.get(day=DAY).figures
    MemberInsight.objects.all().delete()
    Snapshot.objects.all().delete()
    ladder_compute(day=DAY, portable=True)
    assert {row["member_id"]: row for row in MemberInsight.objects.values()} == fanned
    assert figures["rungs"][Rung.ADVOCATE] == 1 and figures["liability"]["points"] > 0
