"""The member's data download ("my data"): everything the program keeps about a member.

The download is a list of sections, each naming the models whose rows it holds. Every model
with a foreign key to a member (or to their user) is either in a section's `models` or in
NOT_EXPORTED with the reason; tests/members/test_data_export.py walks every model and fails on
one in neither, so a new model that forgets the export is caught. One more section is a
function and one line in SECTIONS.

What is about someone else is masked: a friend referred or invited appears as a first letter and
a masked address (o***@e***.com), never with their full e-mail or member number; staff appear
by the name the member sees (an answer's handler), never by their account. Fingerprints are
said, not given: that a device or address hash is stored, never the hash. Texts stored as kinds
are worded in the member's language as the pages word them; dates are ISO 8601.
"""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import strip_tags

from accounts.models import Member
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.core.models import (
    AdjustmentRequest,
    LedgerEntry,
    Pause,
    PendingPoints,
    PointLot,
    Purchase,
    TierChange,
)
from notifications.models import Message
from notifications.services import messages_word
from rewards.models import Gift, OccasionGrant, Redemption, SavingGoal
from webhooks.models import WebhookEvent

from .export_base import Section, _iso, _money
from .export_people import _insights, _invitations, _referrals, _sign_up
from .selectors import voucher_status, with_reasons

# --- the sections ---------------------------------------------------------------------------------


def _profile(member: Member) -> dict:
    user = member.user
    birthday = None
    if member.birthday_month:
        birthday = {
            "month": member.birthday_month,
            "day": member.birthday_day,
            "year": member.birthday_year,
            "set_on": _iso(member.birthday_set_on),
        }
    return {
        "member_number": member.member_number,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "joined_on": _iso(member.joined_on),
        "language": member.language,
        "birthday": birthday,
        "delight": member.delight,
        "delight_label": str(member.get_delight_display()),
        "status": member.status,
        "status_label": str(member.get_status_display()),
        "status_reason": member.status_reason,
        "tier": member.tier.name if member.tier_id else None,
        "tier_since": _iso(member.tier_since),
        "keeps_tier_until": _iso(member.tier_grace_until),
        "points_balance": member.points_balance,
        "points_pending": member.points_pending,
        "created_at": _iso(member.created_at),
        "web_account": member.has_web_account,
        "last_login": _iso(user.last_login),
    }


