"""Read queries shared by the API, the member pages and the admin."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Member
from loyalty.base.caching import ProcessCache

from .models import EarningRule, PointLot, Tier

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
    """The next tier up and the qualifying points still needed to reach it."""
    from .services import qualifying_points

    rank = member.tier.rank if member.tier_id else -1
    tier = Tier.objects.filter(rank__gt=rank).order_by("rank").first()
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
