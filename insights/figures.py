"""The dashboard's figures, computed by the nightly run and kept as one Snapshot per day, so a
dashboard view reads one row whatever the program's size. Numbers only: insights.words and the
templates say what they mean, in the reader's language.

- members by rung and by tier;
- the ladder's flow: per month, the moves onto each rung, and how many went up or down;
- points per month: earned (every credit but reversals), spent on rewards, expired;
- the liability: outstanding points (what remains of open lots) by the month they expire, and
  their value at InsightsPolicy.point_value;
- expected breakage: the share of points that expired rather than being spent over the last 24
  months, applied to the outstanding points;
- repeat rate, average spend of loyal members against first-time ones, referral conversion,
  campaign results and the feedback book's deadline figures.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Member
from feedback.selectors import month_starts, monthly_figures
from loyalty.core.jobs import day_end
from loyalty.core.models import LedgerEntry, PointLot, Tier
from referrals.models import Referral

from . import campaigns, rules
from .models import (
    RUNG_LEVEL,
    InsightsPolicy,
    MemberInsight,
    PointsMonth,
    Rung,
    RungChange,
    Snapshot,
)

MONTHS = 12
BREAKAGE_MONTHS = 24
# A month that ended this many days before it was counted is not counted again.
SETTLE_DAYS = 3


def _month(value) -> str:
    return value.strftime("%Y-%m") if value is not None else ""


def point_value() -> Decimal:
    """What one outstanding point costs the program (InsightsPolicy; its default without it)."""
    row = InsightsPolicy.objects.filter(pk=1).only("point_value").first()
    return (
        row.point_value
        if row is not None
        else InsightsPolicy._meta.get_field("point_value").default
    )


def _start(day: date) -> datetime:
    """The start of a day in the program's time zone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def _money(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def members_by_rung() -> dict[str, int]:
    counts = dict(MemberInsight.objects.values_list("rung").annotate(n=Count("pk")))
    return {rung: counts.get(rung, 0) for rung in Rung.values}


def members_by_tier() -> list[dict]:
    counts = dict(
        Member.objects.exclude(status=Member.Status.CLOSED)
        .values_list("tier_id")
        .annotate(n=Count("pk"))
    )
    return [
        {"tier": tier.pk, "name": tier.name, "members": counts.get(tier.pk, 0)}
        for tier in Tier.objects.order_by("rank")
    ]


def flow(months: list[date], end) -> list[dict]:
    """Per month: the moves onto each rung (a member's first assessment is not a move), and
    how many of them went up the ladder or down."""
    moves = (
        RungChange.objects.filter(day__gte=months[0], day__lt=end.date())
        .exclude(from_rung="")
        .annotate(month=TruncMonth("day"))
        .values_list("month", "from_rung", "to_rung")
        .annotate(n=Count("pk"))
    )
    table = {_month(m): {"month": _month(m), "up": 0, "down": 0, "to": {}} for m in months}
    for month, from_rung, to_rung, n in moves:
        row = table.get(_month(month))
        if row is None:
            continue
        row["to"][to_rung] = row["to"].get(to_rung, 0) + n
        row["up" if RUNG_LEVEL[to_rung] > RUNG_LEVEL[from_rung] else "down"] += n
    return list(table.values())


def _month_end(month: date) -> datetime:
    return _start(rules.months_before(month, -1))


def points_months(months: list[date], now: datetime) -> dict[date, PointsMonth]:
    """Each month's points (earned: every credit but reversals; spent on rewards; expired),
    from PointsMonth; a month is counted again only while it may still change: the current
    one, and one that ended less than SETTLE_DAYS before it was counted."""
    kept = PointsMonth.objects.in_bulk(months)
    stale = [
        m
        for m in months
        if m not in kept or kept[m].computed_at < _month_end(m) + timedelta(days=SETTLE_DAYS)
    ]
    if stale:
        zone = timezone.get_default_timezone()
        rows = (
            LedgerEntry.objects.filter(
                created_at__gte=_start(min(stale)), created_at__lt=_month_end(max(stale))
            )
            .annotate(month=TruncMonth("created_at", tzinfo=zone))
            .values("month")
            .annotate(
                earned=Sum("points", filter=Q(points__gt=0) & ~Q(kind=LedgerEntry.Kind.REVERSAL)),
                spent=Sum("points", filter=Q(kind=LedgerEntry.Kind.SPEND)),
                expired=Sum("points", filter=Q(kind=LedgerEntry.Kind.EXPIRE)),
            )
        )
        found = {_month_key(row["month"]): row for row in rows}
        fresh = []
        for month in stale:
            row = found.get(month, {})
            fresh.append(
                PointsMonth(
                    month=month,
                    earned=row.get("earned") or 0,
                    spent=-(row.get("spent") or 0),
                    expired=-(row.get("expired") or 0),
                    computed_at=now,
                )
            )
        with transaction.atomic():
            PointsMonth.objects.bulk_create(
                fresh,
                update_conflicts=True,
                unique_fields=["month"],
                update_fields=["earned", "spent", "expired", "computed_at"],
            )
        kept.update({row.month: row for row in fresh})
    return {month: kept[month] for month in months}


def _month_key(value) -> date:
    """TruncMonth's value (a date, or a datetime on some databases) as the month's first day."""
    return (value.date() if isinstance(value, datetime) else value).replace(day=1)


