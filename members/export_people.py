"""The member's data download, the parts about other people and the program's view of them:
referrals made and received, invitations, sign-up fingerprints and insights (members.export
holds the list of sections)."""

from __future__ import annotations

from accounts.models import Member
from insights.models import CampaignMember, MemberInsight, Outreach, RungChange
from insights.words import signals_words
from referrals.emails import mask_email
from referrals.models import Invitation, Referral, ReferralCode, SignupFingerprint
from referrals.selectors import PUBLIC_STATUS

from .export_base import _iso, _money, masked_person


def _referral(referral: Referral, friend: Member) -> dict:
    return {
        "friend": masked_person(friend),
        "status": PUBLIC_STATUS.get(referral.status, referral.status),
        "vouched": referral.vouched,
        "started_at": _iso(referral.created_at),
        "qualify_by": _iso(referral.expires_on),
        "qualified_at": _iso(referral.qualified_at),
        "reversed_at": _iso(referral.reversed_at),
    }


def _referrals(member: Member) -> dict:
    code = ReferralCode.objects.filter(member=member).first()
    made = (
        Referral.objects.filter(referrer=member)
        .select_related("referee__user")
        .order_by("created_at", "id")
    )
    received = Referral.objects.filter(referee=member).select_related("referrer__user").first()
    return {
        "code": code.display_code if code else None,
        "made": [_referral(r, r.referee) for r in made],
        "received": _referral(received, received.referrer) if received else None,
    }


def _invitations(member: Member) -> list[dict]:
    invitations = Invitation.objects.filter(referrer=member).order_by("created_at", "id")
    return [
        {
            "friend_email": mask_email(i.email),
            "vouched": i.vouched,
            "created_at": _iso(i.created_at),
            "emailed_at": _iso(i.sent_at),
        }
        for i in invitations
    ]


def _sign_up(member: Member) -> dict | None:
    """What sign-up recorded to tell people apart, said not given: the hashes stay inside."""
    fingerprint = SignupFingerprint.objects.filter(member=member).first()
    if fingerprint is None:
        return None
    return {
        "recorded_at": _iso(fingerprint.created_at),
        "email_as_delivered": fingerprint.email_canonical,
        "device_hash_stored": bool(fingerprint.device_hash),
        "address_hash_stored": bool(fingerprint.address_hash),
    }


def _insights(member: Member) -> dict:
    insight = MemberInsight.objects.filter(member=member).first()
    profile = None
    if insight is not None:
        profile = {
            "rung": insight.rung,
            "rung_label": str(insight.get_rung_display()),
            "on_rung_since": _iso(insight.rung_since),
            "purchases": insight.purchases,
            "first_purchase_on": _iso(insight.first_purchase_on),
            "last_purchase_on": _iso(insight.last_purchase_on),
            "usual_gap_days": insight.median_gap_days,
            "purchases_12_months": insight.purchases_12m,
            "spend_12_months": _money(insight.spend_12m),
            "months_with_a_purchase": insight.months_active,
            "rfm": {
                "recency": insight.recency,
                "frequency": insight.frequency,
                "monetary": insight.monetary,
            },
            "signals": insight.signals,
            "signals_text": signals_words(insight.signals),
            "quiet": insight.quiet,
        }
    moves = RungChange.objects.filter(member=member).order_by("day", "id")
    contacts = Outreach.objects.filter(member=member).order_by("contacted_at", "id")
    campaigns = (
        CampaignMember.objects.filter(member=member)
        .select_related("campaign")
        .order_by("campaign__created_at", "id")
    )
    return {
        "profile": profile,
        "rung_changes": [
            {"day": _iso(m.day), "from": m.from_rung or None, "to": m.to_rung} for m in moves
        ],
        "contacts": [{"at": _iso(c.contacted_at), "note": c.note} for c in contacts],
        "campaigns": [
            {
                "campaign": c.campaign.name,
                "held_out": c.holdout,
                "sent_at": _iso(c.sent_at),
                "not_given": c.not_given,
            }
            for c in campaigns
        ],
    }
