"""Read queries for the member's referral page, the partner API and the admin.

What a referrer sees of a friend (the page and the partner API alike): the first name and a
masked e-mail address (o***@e***.com), never the friend's member number, full address, balance
or purchases. Enough to recognise whom they invited, nothing that lets a partner or a curious
referrer look the friend up.

Statuses shown to members and partners are simpler than staff's: a referral waiting for review
is shown as "pending" (the review is internal), one refused by a rule or by staff as
"not_eligible".
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from accounts.models import Member
from loyalty.core.models import LedgerEntry

from .emails import mask_email
from .errors import InvalidReferralCode
from .invitations import invitations_left_today
from .models import Referral
from .services import join_url, referral_code_ensure, referral_code_find

PUBLIC_STATUS = {
    Referral.Status.PENDING: "pending",
    Referral.Status.FLAGGED: "pending",
    Referral.Status.QUALIFIED: "qualified",
    Referral.Status.EXPIRED: "expired",
    Referral.Status.REVERSED: "reversed",
    Referral.Status.REJECTED: "not_eligible",
}
PUBLIC_STATUSES = ["pending", "qualified", "expired", "reversed", "not_eligible"]


def referred():
    """Whether a member was ever referred, as an expression over the member: the purchase hook
    applies only then. Referrals start at enrolment, so a member who was never referred never
    will be, and their purchases skip the referral check without a query."""
    return Exists(Referral.objects.filter(referee=OuterRef("pk")))


def referral_code_for(*, member: Member) -> str:
    """The member's referral code as stored (8 characters); made on first need."""
    return referral_code_ensure(member=member).code


def referrals_made(*, member_id: int) -> QuerySet[Referral]:
    """The member's referrals, newest first, each with `points_earned`: the referrer's bonus
    less what was taken back. One query however many friends."""
    taken_back = (
        LedgerEntry.objects.filter(reverses=OuterRef("referrer_entry"))
        .order_by()
        .values("reverses")
        .annotate(total=Sum("points"))
        .values("total")
    )
    return (
        Referral.objects.filter(referrer_id=member_id)
        .select_related("referee__user", "referrer_entry")
        .annotate(
            points_earned=Coalesce("referrer_entry__points", Value(0))
            + Coalesce(Subquery(taken_back, output_field=IntegerField()), Value(0))
        )
        .order_by("-created_at", "-id")
    )


def referral_line(referral: Referral) -> dict:
    """One friend as the member's page and the partner API show them."""
    user = referral.referee.user
    return {
        "friend_first_name": user.first_name,
        "friend_email": mask_email(user.email),
        "status": PUBLIC_STATUS[referral.status],
        "points_earned": referral.points_earned,
        "created_at": referral.created_at,
        "qualified_at": referral.qualified_at,
        "qualify_by": referral.expires_on,
    }


def referral_page(*, member: Member) -> dict:
    """Everything the member's referral page shows: the code and link (for the QR code), how
    many invitations are left today, the friends with their status and the points earned."""
    code = referral_code_ensure(member=member)
    friends = [referral_line(referral) for referral in referrals_made(member_id=member.pk)]
    return {
        "code": code.code,
        "display_code": code.display_code,
        "join_url": join_url(code.code),
        "invitations_left_today": invitations_left_today(member=member),
        "friends": friends,
        "points_earned": sum(friend["points_earned"] for friend in friends),
        **_terms(),
    }


def _terms() -> dict:
    return {
        "bonus_referrer": settings.REFERRAL_BONUS_REFERRER,
        "bonus_friend": settings.REFERRAL_BONUS_FRIEND,
        "min_purchase": settings.REFERRAL_MIN_PURCHASE,
        "currency": settings.LOYALTY_CURRENCY,
        "qualify_days": settings.REFERRAL_QUALIFY_DAYS,
    }


def referral_welcome(*, code: str) -> dict | None:
    """What a friend arriving by a referral link is told: who invited them and what both get.

    Only the referrer's first name ("" when they gave none: the page says "a member"), never
    their e-mail address or member number; None for a code nobody active has (the page then
    says nothing of an invitation and the form says what is wrong when sent)."""
    if not code:
        return None
    try:
        found = referral_code_find(code)
    except InvalidReferralCode:
        return None
    return {"referrer_first_name": found.member.user.first_name.strip(), **_terms()}


def referral_qr_svg(*, url: str, scale: int = 4) -> str:
    """The link as an inline SVG QR code, drawn locally (segno), for the referral page."""
    import segno

    return segno.make(url, error="m").svg_inline(scale=scale, title=url)


def conversion_by_month(*, months: int = 12, today: date | None = None) -> list[dict]:
    """For staff: per calendar month of joining, the referrals started, how many qualified
    (and still are: reversed ones do not count) and the rate, newest month first."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = (
        Referral.objects.filter(created_at__date__gte=first)
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(
            total=Count("id"), qualified=Count("id", filter=Q(status=Referral.Status.QUALIFIED))
        )
        .order_by("-month")
    )
    return [
        {
            "month": row["month"].date() if hasattr(row["month"], "date") else row["month"],
            "referrals": row["total"],
            "qualified": row["qualified"],
            "rate": row["qualified"] / row["total"] if row["total"] else 0.0,
        }
        for row in rows
    ]


def conversion_overall() -> dict:
    totals = Referral.objects.aggregate(
        total=Count("id"),
        qualified=Count("id", filter=Q(status=Referral.Status.QUALIFIED)),
        flagged=Count("id", filter=Q(status=Referral.Status.FLAGGED)),
    )
    totals["rate"] = totals["qualified"] / totals["total"] if totals["total"] else 0.0
    return totals