def _consents(member: Member) -> dict:
    return {
        "email_messages": member.email_messages,
        "email_offers": member.email_offers,
        "feedback_publish_consent": list(
            FeedbackItem.objects.filter(member=member, publish_consent=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
    }


# A member number (9 digits): a referral bonus's stored description names the other member's.
MEMBER_NUMBER = re.compile(r"\b\d{9}\b")


def _without_others(text: str, entry: LedgerEntry, own: str) -> str:
    """A referral entry's text with the other member's number masked."""
    if entry.kind != LedgerEntry.Kind.REFERRAL:
        return text
    return MEMBER_NUMBER.sub(lambda m: m.group() if m.group() == own else "*********", text)


def _reason_text(entry: LedgerEntry) -> str:
    """The entry's reason as the history page words it, as plain text."""
    html = render_to_string("members/_entry_reason.html", {"entry": entry})
    return " ".join(strip_tags(html).split())


def _ledger(member: Member) -> list[dict]:
    entries = (
        LedgerEntry.objects.filter(member=member)
        .select_related("purchase__partner", "redemption__reward", "reverses__redemption__reward")
        .order_by("created_at", "id")
    )
    return [
        {
            "at": _iso(e.created_at),
            "kind": e.kind,
            "kind_label": str(e.get_kind_display()),
            "points": e.points,
            "balance_after": e.balance_after,
            "reason_text": _without_others(_reason_text(e), e, member.member_number),
            "description": _without_others(e.description, e, member.member_number),
            "reason": e.reason,
            "purchase_id": e.purchase.external_id if e.purchase_id else None,
        }
        for e in with_reasons(list(entries))
    ]


def _point_lots(member: Member) -> list[dict]:
    lots = PointLot.objects.filter(member=member).order_by("earned_at", "id")
    return [
        {
            "points": lot.points,
            "remaining": lot.remaining,
            "earned_at": _iso(lot.earned_at),
            "expires_on": _iso(lot.expires_on),
        }
        for lot in lots
    ]


def _pending_points(member: Member) -> list[dict]:
    """Points purchases earned inside a return window: pending, released or cancelled."""
    rows = (
        PendingPoints.objects.filter(member=member)
        .select_related("purchase__partner")
        .order_by("created_at", "id")
    )
    return [
        {
            "purchase": row.purchase.external_id,
            "partner": row.purchase.partner.name,
            "points": row.points,
            "cancelled": row.cancelled,
            "status": row.status,
            "status_label": str(row.get_status_display()),
            "available_on": _iso(row.available_on),
            "earned_at": _iso(row.created_at),
            "settled_at": _iso(row.settled_at),
        }
        for row in rows
    ]


def _tier_history(member: Member) -> list[dict]:
    changes = (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("created_at", "id")
    )
    return [
        {
            "at": _iso(c.created_at),
            "from": c.from_tier.name if c.from_tier_id else None,
            "to": c.to_tier.name,
            "qualifying_points": c.qualifying_points,
            "reason": c.reason,
        }
        for c in changes
    ]


def _pauses(member: Member) -> list[dict]:
    pauses = Pause.objects.filter(member=member).order_by("requested_at", "id")
    return [
        {
            "asked_at": _iso(p.requested_at),
            "status": p.status,
            "status_label": str(p.get_status_display()),
            "months": p.months,
            "reason": p.reason,
            "started_by_staff": p.requested_by_staff,
            "starts_on": _iso(p.starts_on),
            "ends_on": _iso(p.ends_on),
            "ended_on": _iso(p.ended_on),
            "expiry_dates_moved_days": p.shift_days,
        }
        for p in pauses
    ]


def _adjustment_requests(member: Member) -> list[dict]:
    """Staff's requests to adjust the member's points above a support agent's limit (what was
    approved is in the ledger too); staff appear by no name."""
    requests = AdjustmentRequest.objects.filter(member=member).order_by("requested_at", "id")
    return [
        {
            "asked_at": _iso(r.requested_at),
            "points": r.points,
            "reason": r.reason,
            "status": r.status,
            "status_label": str(r.get_status_display()),
            "decided_at": _iso(r.decided_at),
        }
        for r in requests
    ]


def _purchases(member: Member) -> list[dict]:
    purchases = (
        Purchase.objects.filter(member=member)
        .select_related("partner")
        .prefetch_related("lines", "refunds__lines__purchase_line")
        .order_by("occurred_at", "id")
    )
    return [
        {
            "partner": p.partner.name,
            "id": p.external_id,
            "amount": _money(p.amount),
            "currency": p.currency,
            "occurred_at": _iso(p.occurred_at),
            "recorded_at": _iso(p.created_at),
            "points_earned": p.points_earned,
            "explanation": p.explanation,
            "payment_fingerprint_stored": bool(p.payment_fingerprint),
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "amount": _money(line.amount),
                    "category": line.category,
                }
                for line in sorted(p.lines.all(), key=lambda line: line.pk)
            ],
            "refunds": [
                {
                    "id": r.external_id,
                    "amount": _money(r.amount),
                    "points_taken_back": r.points_reversed,
                    "points_not_recovered": r.points_unrecovered,
                    "pending_points_cancelled": r.points_cancelled,
                    "at": _iso(r.created_at),
                    "lines": [
                        {
                            "sku": rl.purchase_line.sku,
                            "quantity": rl.quantity,
                            "amount": _money(rl.amount),
                        }
                        for rl in sorted(r.lines.all(), key=lambda rl: rl.pk)
                    ],
                }
                for r in sorted(p.refunds.all(), key=lambda r: (r.created_at, r.pk))
            ],
        }
        for p in purchases
    ]


def _vouchers(member: Member) -> list[dict]:
    """Every redemption, with its voucher (one each)."""
    redemptions = (
        Redemption.objects.filter(member=member)
        .select_related("reward", "partner", "voucher")
        .order_by("created_at", "id")
    )
    rows = []
    for r in redemptions:
        voucher = getattr(r, "voucher", None)
        rows.append(
            {
                "code": voucher.code if voucher else None,
                "reward": r.reward.localized("name", member.language),
                "points_spent": r.points_spent,
                "status": voucher_status(voucher) if voucher else r.status,
                "issued_at": _iso(voucher.created_at if voucher else r.created_at),
                "valid_until": _iso(voucher.expires_on) if voucher else None,
                "used_at": _iso(voucher.used_at) if voucher else None,
                "redeemed_at": _iso(r.created_at),
                "redeemed_at_partner": r.partner.name if r.partner_id else None,
                "cancelled_at": _iso(r.cancelled_at),
                "cancel_reason": r.cancel_reason,
            }
        )
    return rows


