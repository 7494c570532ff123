"""Campaigns: an offer to a segment of members, with a random holdout that gets nothing.

- `segment_members` finds the members a segment names (rung, tier, RFM cell, birthday month,
  language, partner bought at in the last 12 months); `campaign_preview` counts them and shows
  a sample.
- `campaign_launch` fixes the audience once: every member of the segment gets a CampaignMember
  row, and exactly round(n × holdout %) of them, drawn at random (the system's random source),
  are held out. Then the `campaigns` job sends the rest, after the launch commits.
- Sending (`campaign_send_batch`, a step of the `campaigns` job, in the batch's transaction):
  the batch's unsent rows are locked alone and checked again under the lock, so of two workers
  (a task delivered twice, a double beat) the second finds them sent; a worker killed half-way
  rolls its batch back and the batch is redone. The offer goes through the ledger (a `gift`
  entry whose cause is the CampaignMember) or the catalogue (a voucher, credited then redeemed
  as the birthday gift does),
  the card through notifications (one message per member and campaign: its dedupe key). A
  voucher the reward refuses (its tier, its limit per member) is recorded on the row
  (`not_given`, the refusal's code) and not tried again.
- Results (`campaign_results`): members who came back (a purchase within `reactivation_days`
  of the launch), their spend and the points they redeemed, treated against held out, with the
  difference in percentage points and its 95% confidence interval (normal approximation).
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Member
from loyalty.base.errors import InvalidInput, LoyaltyError
from loyalty.core.jobs import Counts, job_start, keyset
from loyalty.core.ledger import Credit, points_credit_many
from loyalty.core.models import JobRun, LedgerEntry, Purchase
from notifications.params import PerLanguage
from notifications.services import message_send
from rewards.services import reward_gift

from .errors import CampaignNotDraft
from .models import Campaign, CampaignMember

SAMPLE_SIZE = 10
INSERT_BATCH = 5000
Z95 = Decimal("1.96")


# --- the segment -------------------------------------------------------------------------------


def segment_members(segment: dict):
    """The members (not closed) a segment names; an empty segment is every member."""
    members = Member.objects.exclude(status=Member.Status.CLOSED)
    if segment.get("rungs"):
        members = members.filter(insight__rung__in=segment["rungs"])
    if segment.get("tiers"):
        members = members.filter(tier_id__in=segment["tiers"])
    for letter, field in (("r", "recency"), ("f", "frequency"), ("m", "monetary")):
        if segment.get(letter):
            members = members.filter(**{f"insight__{field}__in": segment[letter]})
    if segment.get("birthday_month"):
        members = members.filter(birthday_month=segment["birthday_month"])
    if segment.get("languages"):
        members = members.filter(language__in=segment["languages"])
    if segment.get("partner"):
        since = timezone.now() - timedelta(days=365)
        members = members.filter(
            Exists(
                Purchase.objects.filter(
                    member=OuterRef("pk"), partner_id=segment["partner"], occurred_at__gte=since
                )
            )
        )
    return members


def campaign_preview(campaign: Campaign) -> tuple[int, list[Member]]:
    """How many members the segment holds now, and a few of them."""
    members = segment_members(campaign.segment)
    count = members.count()
    # a few members from a random point on: no sort of the whole table
    start = random.randrange(max(count - SAMPLE_SIZE, 0) + 1)
    sample = list(members.select_related("user").order_by("pk")[start : start + SAMPLE_SIZE])
    return count, sample


def holdout_size(audience: int, percent: int) -> int:
    return int((Decimal(audience) * percent / 100).to_integral_value(rounding=ROUND_HALF_UP))


# --- launching ---------------------------------------------------------------------------------


def _check_offer(campaign: Campaign) -> None:
    if campaign.offer == Campaign.Offer.POINTS and campaign.points <= 0:
        raise InvalidInput(_("A points offer needs points."), field="points")
    if campaign.offer == Campaign.Offer.VOUCHER and (
        campaign.reward is None or not campaign.reward.is_active
    ):
        raise InvalidInput(_("A voucher offer needs an active reward."), field="reward")


@transaction.atomic
def campaign_launch(
    *,
    campaign: Campaign,
    staff,
    chooser: random.Random | None = None,
    at=None,
    start_sending: bool = True,
) -> int:
    """Fix the campaign's audience and holdout, and start sending after commit. Returns the
    audience's size. A campaign is launched once (CampaignNotDraft). `at` and `start_sending`
    are for the demo, which launches in the past and sends at once."""
    locked = Campaign.objects.select_for_update(of=("self",)).filter(pk=campaign.pk).first()
    if locked is None or locked.status != Campaign.Status.DRAFT:
        raise CampaignNotDraft()
    _check_offer(locked)
    ids = list(segment_members(locked.segment).order_by("pk").values_list("pk", flat=True))
    chooser = chooser or random.SystemRandom()
    held = set(chooser.sample(ids, holdout_size(len(ids), locked.holdout_percent)))
    for start in range(0, len(ids), INSERT_BATCH):
        CampaignMember.objects.bulk_create(
            CampaignMember(campaign=locked, member_id=pk, holdout=pk in held)
            for pk in ids[start : start + INSERT_BATCH]
        )
    locked.status = Campaign.Status.SENDING if len(held) < len(ids) else Campaign.Status.SENT
    locked.launched_at = at or timezone.now()
    locked.launched_by = staff
    locked.save(update_fields=["status", "launched_at", "launched_by"])
    if len(held) < len(ids) and start_sending:
        # (robust: with the broker down the launch stands, and the beat sends it later)
        transaction.on_commit(
            lambda: job_start(name="campaigns", trigger=JobRun.Trigger.MANUAL), robust=True
        )
    campaign.refresh_from_db()
    return len(ids)


# --- sending (the `campaigns` job) -------------------------------------------------------------


def _unsent():
    return CampaignMember.objects.filter(
        holdout=False,
        sent_at__isnull=True,
        not_given="",
        campaign__status=Campaign.Status.SENDING,
    ).exclude(member__status=Member.Status.CLOSED)


def campaign_send_plan(day: date, size: int):
    # (a campaign left with nobody to send to, its last members closed meanwhile, is sent)
    sending = Campaign.objects.filter(status=Campaign.Status.SENDING)
    _finish_sent(set(sending.values_list("pk", flat=True)))
    return keyset(_unsent(), size)


def _give_voucher(row: CampaignMember, campaign: Campaign):
    """The reward as a gift (rewards.services.reward_gift, as the birthday gift gives it): the
    entry and voucher, or (None, the refusal's code)."""
    try:
        entry, redemption = reward_gift(member=row.member, reward=campaign.reward, cause=row)
    except LoyaltyError as exc:
        return None, exc.code
    return entry, redemption.voucher


def campaign_send_batch(*, ids: list[int], day: date, run=None, at=None) -> Counts:
    """Send the offer to the batch's members still waiting for it (see the module docstring).
    `at`: when the gifts are dated (the demo's past campaign), else now."""
    counts = Counts(considered=len(ids))
    rows = list(
        CampaignMember.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, holdout=False, sent_at__isnull=True)
        .order_by("pk")
    )
    counts.skipped = len(ids) - len(rows)
    campaigns = {c.pk: c for c in Campaign.objects.filter(pk__in={r.campaign_id for r in rows})}
    members = Member.objects.select_related("user").in_bulk([r.member_id for r in rows])
    rows = [
        r
        for r in rows
        if campaigns[r.campaign_id].status == Campaign.Status.SENDING
        and members[r.member_id].status != Member.Status.CLOSED
    ]
    now = at or timezone.now()
    for row in rows:
        row.member = members[row.member_id]
    by_campaign: dict[int, list[CampaignMember]] = {}
    for row in rows:
        by_campaign.setdefault(row.campaign_id, []).append(row)
    sent: list[CampaignMember] = []
    refused: list[CampaignMember] = []
    for campaign_id, group in by_campaign.items():
        campaign = campaigns[campaign_id]
        if campaign.offer == Campaign.Offer.POINTS:
            entries = points_credit_many(
                credits=[
                    Credit(member_id=r.member_id, points=campaign.points, cause=r) for r in group
                ],
                kind=LedgerEntry.Kind.GIFT,
                at=now,
            )
            for row, entry in zip(group, entries, strict=True):
                row.entry = entry
        elif campaign.offer == Campaign.Offer.VOUCHER:
            given = []
            for row in group:
                row.entry, voucher = _give_voucher(row, campaign)
                if isinstance(voucher, str):  # refused: recorded, never tried again
                    row.not_given = voucher
                    refused.append(row)
                    counts.details["voucher_not_given"] += 1
                    counts.skipped += 1
                else:
                    row.voucher = voucher
                    given.append(row)
            group = given
        for row in group:
            _card_send(row, campaign)
            row.sent_at = now
        sent.extend(group)
    CampaignMember.objects.bulk_update(sent + refused, ["sent_at", "entry", "voucher", "not_given"])
    counts.paid = len(sent)
    _finish_sent(set(campaigns))
    return counts


