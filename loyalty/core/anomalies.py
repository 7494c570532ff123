"""A partner's sanity limits and the anomalies staff look at.

One partner key has a bounded blast radius: a purchase above the partner's largest amount, or
one that would earn more than its most points per purchase, is refused with a problem code of its
own (errors.OverLimit), and so are redemptions past its points a day (rewards). Each refusal is
an anomaly; so is a purchase near the limits (LOYALTY_LARGE_PURCHASE_SHARE of either), and points
spent at one partner within LOYALTY_SPENT_ELSEWHERE_MINUTES of a large earn at another (a stolen
card or key cashing in). Anomalies are listed in the admin; the first of a kind for a partner in
an hour e-mails staff through the outbox (an attack of a thousand refusals is one e-mail an hour,
and the list holds them all). Staff set the limits on the partner's admin page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Member, Partner
from notifications.outbox import email_enqueue
from notifications.staff import staff_emails

from .errors import OverLimit, PurchaseAmountOverLimit, PurchasePointsOverLimit
from .models import Anomaly

ALERT_EVERY = timedelta(hours=1)


def purchase_amount_check(*, partner: Partner, member: Member | None, amount: Decimal) -> None:
    if amount > partner.max_purchase_amount:
        raise PurchaseAmountOverLimit(
            limit=partner.max_purchase_amount,
            partner=partner,
            member=member,
            limit_of="amount",
            value=str(amount),
        )


def purchase_points_check(
    *, partner: Partner, member: Member | None, points: int, amount: Decimal
) -> None:
    if points > partner.max_points_per_purchase:
        raise PurchasePointsOverLimit(
            limit=partner.max_points_per_purchase,
            partner=partner,
            member=member,
            limit_of="points",
            value=str(points),
            amount=str(amount),
        )


def purchase_flag_if_large(
    *, partner: Partner, member: Member, external_id: str, amount: Decimal, points: int
) -> Anomaly | None:
    """A purchase within the limits but near them (in the purchase's transaction)."""
    share = Decimal(str(settings.LOYALTY_LARGE_PURCHASE_SHARE))
    if amount < partner.max_purchase_amount * share and points < (
        partner.max_points_per_purchase * share
    ):
        return None
    return anomaly_record(
        kind=Anomaly.Kind.LARGE_PURCHASE,
        partner=partner,
        member=member,
        params={"external_id": external_id, "amount": str(amount), "points": points},
    )


def spent_elsewhere_flag(
    *, partner: Partner, member: Member, points: int, at: datetime
) -> Anomaly | None:
    """Points spent at `partner` within minutes of a large earn at another partner."""
    minutes = settings.LOYALTY_SPENT_ELSEWHERE_MINUTES
    earn = (
        Anomaly.objects.filter(
            member=member,
            kind=Anomaly.Kind.LARGE_PURCHASE,
            created_at__gte=at - timedelta(minutes=minutes),
            created_at__lte=at,
        )
        .exclude(partner=partner)
        .order_by("-created_at")
        .first()
    )
    if earn is None:
        return None
    return anomaly_record(
        kind=Anomaly.Kind.SPENT_ELSEWHERE,
        partner=partner,
        member=member,
        params={
            "points": points,
            "earned_partner_id": earn.partner_id,
            "earned": earn.params,
            "minutes": max(1, round((at - earn.created_at).total_seconds() / 60)),
        },
        at=at,
    )


def refusal_record(exc: OverLimit) -> Anomaly:
    """The anomaly of a refused request, written once the refusal's effects are rolled back."""
    return anomaly_record(kind=Anomaly.Kind.OVER_LIMIT, **exc.anomaly)


def anomaly_record(
    *,
    kind: str,
    partner: Partner,
    member: Member | None,
    params: dict,
    at: datetime | None = None,
) -> Anomaly:
    at = at or timezone.now()
    alerted_lately = Anomaly.objects.filter(
        partner=partner, kind=kind, alerted=True, created_at__gte=at - ALERT_EVERY
    ).exists()
    anomaly = Anomaly.objects.create(
        kind=kind,
        partner=partner,
        member=member,
        params=params,
        created_at=at,
        alerted=not alerted_lately,
    )
    if anomaly.alerted:
        email_enqueue(kind="anomaly", object_id=anomaly.pk)
    return anomaly


# --- what staff read ---------------------------------------------------------------------------


def anomaly_description(anomaly: Anomaly) -> str:
    """What happened, in the active language."""
    p = anomaly.params
    values = {"partner": anomaly.partner.name, **{k: v for k, v in p.items() if k != "earned"}}
    if anomaly.kind == Anomaly.Kind.OVER_LIMIT:
        if p.get("limit_of") == "amount":
            text = _("Refused a purchase of %(value)s (the partner's limit is %(limit)s).")
        elif p.get("limit_of") == "points":
            text = _(
                "Refused a purchase of %(amount)s that would earn %(value)s points "
                "(the partner's limit is %(limit)s points)."
            )
        else:
            text = _(
                "Refused a redemption of %(value)s points: the partner's redemptions today would "
                "pass its limit of %(limit)s points a day."
            )
    elif anomaly.kind == Anomaly.Kind.LARGE_PURCHASE:
        text = _("A purchase of %(amount)s earned %(points)s points (purchase %(external_id)s).")
    else:
        earned_at = Partner.objects.filter(pk=p.get("earned_partner_id")).first()
        values["earned_partner"] = earned_at.name if earned_at else "?"
        text = _(
            "%(points)s points spent %(minutes)s minutes after a large earn at %(earned_partner)s."
        )
    return text % values


def anomaly_emails(anomaly_id: int) -> list[EmailMessage]:
    """The alert's e-mails (the "anomaly" kind of the outbox) to the alerts group
    (LOYALTY_ALERTS_GROUP, or else the active superusers), one per language they read."""
    anomaly = Anomaly.objects.select_related("partner", "member").filter(pk=anomaly_id).first()
    if anomaly is None:
        return []
    link = settings.SITE_URL + reverse("admin:loyalty_anomaly_change", args=[anomaly.pk])

    def render() -> tuple[str, str]:
        subject = _("Loyalty alert at %(partner)s: %(kind)s") % {
            "partner": anomaly.partner.name,
            "kind": anomaly.get_kind_display(),
        }
        lines = [anomaly_description(anomaly)]
        if anomaly.member is not None:
            lines.append(_("Member: %(number)s") % {"number": anomaly.member.member_number})
        lines += ["", _("Look at it in the staff pages:"), link, ""]
        lines.append(
            _("Further alerts of this kind for this partner wait an hour; the list has all.")
        )
        return subject, "\n".join(lines)

    return staff_emails(settings.LOYALTY_ALERTS_GROUP, render)


def anomalies_mark_reviewed(*, anomaly_ids, at: datetime | None = None) -> int:
    """Staff looked at these: how many were still to review."""
    return Anomaly.objects.filter(pk__in=list(anomaly_ids), reviewed_at__isnull=True).update(
        reviewed_at=at or timezone.now()
    )
