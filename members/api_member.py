"""The partner API's member resource: its schema (MemberSerializer), `member_full` (the answer
from a Member, as enrolment gives it) and `member_answer` (GET /api/v1/members/{n}/).

Partners read members as often as they report purchases (a till shows the balance before the
sale). Through the ORM that read was four queries (the member with their user and tier, the
qualifying points, the expiring points, the referral code), and compiling them cost more Python
than anything else in the request: 9.7 ms of CPU a read in process, against 1.2 ms now
(bench/RESULTS.md, the million members). On PostgreSQL `member_answer` reads all four with one
statement, parsed and planned once per connection (loyalty.base.prepared), and builds the
answer as MemberSerializer would render it (the member's tier from the database, the next one
from this process's cache of the tiers, as member_full does). What is rare takes the usual path
afterwards: pending points, a running pause, a member without a code yet.

Elsewhere (SQLite) `member_answer` is `member_full(member_by_number(number))`;
tests/api/test_member_answer.py holds the two to the same answers.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from accounts.errors import MemberNotFound
from accounts.models import Member, User
from accounts.services import clean_member_number, member_by_number
from loyalty.base.prepared import PreparedSQL
from loyalty.core import pauses, pending, selectors
from loyalty.core.api.serializers import TierRefSerializer, tier_ref
from loyalty.core.models import LedgerEntry, PointLot, Tier
from referrals.models import ReferralCode
from referrals.selectors import referral_code_for


class NextTierSerializer(TierRefSerializer):
    points_needed = serializers.IntegerField()


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = serializers.DateField()


class PendingSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    available_on = serializers.DateField()


class MemberSerializer(serializers.Serializer):
    member_number = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    language = serializers.CharField()
    points_balance = serializers.IntegerField(help_text="What the member can spend now.")
    pending_points = serializers.IntegerField(
        help_text="Points purchases earned that wait out their partner's return window: not in "
        "points_balance, not spendable yet (a refund before then cancels them)."
    )
    pending_available_on = serializers.DateField(
        allow_null=True, help_text="The day the first of the pending points become available."
    )
    pending = PendingSerializer(
        many=True, help_text="The pending points per day they become available, soonest first."
    )
    tier = TierRefSerializer(allow_null=True)
    next_tier = NextTierSerializer(allow_null=True)
    points_expiring = ExpiringSerializer(many=True)
    joined_on = serializers.DateField()
    status = serializers.ChoiceField(
        choices=Member.Status.values,
        help_text="paused: a hardship pause runs (nothing of the member's expires meanwhile); "
        "closed: the membership is closed.",
    )
    paused_until = serializers.DateField(
        allow_null=True,
        help_text="The day a running hardship pause ends by itself (null when not paused).",
    )
    referral_code = serializers.CharField(
        help_text="The member's code for friends to join with (8 characters)."
    )


def member_full(member: Member) -> dict:
    upcoming = selectors.next_tier(member=member)
    waiting = pending.pending_by_day(member=member)  # (no query when nothing is pending)
    return MemberSerializer(
        {
            "member_number": member.member_number,
            "email": member.user.email,
            "first_name": member.user.first_name,
            "last_name": member.user.last_name,
            "language": member.language,
            "points_balance": member.points_balance,
            "pending_points": member.points_pending,
            "pending_available_on": waiting[0]["available_on"] if waiting else None,
            "pending": waiting,
            "tier": tier_ref(member.tier),
            "next_tier": {
                "code": upcoming["tier"].code,
                "name": upcoming["tier"].name,
                "points_needed": upcoming["points_needed"],
            }
            if upcoming
            else None,
            "points_expiring": selectors.points_expiring(member_id=member.pk),
            "joined_on": member.joined_on,
            "status": member.status,
            "paused_until": _paused_until(member),
            "referral_code": referral_code_for(member=member),
        }
    ).data


def _paused_until(member: Member) -> date | None:
    """The end of the member's running pause (a query only for a paused member)."""
    if member.status != Member.Status.PAUSED:
        return None
    pause = pauses.open_pause(member=member)
    return pause.ends_on if pause is not None and pause.status == pause.Status.RUNNING else None


# (the same limit as selectors.points_expiring's)
EXPIRING_LIMIT = 12