def _card_send(row: CampaignMember, campaign: Campaign) -> None:
    member = row.member
    # in every language: the message is worded in the language of whoever reads it
    subject = PerLanguage.of(lambda language: campaign.card(language)[0])
    card = PerLanguage.of(lambda language: campaign.card(language)[1])
    reward = PerLanguage.of(partial(campaign.reward.localized, "name")) if row.voucher else ""
    message_send(
        member,
        "campaign",
        {
            "subject": subject,
            "card": card,
            "points": campaign.points if campaign.offer == Campaign.Offer.POINTS else 0,
            "reward": reward,
            "voucher": row.voucher.code if row.voucher else "",
        },
        dedupe_key=f"campaign:{campaign.pk}",
    )


def _finish_sent(campaign_ids: set[int]) -> None:
    """Campaigns with nobody left to send to are sent. The campaign's row is locked first, so
    of two batches finishing at once the second looks once the first has committed."""
    if not campaign_ids:
        return
    sending = list(
        Campaign.objects.select_for_update(of=("self",))
        .filter(pk__in=campaign_ids, status=Campaign.Status.SENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Campaign.objects.filter(pk__in=sending).exclude(
        Exists(_unsent().filter(campaign=OuterRef("pk")))
    ).update(status=Campaign.Status.SENT)


# --- results -----------------------------------------------------------------------------------


def _share(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


def _pp(value: Decimal) -> str:
    """A share as percentage points with one decimal."""
    return str((value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def difference_interval(came_treated: int, treated: int, came_held: int, held: int) -> dict | None:
    """The difference of two shares and its 95% confidence interval (normal approximation,
    unpooled), in percentage points; None when a group is empty."""
    p1, p0 = _share(came_treated, treated), _share(came_held, held)
    if p1 is None or p0 is None:
        return None
    spread = Decimal(math.sqrt(float(p1 * (1 - p1) / treated + p0 * (1 - p0) / held)))
    difference = p1 - p0
    # (a difference of shares lies within ±100 points, whatever a small sample's interval says)
    return {
        "treated": _pp(p1),
        "held": _pp(p0),
        "difference": _pp(difference),
        "low": _pp(max(difference - Z95 * spread, Decimal(-1))),
        "high": _pp(min(difference + Z95 * spread, Decimal(1))),
    }


def campaign_results(campaign: Campaign, *, now=None) -> dict:
    """Treated against held out (three aggregate queries)."""
    if campaign.launched_at is None:
        return {}
    now = now or timezone.now()
    start = campaign.launched_at
    end = start + timedelta(days=campaign.reactivation_days)
    groups = {
        holdout: {"members": n, "came_back": 0, "spend": "0.00", "redeemed": 0}
        for holdout, n in CampaignMember.objects.filter(campaign=campaign)
        .values_list("holdout")
        .annotate(n=Count("pk"))
    }
    came = (
        Purchase.objects.filter(
            member__campaigns__campaign=campaign, occurred_at__gte=start, occurred_at__lt=end
        )
        .values_list("member__campaigns__holdout")
        .annotate(members=Count("member_id", distinct=True), spend=Sum("amount"))
    )
    for holdout, members, spend in came:
        groups[holdout]["came_back"] = members
        groups[holdout]["spend"] = str(Decimal(spend or 0).quantize(Decimal("0.01")))
    redeemed = (
        LedgerEntry.objects.filter(
            member__campaigns__campaign=campaign,
            kind=LedgerEntry.Kind.SPEND,
            created_at__gte=start,
            created_at__lt=end,
        )
        # (not the gift voucher's own redemption: that was the offer, not the member's choice)
        .exclude(
            redemption__voucher__in=CampaignMember.objects.filter(
                campaign=campaign, voucher__isnull=False
            ).values("voucher")
        )
        .values_list("member__campaigns__holdout")
        .annotate(points=Sum("points"))
    )
    for holdout, points in redeemed:
        groups[holdout]["redeemed"] = -(points or 0)
    empty = {"members": 0, "came_back": 0, "spend": "0.00", "redeemed": 0}
    treated, held = groups.get(False, empty), groups.get(True, empty)
    return {
        "campaign": campaign.pk,
        "name": campaign.name,
        "launched_at": start.isoformat(),
        "days": campaign.reactivation_days,
        "complete": now >= end,
        "treated": treated,
        "held": held,
        "came_back": difference_interval(
            treated["came_back"], treated["members"], held["came_back"], held["members"]
        ),
    }


def campaign_results_all(*, now=None) -> list[dict]:
    """Every launched campaign's results, kept on the campaign too (the nightly run)."""
    found = []
    for campaign in Campaign.objects.exclude(launched_at=None).order_by("-launched_at")[:20]:
        results = campaign_results(campaign, now=now)
        Campaign.objects.filter(pk=campaign.pk).update(results=results)
        found.append(results)
    return found


def spend_per_member(group: dict) -> str | None:
    if not group["members"]:
        return None
    return str(
        (Decimal(group["spend"]) / group["members"]).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    )


def came_back(row: CampaignMember) -> bool:
    """Whether this member bought within the campaign's window after its launch."""
    start = row.campaign.launched_at
    if start is None:
        return False
    return Purchase.objects.filter(
        member_id=row.member_id,
        occurred_at__gte=start,
        occurred_at__lt=start + timedelta(days=row.campaign.reactivation_days),
    ).exists()