def _occasion_gifts(member: Member) -> list[dict]:
    grants = OccasionGrant.objects.filter(member=member).order_by("occasion_date", "id")
    return [
        {
            "occasion": g.occasion,
            "occasion_label": str(g.get_occasion_display()),
            "date": _iso(g.occasion_date),
            "years": g.years,
            "gift": g.gift,
            "gift_label": str(g.get_gift_display()),
            "points": g.points,
            "donation": (
                {
                    "amount": _money(g.donation_amount),
                    "currency": g.donation_currency,
                    "cause": g.donation_cause,
                }
                if g.donation_amount is not None
                else None
            ),
            "granted_at": _iso(g.created_at),
        }
        for g in grants
    ]


def _gifts(member: Member) -> list[dict]:
    """Gifts staff sent, with the card's title in the member's language (the card itself is in
    the messages); the sender appears as "us", never by their account."""
    gifts = (
        Gift.objects.filter(member=member)
        .select_related("template", "reward", "redemption__voucher")
        .order_by("created_at", "id")
    )
    rows = []
    for g in gifts:
        voucher = getattr(g.redemption, "voucher", None) if g.redemption_id else None
        rows.append(
            {
                "gift": g.what,
                "gift_label": str(g.get_what_display()),
                "points": g.points,
                "reward": g.reward.localized("name", member.language) if g.reward_id else None,
                "voucher_code": voucher.code if voucher else None,
                "card": g.template.title(member.language),
                "note": g.note,
                "sent_at": _iso(g.created_at),
            }
        )
    return rows


def _saving_goal(member: Member) -> list[dict]:
    goals = SavingGoal.objects.filter(member=member).select_related("reward")
    return [
        {
            "reward": g.reward.localized("name", member.language),
            "chosen_at": _iso(g.created_at),
        }
        for g in goals
    ]


def _messages(member: Member) -> list[dict]:
    messages = Message.objects.filter(member=member).order_by("created_at", "id")
    messages = messages_word(messages, language=member.language, member=member)
    return [
        {
            "kind": m.kind,
            # the words are in the member's language now; an old message's as it was sent
            "language": m.language if m.params is None else member.language,
            "subject": m.shown_subject,
            "body": m.shown_body,
            "sent_at": _iso(m.created_at),
            "read_at": _iso(m.read_at),
            "emailed_at": _iso(m.emailed_at),
        }
        for m in messages
    ]


def _feedback(member: Member) -> list[dict]:
    items = (
        FeedbackItem.objects.filter(member=member)
        .select_related("partner", "purchase")
        .prefetch_related("answers", "cases")
        .order_by("created_at", "id")
    )
    return [
        {
            "number": item.pk,
            "kind": item.kind,
            "kind_label": str(item.get_kind_display()),
            "category": item.category,
            "category_label": str(item.get_category_display()),
            "status": item.status,
            "status_label": str(item.get_status_display()),
            "channel": item.channel,
            "filed_by_partner": item.partner.name if item.partner_id else None,
            "purchase_id": item.purchase.external_id if item.purchase_id else None,
            "text": item.text,
            "language": item.language,
            "filed_at": _iso(item.created_at),
            "first_answered_at": _iso(item.first_answered_at),
            "closed_at": _iso(item.closed_at),
            "led_to_change": item.led_to_change,
            "publish_consent": item.publish_consent,
            "rating": item.rating,
            "rating_comment": item.rating_comment,
            "rated_at": _iso(item.rated_at),
            "answers": [
                {
                    "handled_by": a.handler_name,
                    "what_was_done": a.what_was_done,
                    "what_changes": a.what_changes,
                    "language": a.language,
                    "at": _iso(a.created_at),
                }
                for a in sorted(item.answers.all(), key=lambda a: (a.created_at, a.pk))
            ],
            "published": [
                {
                    "language": c.language,
                    "you_said": c.problem,
                    "we_did": c.what_changed,
                    "at": _iso(c.published_at),
                }
                for c in sorted(item.cases.all(), key=lambda c: c.pk)
            ],
        }
        for item in items
    ]


def _surveys(member: Member) -> list[dict]:
    surveys = SurveyResponse.objects.filter(member=member).order_by("invited_at", "id")
    return [
        {
            "quarter": s.quarter,
            "asked_after": s.trigger,
            "invited_at": _iso(s.invited_at),
            "would_tell": s.would_tell,
            "recommend": s.recommend,
            "answered_at": _iso(s.answered_at),
        }
        for s in surveys
    ]


