"""The member card to show at the till, and choosing the reward to save for (a button on the
rewards page; the dashboard shows how far it is)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.base.errors import LoyaltyError
from loyalty.base.web import member_required
from rewards import goals

from . import card as member_card
from .selectors import available_rewards


@member_required
def card(request):
    """Big and high-contrast, plain HTML and inline SVG: once loaded it works offline."""
    number = request.member.member_number
    return render(
        request,
        "members/card.html",
        {
            "barcode_svg": member_card.barcode_svg(number),
            "qr_svg": member_card.qr_svg(number),
        },
    )


@require_POST
@member_required
def saving_goal_set(request, slug):
    reward = get_object_or_404(available_rewards(), slug=slug)
    try:
        goals.saving_goal_set(member=request.member, reward=reward)
    except LoyaltyError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("You are saving for “%(reward)s”: your dashboard shows how far you are.")
            % {"reward": reward.name},
        )
    return redirect("members:rewards")


@require_POST
@member_required
def saving_goal_clear(request):
    if goals.saving_goal_clear(member=request.member):
        messages.success(request, _("You are no longer saving for a reward."))
    return redirect("members:rewards")