def points_per_month(counted: dict[date, PointsMonth], months: list[date]) -> list[dict]:
    return [
        {
            "month": _month(m),
            "earned": counted[m].earned,
            "spent": counted[m].spent,
            "expired": counted[m].expired,
        }
        for m in months
    ]


def liability(point_value: Decimal) -> dict:
    """Outstanding points (what remains of open lots) by expiry month, and their value."""
    rows = (
        PointLot.objects.filter(remaining__gt=0)
        .annotate(month=TruncMonth("expires_on"))
        .values_list("month")
        .annotate(points=Sum("remaining"))
        .order_by("month")
    )
    by_month = [{"month": _month(month), "points": points} for month, points in rows]
    by_month.sort(key=lambda row: row["month"] or "9999")  # never-expiring points last
    outstanding = sum(row["points"] for row in by_month)
    for row in by_month:
        row["value"] = _money(row["points"] * point_value)
    return {
        "points": outstanding,
        "point_value": str(point_value),
        "value": _money(outstanding * point_value),
        "by_month": by_month,
    }


def breakage(counted: dict[date, PointsMonth], outstanding: int, point_value: Decimal) -> dict:
    """The share of settled points that expired rather than being spent, over the last 24
    calendar months, and what it predicts of the outstanding points."""
    spent = sum(row.spent for row in counted.values())
    expired = sum(row.expired for row in counted.values())
    if spent + expired == 0:
        return {"spent": 0, "expired": 0, "rate": None, "points": None, "value": None}
    rate = Decimal(expired) / Decimal(spent + expired)
    points = int((outstanding * rate).to_integral_value(rounding=ROUND_HALF_UP))
    return {
        "spent": spent,
        "expired": expired,
        "rate": str(rate.quantize(Decimal("0.0001"))),
        "points": points,
        "value": _money(points * point_value),
        "net_value": _money((outstanding - points) * point_value),
    }


def customers() -> dict:
    """Repeat rate, and the average 12-month spend of loyal members against first-time ones."""
    bought = MemberInsight.objects.filter(purchases__gt=0)
    counts = bought.aggregate(
        bought=Count("pk"), repeat=Count("pk", filter=Q(median_gap_days__isnull=False))
    )
    loyal = MemberInsight.objects.filter(rung__in=[Rung.LOYAL, Rung.ADVOCATE]).aggregate(
        n=Count("pk"), spend=Avg("spend_12m")
    )
    new = MemberInsight.objects.filter(rung=Rung.FIRST_TIME).aggregate(
        n=Count("pk"), spend=Avg("spend_12m")
    )
    return {
        "bought": counts["bought"],
        "repeat": counts["repeat"],
        "loyal_members": loyal["n"],
        "loyal_average_spend": _money(loyal["spend"]) if loyal["spend"] is not None else None,
        "new_members": new["n"],
        "new_average_spend": _money(new["spend"]) if new["spend"] is not None else None,
    }


def referral_conversion(months: list[date], end) -> dict:
    start = _start(months[0])
    sums = Referral.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        made=Count("pk"),
        qualified=Count("pk", filter=Q(status=Referral.Status.QUALIFIED)),
    )
    return {"made": sums["made"], "qualified": sums["qualified"]}


def feedback_deadlines(day: date, end) -> list[dict]:
    return [
        {
            "month": _month(m.month),
            "filed": m.filed,
            "complaints": m.complaints,
            "deadline_due": m.deadline_due,
            "answered_in_time": m.answered_in_time,
            "median_hours": str(m.median_hours_to_first_answer)
            if m.median_hours_to_first_answer is not None
            else None,
        }
        for m in monthly_figures(MONTHS, day, now=end)
    ]


def ledger_figures(day: date) -> dict:
    """The figures that read the ledger, lots, tiers, referrals and feedback, not the ladder's
    results: the nightly run computes them on another connection while it assesses members."""
    end = day_end(day)
    months = month_starts(MONTHS, day)
    counted = points_months(month_starts(BREAKAGE_MONTHS, day), timezone.now())
    value = point_value()
    owed = liability(value)
    return {
        "tiers": members_by_tier(),
        "points": points_per_month(counted, months),
        "liability": owed,
        "breakage": breakage(counted, owed["points"], value),
        "referrals": referral_conversion(months, end),
        "feedback": feedback_deadlines(day, end),
    }


def snapshot_figures(day: date, ledger: dict | None = None) -> dict:
    months = month_starts(MONTHS, day)
    figures = {
        "rungs": members_by_rung(),
        "flow": flow(months, day_end(day)),
        "customers": customers(),
        "campaigns": campaigns.campaign_results_all(),
    }
    return {**figures, **(ledger if ledger is not None else ledger_figures(day))}


def snapshot_compute(*, day: date, ledger: dict | None = None) -> Snapshot:
    """Compute and keep the day's figures (a second run that day replaces them); `ledger`:
    ledger_figures(day), when computed already."""
    figures = snapshot_figures(day, ledger)
    with transaction.atomic():
        snapshot, _ = Snapshot.objects.update_or_create(
            day=day, defaults={"figures": figures, "computed_at": timezone.now()}
        )
    return snapshot


def snapshot_latest() -> Snapshot | None:
    return Snapshot.objects.order_by("-day").first()
