"""Read queries shared by the API, the member pages and the admin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Member
from loyalty.base.caching import ProcessCache
from loyalty.base.prepared import PreparedSQL

from .models import EarningRule, LedgerEntry, PointLot, Tier

# How long a process keeps the earning rules and tiers (see ProcessCache): a change staff make
# applies to every purchase within this many seconds.
RULES_CACHE_SECONDS = 30

_earning_rules = ProcessCache(
    "loyalty.earning_rules",
    lambda: tuple(EarningRule.objects.filter(is_active=True).order_by("name", "pk")),
    seconds=RULES_CACHE_SECONDS,
    models=[EarningRule],
)
_tiers = ProcessCache(
    "loyalty.tiers",
    lambda: tuple(Tier.objects.order_by("rank")),
    seconds=RULES_CACHE_SECONDS,
    models=[Tier],
)


_rules_by_id = ProcessCache(
    "loyalty.earning_rules_by_id",
    lambda: {rule.pk: rule for rule in EarningRule.objects.all()},
    seconds=RULES_CACHE_SECONDS,
    models=[EarningRule],
)


def earning_rule_by_id(rule_id) -> EarningRule | None:
    """Any earning rule, active or not, from this process's cache (a purchase's explanation
    names the rules it used by id, worded in the reader's language when shown)."""
    return _rules_by_id.get().get(rule_id)


def tier_named(name: str) -> Tier | None:
    """The tier whose (English) name a stored explanation gives, from the process's cache."""
    return next((tier for tier in tiers_by_rank() if tier.name == name), None)


def earning_rules_active(*, partner_id: int) -> list[EarningRule]:
    """The active earning rules for a partner's purchases (its own and every partner's), from
    this process's cache. Read-only instances, shared by the threads of the process."""
    return [
        rule
        for rule in _earning_rules.get()
        if rule.partner_id is None or rule.partner_id == partner_id
    ]


def tiers_by_rank() -> tuple[Tier, ...]:
    """Every tier, lowest rank first, from this process's cache. Read-only instances, shared by
    the threads of the process."""
    return _tiers.get()


def next_tier(*, member: Member, qualifying: int | None = None) -> dict | None:
    """The next tier up and the qualifying points still needed to reach it (the tiers from this
    process's cache: no query for them)."""
    rank = member.tier.rank if member.tier_id else -1
    tier = next((tier for tier in tiers_by_rank() if tier.rank > rank), None)
    if tier is None:
        return None
    if qualifying is None:
        qualifying = qualifying_points(member_id=member.pk)
    return {
        "tier": tier,
        "qualifying_points": qualifying,
        "points_needed": max(tier.qualifying_points - qualifying, 0),
    }


def points_expiring(
    *, member_id: int, within_days: int | None = None, today: date | None = None, limit: int = 12
) -> list[dict]:
    """What remains of the member's lots, summed per expiry date, soonest first."""
    today = today or timezone.localdate()
    lots = PointLot.objects.filter(
        member_id=member_id, remaining__gt=0, expires_on__isnull=False, expires_on__gt=today
    )
    if within_days is not None:
        lots = lots.filter(expires_on__lte=today + timedelta(days=within_days))
    rows = (
        lots.values("expires_on").annotate(points=Sum("remaining")).order_by("expires_on")[:limit]
    )
    return [{"points": row["points"], "expires_on": row["expires_on"]} for row in rows]


# --- qualifying points (tiers) ---------------------------------------------------------------


def qualifying_points(*, member_id: int, at: datetime | None = None) -> int:
    """Points earned from purchases (less their reversals) over the rolling tier window."""
    return qualifying_points_many(member_ids=[member_id], at=at).get(member_id, 0)


def qualifying_points_many(*, member_ids: Sequence[int], at: datetime | None = None) -> dict:
    """qualifying_points of many members with one query: {member id: points} (0 left out)."""
    at = at or timezone.now()
    since = at - timezone.timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
    member_ids = list(member_ids)
    if not member_ids:
        return {}
    params = {
        "earn": LedgerEntry.Kind.EARN,
        "reversal": LedgerEntry.Kind.REVERSAL,
        "since": connection.ops.adapt_datetimefield_value(since),
        "at": connection.ops.adapt_datetimefield_value(at),
    }
    with connection.cursor() as cursor:
        if len(member_ids) == 1:  # every purchase (the upgrade check): a prepared statement
            _QUALIFYING_ONE.execute(cursor, {**params, "member": member_ids[0]})
        else:
            ids = {f"m{i}": member_id for i, member_id in enumerate(member_ids)}
            cursor.execute(
                _QUALIFYING_SQL.format(members=", ".join(f"%({key})s" for key in ids)),
                {**params, **ids},
            )
        rows = cursor.fetchall()
    return {member_id: int(total) for member_id, total in rows if total and total > 0}


# What LedgerEntry.objects.filter(member_id__in=..., purchase__isnull=False,
# kind__in=[earn, reversal], created_at__gt=since, created_at__lte=at)
# .values_list("member_id").annotate(Sum("points")) compiles to, without compiling it each time.
_QUALIFYING_SQL = (
    f"SELECT member_id, SUM(points) FROM {LedgerEntry._meta.db_table} "
    "WHERE member_id IN ({members}) AND purchase_id IS NOT NULL "
    "AND kind IN (%(earn)s, %(reversal)s) AND created_at > %(since)s AND created_at <= %(at)s "
    "GROUP BY member_id"
)


_QUALIFYING_ONE = PreparedSQL(
    "loyalty_qualifying_points",
    _QUALIFYING_SQL.format(members="%(member)s"),
    {
        "member": "bigint",
        "earn": "varchar",
        "reversal": "varchar",
        "since": "timestamptz",
        "at": "timestamptz",
    },
)
