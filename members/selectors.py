"""Reads behind the member pages, each with a fixed number of queries whatever the history.

The dashboard gathers everything in six queries (tiers, qualifying points, expiring points,
the latest activity, the balance chart, the rewards on offer with the saving goal); a history,
voucher or inbox page is a count and one page of rows with what they show joined in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import Member
from feedback.models import FeedbackItem
from insights.models import CampaignMember
from loyalty.core.models import LedgerEntry, Refund, Tier
from loyalty.core.pending import pending_by_day
from loyalty.core.selectors import points_expiring, qualifying_points
from loyalty.core.wording import entries_word
from notifications.models import Message
from rewards.models import Gift, Reward, SavingGoal, Voucher
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
class RewardStep:
    """How far the member's points go toward one reward: for a line and a <progress>."""

    reward: Reward
    cost: int
    short: int  # points still missing (0: they can redeem it now)
    out_of_stock: bool = False

    @property
    def value(self) -> int:
        return self.cost - self.short

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.value / self.cost)) if self.cost else 100


@dataclass(frozen=True)
class NextRewards:
    """What the points can get now and what is next, among the rewards the member may have.

    `affordable`: how many they can redeem now, and `best` the dearest of them; `next`: the
    cheapest they cannot afford yet; `goal`: the one they chose to save for, while on offer.
    `on_offer` is False when no reward in stock is open to them at all."""

    on_offer: bool
    affordable: int
    best: RewardStep | None
    next: RewardStep | None
    goal: RewardStep | None


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
    rewards: NextRewards
    grace: Grace | None = None
    purchases_to_next_tier: int | None = None  # "about N purchases like your last"
    # Points in a return window, per day they become available (loyalty.core.pending).
    pending: list[dict] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        """Nothing to look back on yet: a welcome, not an empty chart."""
        return not self.latest

    @property
    def shows_chart(self) -> bool:
        """Twelve months of a line are worth showing once two months have activity."""
        return self.chart.active_months >= 2


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


def _step(item: CatalogueItem) -> RewardStep:
    return RewardStep(
        reward=item.reward,
        cost=item.cost,
        short=item.points_short,
        out_of_stock=item.out_of_stock,
    )


def next_rewards(*, member: Member, at=None) -> NextRewards:
    """The rewards on offer, the member's own cost of each and their goal, in one query."""
    items = [
        catalogue_item(reward=r, member=member)
        for r in _with_goal(available_rewards(at=at), member)
    ]
    open_to_them = [i for i in items if not (i.tier_too_low or i.out_of_stock)]
    affordable = [i for i in open_to_them if not i.points_short]
    waiting = [i for i in open_to_them if i.points_short]
    goal = next((i for i in items if i.reward.is_goal and not i.tier_too_low), None)
    return NextRewards(
        on_offer=bool(open_to_them),
        affordable=len(affordable),
        best=_step(max(affordable, key=lambda i: (i.cost, i.reward.pk))) if affordable else None,
        next=_step(min(waiting, key=lambda i: (i.cost, i.reward.pk))) if waiting else None,
        goal=_step(goal) if goal else None,
    )


def _purchases_to_next_tier(progress: TierProgress, latest: list[LedgerEntry]) -> int | None:
    """About how many purchases like the latest one reach the next tier (None: no such words)."""
    if progress.next is None or not progress.needed:
        return None
    last = next(
        (e for e in latest if e.kind == LedgerEntry.Kind.EARN and e.purchase_id and e.points > 0),
        None,
    )
    if last is None:
        return None
    return -(-progress.needed // last.points)


def member_dashboard(*, member: Member, today: date | None = None) -> Dashboard:
    """Everything the dashboard shows, in six queries (the member and tier are loaded), and
    one more for a member with points pending in a return window."""
    today = today or timezone.localdate()
    tiers = list(Tier.objects.order_by("rank"))
    current = member.tier
    qualifying = qualifying_points(member_id=member.pk)
    expiring = points_expiring(
        member_id=member.pk, within_days=EXPIRING_WITHIN_DAYS, today=today, limit=100
    )
    anniversary = next_anniversary(member.joined_on, today)
    progress = _tier_progress(tiers, current, qualifying)
    latest = with_reasons(list(ledger_entries(member=member)[:LATEST_ACTIVITY]))
    return Dashboard(
        member=member,
        balance=member.points_balance,
        progress=progress,
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
        latest=latest,
        chart=balance_chart(member_id=member.pk, balance=member.points_balance, today=today),
        rewards=next_rewards(member=member),
        grace=_grace(member, qualifying),
        purchases_to_next_tier=_purchases_to_next_tier(progress, latest),
        pending=pending_by_day(member=member),  # no query when nothing is pending
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
    _with_refunds(entries)
    # The rest in words from their causes (loyalty.core.wording), in the reader's language.
    entries_word([e for e in entries if e.reason_key == "other"])
    return entries


def _with_refunds(entries: list[LedgerEntry]) -> None:
    """The refunds behind taken-back points, for their explanation (one query, if any)."""
    refund_type = ContentType.objects.get_for_model(Refund).pk
    ids = [
        e.cause_id for e in entries if e.reason_key == "refund" and e.cause_type_id == refund_type
    ]
    found = Refund.objects.only("explanation").in_bulk(ids) if ids else {}
    for entry in entries:
        if entry.reason_key == "refund":
            entry.refund = found.get(entry.cause_id) if entry.cause_type_id == refund_type else None


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
    tier_needed: int | None = None  # qualifying points to the reward's tier (with_tier_distances)

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


def _with_goal(rewards: QuerySet[Reward], member: Member) -> QuerySet[Reward]:
    """Each reward's `is_goal`: whether the member is saving for it (no query of its own)."""
    return rewards.annotate(
        is_goal=Exists(SavingGoal.objects.filter(member_id=member.pk, reward_id=OuterRef("pk")))
    )


def reward_catalogue(*, member: Member) -> list[CatalogueItem]:
    """The rewards on offer now with the member's own cost and their goal, in one query."""
    return [
        catalogue_item(reward=r, member=member) for r in _with_goal(available_rewards(), member)
    ]


def with_tier_distances(*, member: Member, items: list[CatalogueItem]) -> list[CatalogueItem]:
    """Each reward for a tier the member lacks gets `tier_needed`: the qualifying points still
    missing (0: they qualify, and the tier is theirs with the next purchase). One query, and
    none when every reward is open to them."""
    if not any(i.tier_too_low for i in items):
        return items
    qualifying = qualifying_points(member_id=member.pk)
    return [
        replace(i, tier_needed=max(i.reward.min_tier.qualifying_points - qualifying, 0))
        if i.tier_too_low
        else i
        for i in items
    ]


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
