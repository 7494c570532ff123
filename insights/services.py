"""Every write staff cause in the insights app: the policy, an outreach note, a campaign draft.
(Launching and sending campaigns are in campaigns.py; the nightly run in ladder.py.)"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Member
from loyalty.base.errors import InvalidInput, NotAllowed

from .errors import CampaignNotDraft
from .models import Campaign, InsightsPolicy, Outreach

NOTE_MAX = 2000


def _staff(user) -> None:
    if user is None or not user.is_staff:
        raise NotAllowed()


@transaction.atomic
def policy_update(*, staff, **fields) -> InsightsPolicy:
    """Change the ladder's thresholds or the point's value (the next nightly run uses them)."""
    _staff(staff)
    policy, _created = InsightsPolicy.objects.select_for_update().get_or_create(pk=1)
    for name, value in fields.items():
        setattr(policy, name, value)
    if policy.loyal_min_months > policy.loyal_window_months:
        raise InvalidInput(
            _("Loyal members cannot need more months than are looked at."),
            field="loyal_min_months",
        )
    policy.save()
    return policy


@transaction.atomic
def outreach_record(*, member: Member, staff, note: str) -> Outreach:
    """Staff contacted a member from the outreach list: who, when, what was said."""
    _staff(staff)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(_("Say in a few words how the member was contacted."), field="note")
    if len(note) > NOTE_MAX:
        raise InvalidInput(_("A note is at most 2,000 characters."), field="note")
    return Outreach.objects.create(member=member, staff=staff, note=note)


@transaction.atomic
def campaign_delete(*, campaign: Campaign, staff) -> None:
    """Delete a draft (a launched campaign is history: CampaignNotDraft)."""
    _staff(staff)
    current = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if current is None:
        return
    if current.status != Campaign.Status.DRAFT:
        raise CampaignNotDraft()
    current.delete()


@transaction.atomic
def campaign_save(*, campaign: Campaign, staff) -> Campaign:
    """Create or change a campaign while it is a draft (launched ones are history)."""
    _staff(staff)
    if campaign.pk is not None:
        current = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        if current is None or current.status != Campaign.Status.DRAFT:
            raise CampaignNotDraft()
    else:
        campaign.created_by = staff
    if campaign.offer != Campaign.Offer.POINTS:
        campaign.points = 0
    if campaign.offer != Campaign.Offer.VOUCHER:
        campaign.reward = None
    if campaign.offer == Campaign.Offer.POINTS and not campaign.points:
        raise InvalidInput(_("A points offer needs points."), field="points")
    if campaign.offer == Campaign.Offer.VOUCHER and campaign.reward is None:
        raise InvalidInput(_("A voucher offer needs an active reward."), field="reward")
    campaign.status = Campaign.Status.DRAFT
    campaign.save()
    return campaign
