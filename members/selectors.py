"""Reads behind the member pages, each with a fixed number of queries whatever the history.

The dashboard gathers everything in five queries (tiers, qualifying points, expiring points,
the latest activity, the balance chart); a history, voucher or inbox page is a count and one
page of rows with what they show joined in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Member
from feedback.models import FeedbackItem
from insights.models import CampaignMember
from loyalty.core.models import LedgerEntry, Tier
from loyalty.core.selectors import points_expiring, qualifying_points
from notifications.models import Message
from rewards.models import Gift, Reward, Voucher
from rewards.occasions import occasion_on
from rewards.services import member_cost

from .charts import BalanceChart, balance_chart

EXPIRING_WITHIN_DAYS = 60
LATEST_ACTIVITY = 5


# --- the dashboard --------------------------------------------------------------------------


def anniversary_on(joined_on: date, year: int) -> date:
    """The anniversary of joining in a year, by the rule the anniversary job pays on."""
    return occasion_on(joined_on.month, joined_on.day, year)


def next_anniversary(joined_on: date, today: date) -> date:
    """The next anniversary thank-you: today if it is the day, never the day of joining."""
    year = max(today.year, joined_on.year + 1)
    candidate = anniversary_on(joined_on, year)
    if candidate < today:
        candidate = anniversary_on(joined_on, year + 1)
    return candidate


@dataclass(frozen=True)
class TierRow:
    tier: Tier
    is_current: bool
    is_reached: bool


@dataclass(frozen=True)
class TierProgress:
    current: Tier | None
    next: Tier | None
    qualifying: int
    needed: int  # qualifying points still missing for the next tier (0 at the top)
    value: int  # for <progress>: qualifying points gained on the way from current to next
    max: int

    @property
    def percent(self) -> int:
        return 100 if not self.max else min(100, round(100 * self.value / self.max))


@dataclass(frozen=True)
class Dashboard:
    member: Member
    balance: int
    progress: TierProgress
    tiers: list[TierRow]
    expiring: list[dict]
    expiring_total: int
    expiring_until: date
    joined_on: date
    next_anniversary: date
    anniversary_years: int
    latest: list[LedgerEntry]
    chart: BalanceChart
    grace: Grace | None = None


@dataclass(frozen=True)
class Grace:
    """A member below their tier keeps it until `until` (the monthly review's grace period);
    `needed` more qualifying points by then keep it."""

    tier: Tier
    until: date
    needed: int


def _grace(member: Member, qualifying: int) -> Grace | None:
    if member.tier is None or member.tier_grace_until is None:
        return None
    needed = member.tier.qualifying_points - qualifying
    if needed <= 0:  # earned back: the next purchase or review ends the grace
        return None
    return Grace(tier=member.tier, until=member.tier_grace_until, needed=needed)


def _tier_progress(tiers: list[Tier], current: Tier | None, qualifying: int) -> TierProgress:
    rank = current.rank if current is not None else -1
    above = [t for t in tiers if t.rank > rank]
    nxt = above[0] if above else None
    if nxt is None:
        return TierProgress(current, None, qualifying, 0, 1, 1)
    floor = current.qualifying_points if current is not None else 0
    span = max(nxt.qualifying_points - floor, 1)
    gained = min(max(qualifying - floor, 0), span)
    return TierProgress(
        current=current,
        next=nxt,
        qualifying=qualifying,
        needed=max(nxt.qualifying_points - qualifying, 0),
        value=gained,
        max=span,
    )


def member_dashboard(*, member: Member, today: date | None = None) -> Dashboard:
    """Everything the dashboard shows, in five queries (the member and tier are loaded)."""
    today = today or timezone.localdate()
    tiers = list(Tier.objects.order_by("rank"))
    current = member.tier
    qualifying = qualifying_points(member_id=member.pk)
    expiring = points_expiring(
        member_id=member.pk, within_days=EXPIRING_WITHIN_DAYS, today=today, limit=100
    )
    anniversary = next_anniversary(member.joined_on, today)
    return Dashboard(
        member=member,
        balance=member.points_balance,
        progress=_tier_progress(tiers, current, qualifying),
        tiers=[
            TierRow(
                tier=t,
                is_current=current is not None and t.pk == current.pk,
                is_reached=current is not None and t.rank <= current.rank,
            )
            for t in tiers
        ],
        expiring=expiring,
        expiring_total=sum(row["points"] for row in expiring),
        expiring_until=today + timedelta(days=EXPIRING_WITHIN_DAYS),
        joined_on=member.joined_on,
        next_anniversary=anniversary,
        anniversary_years=anniversary.year - member.joined_on.year,
        latest=with_reasons(list(ledger_entries(member=member)[:LATEST_ACTIVITY])),
        chart=balance_chart(member_id=member.pk, balance=member.points_balance, today=today),
        grace=_grace(member, qualifying),
    )


# --- the history ----------------------------------------------------------------------------


def ledger_entries(*, member: Member, kind: str | None = None) -> QuerySet[LedgerEntry]:
    """The member's entries, newest first, with what their reasons show joined in."""
    entries = LedgerEntry.objects.filter(member=member).select_related(
        "purchase__partner",
        "redemption__reward",
        "reverses__redemption__reward",
    )
    if kind:
        entries = entries.filter(kind=kind)
    return entries.order_by("-created_at", "-id")


def _feedback_type_id() -> int:
    """The content type of feedback items (Django caches it: no query after the first)."""
    return ContentType.objects.get_for_model(FeedbackItem).pk


def _gift_type_ids() -> tuple[int, int, int]:
    """The content types of feedback items, campaign members and staff gifts, the causes of
    gifts the history words (one query at most; Django caches them)."""
    types = ContentType.objects.get_for_models(FeedbackItem, CampaignMember, Gift)
    return types[FeedbackItem].pk, types[CampaignMember].pk, types[Gift].pk


def with_reasons(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Give each entry a `reason_key` (templates/members/_entry_reason.html words it) and, for
    rewards, the reward's name in the reader's language. Needs no query per entry (a gift asks
    for the feedback item's content type, which Django caches; a page with staff gifts reads
    their cards in one query)."""
    for entry in entries:
        entry.reward = None
        kind = entry.kind
        if kind == LedgerEntry.Kind.EARN and entry.purchase_id:
            entry.reason_key = "purchase"
        elif kind == LedgerEntry.Kind.REVERSAL and entry.purchase_id:
            entry.reason_key = "refund"
        elif kind == LedgerEntry.Kind.SPEND and _redemption(entry) is not None:
            entry.reason_key = "reward"
            entry.reward = _redemption(entry).reward
        elif (
            kind == LedgerEntry.Kind.REVERSAL
            and entry.reverses is not None
            and _redemption(entry.reverses) is not None
        ):
            entry.reason_key = "reward_returned"
            entry.reward = _redemption(entry.reverses).reward
        elif kind == LedgerEntry.Kind.EXPIRE:
            entry.reason_key = "expiry"
        elif kind == LedgerEntry.Kind.ADJUST:
            entry.reason_key = "staff"
        elif (
            kind == LedgerEntry.Kind.GIFT
            and entry.cause_type_id is not None
            and entry.cause_type_id == _gift_type_ids()[0]
        ):
            entry.reason_key = "feedback"  # thank-you points: cause_id is the item's number
        elif (
            kind == LedgerEntry.Kind.GIFT
            and entry.cause_type_id is not None
            and entry.cause_type_id == _gift_type_ids()[1]
        ):
            entry.reason_key = "campaign"  # a campaign's offer
        elif (
            kind == LedgerEntry.Kind.GIFT
            and entry.cause_type_id is not None
            and entry.cause_type_id == _gift_type_ids()[2]
        ):
            entry.reason_key = "gift"  # a staff gift with a card: its title (below)
        else:
            entry.reason_key = "other"
    _with_gift_cards(entries)
    return entries


def _with_gift_cards(entries: list[LedgerEntry]) -> None:
    """The staff gifts' cards, for their titles (one query, only if the page has any)."""
    ids = [entry.cause_id for entry in entries if entry.reason_key == "gift"]
    if not ids:
        return
    found = Gift.objects.select_related("template").in_bulk(ids)
    for entry in entries:
        if entry.reason_key == "gift":
            gift = found.get(entry.cause_id)
            entry.gift_title = gift.template.title() if gift else ""


def _redemption(entry: LedgerEntry):
    try:
        return entry.redemption
    except LedgerEntry.redemption.RelatedObjectDoesNotExist:
        return None


# --- rewards and vouchers -------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueItem:
    reward: Reward
    cost: int
    discounted: bool
    tier_too_low: bool
    out_of_stock: bool
    points_short: int

    @property
    def can_redeem(self) -> bool:
        return not (self.tier_too_low or self.out_of_stock or self.points_short)


def catalogue_item(*, reward: Reward, member: Member) -> CatalogueItem:
    cost = member_cost(reward=reward, member=member)
    member_rank = member.tier.rank if member.tier_id else -1
    return CatalogueItem(
        reward=reward,
        cost=cost,
        discounted=cost < reward.points_cost,
        tier_too_low=reward.min_tier_id is not None and member_rank < reward.min_tier.rank,
        out_of_stock=reward.stock is not None and reward.stock <= 0,
        points_short=max(cost - member.points_balance, 0),
    )


def available_rewards(*, at=None) -> QuerySet[Reward]:
    from django.db.models import Q

    at = at or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(active_from__isnull=True) | Q(active_from__lte=at))
        .filter(Q(active_until__isnull=True) | Q(active_until__gt=at))
        .select_related("min_tier")
        .order_by("points_cost", "slug")
    )


def reward_catalogue(*, member: Member) -> list[CatalogueItem]:
    """The rewards on offer now with the member's own cost, in one query."""
    return [catalogue_item(reward=r, member=member) for r in available_rewards()]


def member_vouchers(*, member: Member) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(redemption__member=member)
        .select_related("redemption__reward")
        .order_by("-created_at", "-id")
    )


def voucher_status(voucher: Voucher, today: date | None = None) -> str:
    """What the member should know: an issued voucher past its date is expired already."""
    today = today or timezone.localdate()
    if voucher.status == Voucher.Status.ISSUED and voucher.expires_on < today:
        return Voucher.Status.EXPIRED
    return voucher.status


# --- the inbox ------------------------------------------------------------------------------


def member_messages(*, member: Member) -> QuerySet[Message]:
    return Message.objects.filter(member=member).order_by("-created_at", "-id")
