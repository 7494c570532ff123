"""The loyalty ladder's rules, as plain functions of a member's purchase facts (no database), so
each rule can be tested at its edges and read in one place. docs/ARCHITECTURE.md ("Insights")
says the same in words, and the staff pages show it (insights.words.RUNG_RULES).

A member's rung, on a given day, is the first of these that holds:

1. prospect: enrolled, never bought;
2. lapsed: no purchase for `lapsed_days` (365) and past their own rhythm (below);
3. at risk: the days since the last purchase are more than `risk_gap_factor` (2) times the
   member's usual gap, and at least `risk_min_days` (30). The usual gap is the median of the
   gaps between the days they bought on (the lower middle one for an even count); a member who
   bought on one day only is given `first_gap_days` (45), so one purchase is at risk after 90;
4. advocate: loyal (below) and brought a friend whose referral qualified, or praised the program
   in a case staff published;
5. loyal: bought in at least `loyal_min_months` (7) of the last `loyal_window_months` (12)
   calendar months, the current one included;
6. repeat: bought on two days or more;
7. first-time: bought on one day.

RFM scores are quintiles over the members who ever bought: recency by the last purchase's day,
frequency by purchases and monetary value by spend over the last 12 months; 5 is the best fifth.
A member's score is 1 + 5 × (their rank − 1) ÷ the members scored, where equal values share the
lowest rank, so equal members always get the same score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .models import Rung

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Policy:
    """The thresholds (InsightsPolicy's fields), as plain values."""

    loyal_window_months: int = 12
    loyal_min_months: int = 7
    risk_gap_factor: Decimal = Decimal("2.00")
    risk_min_days: int = 30
    first_gap_days: int = 45
    lapsed_days: int = 365

    @classmethod
    def of(cls, row) -> Policy:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Facts:
    """What the ladder needs to know of one member on a day."""

    purchases: int = 0
    first_on: date | None = None
    last_on: date | None = None
    median_gap: int | None = None  # None: fewer than two days with a purchase
    purchases_12m: int = 0
    spend_12m: Decimal = Decimal(0)
    spend_recent: Decimal = Decimal(0)  # the last 6 months
    spend_before: Decimal = Decimal(0)  # the 6 months before those
    months_active: int = 0  # calendar months with a purchase in the loyal window
    advocate: bool = False


def usual_gap(facts: Facts, policy: Policy) -> int:
    return facts.median_gap if facts.median_gap else policy.first_gap_days


def risk_after_days(facts: Facts, policy: Policy) -> int:
    """How many days without a purchase make this member at risk."""
    return max(math.ceil(policy.risk_gap_factor * usual_gap(facts, policy)), policy.risk_min_days)


def rung_for(facts: Facts, day: date, policy: Policy) -> str:
    if not facts.purchases or facts.last_on is None:
        return Rung.PROSPECT
    since = (day - facts.last_on).days
    past_rhythm = since > risk_after_days(facts, policy)
    if since >= policy.lapsed_days and past_rhythm:
        return Rung.LAPSED
    if past_rhythm:
        return Rung.AT_RISK
    if facts.months_active >= policy.loyal_min_months:
        return Rung.ADVOCATE if facts.advocate else Rung.LOYAL
    return Rung.REPEAT if facts.median_gap else Rung.FIRST_TIME


def loyal_window_start(day: date, policy: Policy) -> date:
    """The first day of the loyal window: the 1st of the month `loyal_window_months` − 1 before
    the day's month."""
    months = day.year * 12 + day.month - 1 - (policy.loyal_window_months - 1)
    return date(months // 12, months % 12 + 1, 1)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day where it has no such day)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = total // 12, total % 12 + 1
    for day_of_month in (day.day, 30, 29, 28):
        try:
            return date(year, month, day_of_month)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def quintile(rank: int, scored: int) -> int:
    """The RFM score of the `rank`-th (1-based, ties sharing the lowest rank) of `scored`."""
    return 1 + (5 * (rank - 1)) // scored


def quintiles(values: dict[int, object]) -> dict[int, int]:
    """Each key's score by its value (higher is better), ties sharing the lowest rank."""
    ordered = sorted(values.values())
    scored = len(ordered)
    first_rank: dict[object, int] = {}
    for index, value in enumerate(ordered, 1):
        first_rank.setdefault(value, index)
    return {key: quintile(first_rank[value], scored) for key, value in values.items()}


def signals_for(facts: Facts, rung: str, day: date, policy: Policy) -> list[dict]:
    """The attrition signals that come from purchases (the others are added by the caller):
    the gap against the member's rhythm, and spend falling to under half."""
    signals = []
    if rung == Rung.AT_RISK and facts.last_on is not None:
        signals.append(
            {
                "kind": "gap",
                "days": (day - facts.last_on).days,
                "usual": usual_gap(facts, policy),
            }
        )
    if facts.spend_before > 0 and facts.spend_recent * 2 < facts.spend_before:
        signals.append(
            {
                "kind": "falling_spend",
                "recent": str(facts.spend_recent.quantize(CENTS)),
                "before": str(facts.spend_before.quantize(CENTS)),
            }
        )
    return signals
