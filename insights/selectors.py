"""Reads for the staff pages: a member's profile (the evaluation step), with a fixed number of
queries whatever their history."""

from __future__ import annotations

from django.db.models import Count, Sum

from accounts.models import Member
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.core.models import Purchase, PurchaseLine

from . import campaigns, words
from .models import CampaignMember, MemberInsight, Outreach, RungChange

TOP = 3
RECENT = 5


def member_profile(member: Member) -> dict:
    insight = MemberInsight.objects.filter(member=member).first()
    partners = (
        Purchase.objects.filter(member=member)
        .values("partner__name")
        .annotate(purchases=Count("pk"), spend=Sum("amount"))
        .order_by("-purchases", "partner__name")[:TOP]
    )
    categories = (
        PurchaseLine.objects.filter(purchase__member=member)
        .exclude(category="")
        .values("category")
        .annotate(lines=Count("pk"), spend=Sum("amount"))
        .order_by("-spend", "category")[:TOP]
    )
    received = list(
        CampaignMember.objects.filter(member=member)
        .select_related("campaign")
        .order_by("-campaign__launched_at")[:RECENT]
    )
    came_back = set()
    for row in received:
        campaign = row.campaign
        if campaign.launched_at and campaigns.came_back(row):
            came_back.add(row.pk)
    return {
        "insight": insight,
        "signals": words.signals_words(insight.signals) if insight else [],
        "moves": list(RungChange.objects.filter(member=member).order_by("-day", "-id")[:10]),
        "partners": list(partners),
        "categories": list(categories),
        "feedback": list(
            FeedbackItem.objects.filter(member=member).order_by("-created_at")[:RECENT]
        ),
        "surveys": list(
            SurveyResponse.objects.filter(member=member, answered_at__isnull=False).order_by(
                "-answered_at"
            )[:RECENT]
        ),
        "campaigns": [(row, row.pk in came_back) for row in received],
        "outreach": list(Outreach.objects.filter(member=member).select_related("staff")[:RECENT]),
    }