def _told_partners(member: Member) -> list[dict]:
    """What the program told partners' systems about the member (webhook events, by their
    technical names): what each said, and to which partner it went (the data's recipients)."""
    events = (
        WebhookEvent.objects.filter(member=member)
        .prefetch_related("deliveries__endpoint__partner")
        .order_by("created_at", "id")
    )
    return [
        {
            "event": e.type,
            "at": _iso(e.created_at),
            "said": e.payload.get("data", {}),
            "sent_to": [
                {
                    "partner": d.endpoint.partner.name,
                    "status": str(d.get_status_display()),
                    "delivered_at": _iso(d.delivered_at),
                }
                for d in sorted(e.deliveries.all(), key=lambda d: d.pk)
            ],
        }
        for e in events
    ]


SECTIONS: tuple[Section, ...] = (
    Section("profile", ("accounts.Member",), _profile),
    Section("consents", (), _consents),
    Section("ledger", ("loyalty.LedgerEntry",), _ledger),
    Section("point_lots", ("loyalty.PointLot",), _point_lots),
    Section("pending_points", ("loyalty.PendingPoints",), _pending_points),
    Section("tier_history", ("loyalty.TierChange",), _tier_history),
    Section(
        "purchases",
        ("loyalty.Purchase", "loyalty.PurchaseLine", "loyalty.Refund", "loyalty.RefundLine"),
        _purchases,
    ),
    Section("vouchers", ("rewards.Redemption", "rewards.Voucher"), _vouchers),
    Section("occasion_gifts", ("rewards.OccasionGrant",), _occasion_gifts),
    Section("gifts", ("rewards.Gift",), _gifts),
    Section("saving_goal", ("rewards.SavingGoal",), _saving_goal),
    Section("messages", ("notifications.Message",), _messages),
    Section(
        "feedback",
        ("feedback.FeedbackItem", "feedback.FeedbackAnswer", "feedback.PublishedCase"),
        _feedback,
    ),
    Section("surveys", ("feedback.SurveyResponse",), _surveys),
    Section("referrals", ("referrals.ReferralCode", "referrals.Referral"), _referrals),
    Section("invitations", ("referrals.Invitation",), _invitations),
    Section("sign_up", ("referrals.SignupFingerprint",), _sign_up),
    Section(
        "insights",
        (
            "insights.MemberInsight",
            "insights.RungChange",
            "insights.Outreach",
            "insights.CampaignMember",
        ),
        _insights,
    ),
    Section("pauses", ("loyalty.Pause",), _pauses),
    Section("points_adjustment_requests", ("loyalty.AdjustmentRequest",), _adjustment_requests),
    Section("told_partners", ("webhooks.WebhookEvent", "webhooks.WebhookDelivery"), _told_partners),
)

# Models that point at a member or a user and are not in the download, with why.
NOT_EXPORTED: dict[str, str] = {
    "admin.LogEntry": "the staff pages' log of staff users' own actions",
    "auditlog.LogEntry": (
        "the audit trail of staff users' writes: it points at the staff user who acted, and "
        "copies no personal value of a member"
    ),
    "accounts.Erasure": (
        "the record that a member's personal data was erased: an erased member has no login, "
        "and the record keeps no personal value"
    ),
    "otp_totp.TOTPDevice": "staff users' second factor for the staff pages",
    "accounts.User_groups": "staff users' permission groups",
    "accounts.User_user_permissions": "staff users' permissions",
    "accounts.PartnerApiKey": "a partner's API key; points at the staff user who made it",
    "insights.Campaign": "a campaign and its staff authors; the member's part is under insights",
    "insights.RuleDraft": "staff's draft of a rule or tier change; points at its staff author",
    "insights.Simulation": (
        "a draft's simulation, run for a staff user; its result names members by id only"
    ),
    "imports.ImportJob": (
        "a staff member's import of a file; it points at the staff user who started it and "
        "keeps no personal value (bad rows are named by their number)"
    ),
    "notifications.OutgoingEmail": (
        "the outbox row of an e-mail: what it said is the message under `messages` (or the "
        "invitation under `invitations`); it keeps no text of its own"
    ),
    "loyalty.LotMovement": (
        "which point lots each ledger entry took its points from: bookkeeping between two "
        "sections of the download (ledger, point_lots), with no value of its own"
    ),
    "loyalty.Anomaly": (
        "staff's fraud check of a partner's requests; the purchase or redemption it names is "
        "in the download"
    ),
}


def member_data_export(*, member: Member) -> dict:
    """Everything the program keeps about the member, section by section, worded in their
    language."""
    with translation.override(member.language):
        data: dict = {"exported_at": timezone.now().isoformat()}
        for section in SECTIONS:
            data[section.name] = section.rows(member)
    return data