def member_answer(number: str) -> dict:
    """The member resource of the member with this number (MemberNotFound if none, or closed)."""
    if connection.vendor != "postgresql":
        return member_full(member_by_number(number))
    number = clean_member_number(number)
    tiers = selectors.tiers_by_rank()
    at = timezone.now()
    today = timezone.localdate(at)
    with connection.cursor() as cursor:
        _MEMBER_ANSWER.execute(
            cursor,
            {
                "number": number,
                "closed": Member.Status.CLOSED,
                "top_rank": tiers[-1].rank if tiers else None,
                "earn": LedgerEntry.Kind.EARN,
                "reversal": LedgerEntry.Kind.REVERSAL,
                "since": at - timezone.timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS),
                "at": at,
                "today": today,
            },
        )
        row = cursor.fetchone()
    if row is None:
        raise MemberNotFound()
    (
        member_id,
        email,
        first_name,
        last_name,
        language,
        balance,
        points_pending,
        tier_code,
        tier_name,
        tier_rank,
        joined_on,
        status,
        code,
        qualifying,
        expiring,
    ) = row
    rank = tier_rank if tier_rank is not None else -1
    upcoming = next((tier for tier in tiers if tier.rank > rank), None)
    member = None
    if points_pending or status == Member.Status.PAUSED or code is None:
        # the rare parts through the usual functions, which want the member
        member = Member(
            pk=member_id, member_number=number, status=status, points_pending=points_pending
        )
    waiting = pending.pending_by_day(member=member) if points_pending else []
    return {
        "member_number": number,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "language": language,
        "points_balance": balance,
        "pending_points": points_pending,
        "pending_available_on": _day(waiting[0]["available_on"]) if waiting else None,
        "pending": [
            {"points": day["points"], "available_on": _day(day["available_on"])} for day in waiting
        ],
        "tier": {"code": tier_code, "name": tier_name} if tier_code is not None else None,
        "next_tier": {
            "code": upcoming.code,
            "name": upcoming.name,
            "points_needed": max(upcoming.qualifying_points - max(int(qualifying or 0), 0), 0),
        }
        if upcoming is not None
        else None,
        "points_expiring": [
            {"points": points, "expires_on": expires_on} for expires_on, points in expiring or []
        ],
        "joined_on": _day(joined_on),
        "status": status,
        "paused_until": _day(_paused_until(member)) if member is not None else None,
        "referral_code": code if code is not None else referral_code_for(member=member),
    }


def member_ref(number: str) -> Member:
    """The member with this number (MemberNotFound if none, or closed) with only what their
    ledger's answer reads: the id, the language and the pending points (the others deferred).
    On PostgreSQL a prepared statement: the ORM's compiling of the lookup cost a quarter of the
    ledger's read."""
    number = clean_member_number(number)
    if connection.vendor != "postgresql":
        found = (
            Member.objects.exclude(status=Member.Status.CLOSED)
            .only(*MEMBER_REF_FIELDS)
            .filter(member_number=number)
            .first()
        )
    else:
        with connection.cursor() as cursor:
            _MEMBER_REF.execute(cursor, {"number": number, "closed": Member.Status.CLOSED})
            row = cursor.fetchone()
        found = Member.from_db(connection.alias, ["id", *MEMBER_REF_FIELDS], row) if row else None
    if found is None:
        raise MemberNotFound()
    return found


MEMBER_REF_FIELDS = ("member_number", "language", "status", "points_pending")


def _day(value: date | None) -> str | None:
    """A date as DRF's DateField renders it."""
    return value.isoformat() if value is not None else None


# What member_full reads through four ORM queries, in one statement. The qualifying points are
# those of selectors.qualifying_points (counted only below the top tier, as next_tier asks for
# them; the member's tier joined, read with the member as member_by_number reads it), the
# expiring points those of selectors.points_expiring.
_MEMBER_ANSWER = PreparedSQL(
    "loyalty_member_answer",
    f"""
SELECT m.id, u.email, u.first_name, u.last_name, m.language, m.points_balance, m.points_pending,
    t.code, t.name, t.rank, m.joined_on, m.status,
    (SELECT code FROM {ReferralCode._meta.db_table} WHERE member_id = m.id),
    CASE WHEN t.rank IS NULL OR t.rank < %(top_rank)s THEN (
        SELECT SUM(points) FROM {LedgerEntry._meta.db_table}
        WHERE member_id = m.id AND purchase_id IS NOT NULL AND kind IN (%(earn)s, %(reversal)s)
            AND created_at > %(since)s AND created_at <= %(at)s
    ) END,
    (SELECT json_agg(json_build_array(x.expires_on, x.points) ORDER BY x.expires_on) FROM (
        SELECT expires_on, SUM(remaining) AS points FROM {PointLot._meta.db_table}
        WHERE member_id = m.id AND remaining > 0 AND expires_on IS NOT NULL
            AND expires_on > %(today)s
        GROUP BY expires_on ORDER BY expires_on LIMIT {EXPIRING_LIMIT}
    ) x)
FROM {Member._meta.db_table} m JOIN {User._meta.db_table} u ON u.id = m.user_id
    LEFT JOIN {Tier._meta.db_table} t ON t.id = m.tier_id
WHERE m.member_number = %(number)s AND m.status <> %(closed)s
""",
    {
        "top_rank": "integer",
        "earn": "varchar",
        "reversal": "varchar",
        "since": "timestamptz",
        "at": "timestamptz",
        "today": "date",
        "number": "varchar",
        "closed": "varchar",
    },
)

_MEMBER_REF = PreparedSQL(
    "loyalty_member_ref",
    f"""
SELECT id, {", ".join(MEMBER_REF_FIELDS)} FROM {Member._meta.db_table}
WHERE member_number = %(number)s AND status <> %(closed)s
""",
    {"number": "varchar", "closed": "varchar"},
)
