"""Each rung's rule at its edges, and the RFM quintiles: plain functions, no database."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from insights.models import Rung
from insights.rules import (
    Facts,
    Policy,
    loyal_window_start,
    months_before,
    quintiles,
    risk_after_days,
    rung_for,
)

DAY = date(2026, 12, 6)
POLICY = Policy()


def facts(*, last_ago: int, gap: int | None = 10, months: int = 0, advocate=False, n=None):
    return Facts(
        purchases=n if n is not None else (1 if gap is None else 5),
        first_on=DAY - timedelta(days=400),
        last_on=DAY - timedelta(days=last_ago),
        median_gap=gap,
        months_active=months,
        advocate=advocate,
    )


def test_a_member_who_never_bought_is_a_prospect():
    assert rung_for(Facts(), DAY, POLICY) == Rung.PROSPECT


def test_one_purchase_is_first_time_until_twice_the_default_gap():
    # one purchase: the usual gap is first_gap_days (45), so at risk after 90 days
    assert risk_after_days(facts(last_ago=0, gap=None), POLICY) == 90
    assert rung_for(facts(last_ago=90, gap=None), DAY, POLICY) == Rung.FIRST_TIME
    assert rung_for(facts(last_ago=91, gap=None), DAY, POLICY) == Rung.AT_RISK


def test_two_purchases_are_repeat_and_at_risk_past_twice_their_gap():
    two = {"gap": 40, "n": 2}
    assert rung_for(facts(last_ago=80, **two), DAY, POLICY) == Rung.REPEAT
    assert rung_for(facts(last_ago=81, **two), DAY, POLICY) == Rung.AT_RISK


def test_a_frequent_buyer_is_never_at_risk_before_the_minimum():
    # gap of 3 days: twice is 6, but the floor is risk_min_days (30)
    many = {"gap": 3, "n": 60}
    assert risk_after_days(facts(last_ago=0, **many), POLICY) == 30
    assert rung_for(facts(last_ago=30, **many), DAY, POLICY) == Rung.REPEAT
    assert rung_for(facts(last_ago=31, **many), DAY, POLICY) == Rung.AT_RISK


def test_two_purchases_on_one_day_count_as_one_visit():
    same_day = Facts(purchases=2, first_on=DAY, last_on=DAY, median_gap=None)
    assert rung_for(same_day, DAY, POLICY) == Rung.FIRST_TIME


def test_loyal_needs_most_of_the_months():
    assert rung_for(facts(last_ago=5, months=6), DAY, POLICY) == Rung.REPEAT
    assert rung_for(facts(last_ago=5, months=7), DAY, POLICY) == Rung.LOYAL


def test_an_advocate_is_loyal_and_brought_a_friend_or_praise():
    assert rung_for(facts(last_ago=5, months=7, advocate=True), DAY, POLICY) == Rung.ADVOCATE
    # advocacy without loyalty is not enough
    assert rung_for(facts(last_ago=5, months=6, advocate=True), DAY, POLICY) == Rung.REPEAT


def test_at_risk_beats_loyal():
    assert rung_for(facts(last_ago=31, months=9, gap=10), DAY, POLICY) == Rung.AT_RISK


def test_lapsed_after_a_year_unless_their_rhythm_is_longer():
    assert rung_for(facts(last_ago=364, gap=20), DAY, POLICY) == Rung.AT_RISK
    assert rung_for(facts(last_ago=365, gap=20), DAY, POLICY) == Rung.LAPSED
    # buys every 200 days: at risk only after 400, so not lapsed at 370
    assert rung_for(facts(last_ago=370, gap=200), DAY, POLICY) == Rung.REPEAT
    assert rung_for(facts(last_ago=401, gap=200), DAY, POLICY) == Rung.LAPSED


def test_the_policy_moves_the_edges():
    strict = Policy(risk_gap_factor=Decimal("1.5"), risk_min_days=10, loyal_min_months=3)
    assert rung_for(facts(last_ago=15, gap=10), DAY, strict) == Rung.REPEAT
    assert rung_for(facts(last_ago=16, gap=10), DAY, strict) == Rung.AT_RISK
    assert rung_for(facts(last_ago=5, months=3), DAY, strict) == Rung.LOYAL


def test_windows():
    assert loyal_window_start(DAY, POLICY) == date(2026, 1, 1)
    assert loyal_window_start(date(2026, 3, 31), Policy(loyal_window_months=3)) == date(2026, 1, 1)
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(DAY, 12) == date(2025, 12, 6)


@pytest.mark.parametrize(
    "values, expected",
    [
        ({1: 10, 2: 20, 3: 30, 4: 40, 5: 50}, {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}),
        # ties share the lowest rank
        ({1: 10, 2: 10, 3: 10, 4: 40, 5: 50}, {1: 1, 2: 1, 3: 1, 4: 4, 5: 5}),
        ({1: 7}, {1: 1}),
        ({k: k for k in range(1, 11)}, {k: (k + 1) // 2 for k in range(1, 11)}),
    ],
)
def test_quintiles(values, expected):
    assert quintiles(values) == expected
