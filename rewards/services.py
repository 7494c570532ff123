"""Redeeming rewards, using, cancelling and expiring vouchers: one transaction each.

Locks: every action takes the member's row first (select_for_update, or the ledger's conditional
UPDATE), so actions on one member queue up; redeeming then takes the reward's stock row, while
cancelling and expiring flip the voucher before they give stock back. Those orders cannot
deadlock, because the voucher being flipped belongs to the member already locked. Stock is
taken with a conditional UPDATE (stock = stock - 1 WHERE stock > 0), so it can
never be oversold, whatever the number of tills.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member, Partner
from accounts.services import member_locked
from loyalty.core.anomalies import spent_elsewhere_flag
from loyalty.core.ledger import points_credit, points_debit, points_reverse
from loyalty.core.models import LedgerEntry
from webhooks.services import event_emit

from .errors import (
    LimitReached,
    OutOfStock,
    RedemptionNotCancellable,
    RedemptionsOverLimit,
    RewardInactive,
    RewardNotFound,
    TierTooLow,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotFound,
)
from .models import Redemption, Reward, Voucher

# No look-alikes: without 0/O, 1/I/L, 5/S, 8/B and U/V: 25 symbols × 12 ≈ 55 random bits.
CODE_ALPHABET = "234679ACDEFGHJKMNPQRTWXYZ"
CODE_LENGTH = 12


def new_voucher_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_voucher_code(code) -> str:
    """What a person types or a scanner reads: any case, with spaces or dashes."""
    return re.sub(r"[\s-]", "", str(code or "")).upper()[:32]


def member_cost(*, reward: Reward, member: Member) -> int:
    """Loyal members pay less: the points cost less the tier's discount, rounded in their
    favour, and never below one point."""
    percent = member.tier.discount_percent if member.tier_id else Decimal(0)
    if not percent:
        return reward.points_cost
    cost = Decimal(reward.points_cost) * (Decimal(100) - percent) / Decimal(100)
    return max(1, math.floor(cost))


def _check_redeemable(*, reward: Reward, member: Member, at: datetime) -> None:
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive()
    if not reward.is_available(at):
        raise RewardInactive()
    if reward.min_tier_id is not None:
        member_rank = member.tier.rank if member.tier_id else -1
        if member_rank < reward.min_tier.rank:
            raise TierTooLow()


@transaction.atomic
def reward_redeem(
    *,
    member: Member,
    reward: Reward,
    partner: Partner | None = None,
    at: datetime | None = None,
) -> Redemption:
    """Spend points on a reward and issue its voucher; refusals change nothing."""
    at = at or timezone.now()
    locked = member_locked(member.pk, related=("tier",))
    reward = Reward.objects.select_related("min_tier").filter(pk=reward.pk).first()
    if reward is None:
        raise RewardNotFound()
    _check_redeemable(reward=reward, member=locked, at=at)
    if reward.limit_per_member is not None:
        taken = Redemption.objects.filter(
            member=locked, reward=reward, status=Redemption.Status.ACTIVE
        ).count()
        if taken >= reward.limit_per_member:
            raise LimitReached()
    if reward.stock is not None:
        took = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
        if not took:
            raise OutOfStock()
    cost = member_cost(reward=reward, member=locked)
    if partner is not None:
        _partner_daily_limit_check(partner=partner, member=locked, points=cost, at=at)
    redemption = Redemption.objects.create(
        member=locked,
        reward=reward,
        partner=partner,
        points_spent=cost,
        discount_percent=locked.tier.discount_percent if locked.tier_id else 0,
        took_stock=reward.stock is not None,
        created_at=at,
    )
    entry = points_debit(
        member=locked,
        points=cost,
        cause=redemption,
        at=at,
    )
    redemption.spend_entry = entry
    redemption.save(update_fields=["spend_entry"])
    Voucher.objects.create(
        redemption=redemption,
        member_id=redemption.member_id,
        code=_unused_code(),
        expires_on=timezone.localdate(at) + timedelta(days=reward.voucher_valid_days),
        created_at=at,
    )
    member.points_balance = locked.points_balance
    payload = {
        "member_number": locked.member_number,
        "reward": reward.slug,
        "redemption": redemption.pk,
        "points": cost,
        "balance": locked.points_balance,
    }
    event_emit(event_type="points.spent", partner=partner, member_id=locked.pk, payload=payload)
    event_emit(event_type="reward.redeemed", partner=partner, member_id=locked.pk, payload=payload)
    if partner is not None:
        spent_elsewhere_flag(partner=partner, member=locked, points=cost, at=at)
    return redemption


@transaction.atomic
def reward_gift(*, member: Member, reward: Reward, cause, description: str = ""):
    """A voucher as a gift, through the catalogue's own rules: a `gift` credit of what the reward
    costs the member (its cause: `cause`), then the redemption that spends it, so the voucher's
    expiry and a cancellation follow the reward's rules. Returns (entry, redemption); a refusal
    (LoyaltyError) writes nothing."""
    cost = member_cost(reward=reward, member=member)
    entry = points_credit(
        member=member,
        points=cost,
        kind=LedgerEntry.Kind.GIFT,
        cause=cause,
        description=description,
    )
    return entry, reward_redeem(member=member, reward=reward)


def _partner_daily_limit_check(*, partner: Partner, member: Member, points: int, at) -> None:
    """A partner's redemptions in a day stay within its limit (one leaked key cannot drain
    every member's points). The partner's row is locked alone (after the member's: the order
    every redemption takes), so two tills cannot both pass the limit."""
    limit = (
        Partner.objects.select_for_update(no_key=True, of=("self",))
        .values_list("max_points_redeemed_per_day", flat=True)
        .get(pk=partner.pk)
    )
    day_start = timezone.localtime(at).replace(hour=0, minute=0, second=0, microsecond=0)
    today = Redemption.objects.filter(
        partner=partner, created_at__gte=day_start, created_at__lte=at
    ).exclude(status=Redemption.Status.CANCELLED)
    spent = today.aggregate(points=Sum("points_spent"))["points"] or 0
    if spent + points > limit:
        raise RedemptionsOverLimit(
            limit=limit,
            partner=partner,
            member=member,
            limit_of="daily_redemptions",
            value=str(points),
            today=str(spent),
        )


def _unused_code() -> str:
    for _ in range(10):
        code = new_voucher_code()
        if not Voucher.objects.filter(code=code).exists():
            return code
    raise RuntimeError("Could not find a free voucher code.")  # pragma: no cover


def _voucher_refusal(voucher: Voucher | None, today: date) -> Exception:
    if voucher is None:
        return VoucherNotFound()
    if voucher.status == Voucher.Status.USED:
        return VoucherAlreadyUsed()
    if voucher.status == Voucher.Status.CANCELLED:
        return VoucherCancelled()
    if voucher.status == Voucher.Status.EXPIRED or voucher.expires_on < today:
        return VoucherExpired()
    return VoucherNotFound()  # pragma: no cover - an issued, valid voucher is never refused


@transaction.atomic
def voucher_use(*, code: str, partner: Partner, at: datetime | None = None) -> Voucher:
    """Mark a voucher used, exactly once, with a conditional UPDATE: of two tills, one wins.
    A closed member's voucher is refused (member_not_active)."""
    at = at or timezone.now()
    today = timezone.localdate(at)
    code = normalize_voucher_code(code)
    used = Voucher.objects.filter(
        code=code, status=Voucher.Status.ISSUED, expires_on__gte=today
    ).update(status=Voucher.Status.USED, used_at=at, used_by=partner)
    voucher = (
        Voucher.objects.select_related("redemption__reward", "redemption__member")
        .filter(code=code)
        .first()
    )
    if not used:
        raise _voucher_refusal(voucher, today)
    if voucher.redemption.member.status == Member.Status.CLOSED:
        # a membership closed by its status alone may still hold issued vouchers; read with
        # the voucher, and raising undoes the update (no query when the member is open)
        raise MemberNotActive()
    event_emit(
        event_type="voucher.used",
        partner=partner,
        member_id=voucher.redemption.member_id,
        payload={
            "code": voucher.code,
            "reward": voucher.redemption.reward.slug,
            "member_number": voucher.redemption.member.member_number,
        },
    )
    return voucher


def _return_points_and_stock(
    *, redemption: Redemption, description: str, cause, at: datetime
) -> None:
    result = points_reverse(
        entry=redemption.spend_entry, cause=cause, description=description, at=at
    )
    event_emit(
        event_type="points.reversed",
        partner=redemption.partner,
        member_id=redemption.member_id,
        payload={
            "member_number": redemption.member.member_number,
            "redemption": redemption.pk,
            "points": result.points_reversed,
            "balance": result.entry.balance_after,
        },
    )
    if redemption.took_stock:
        Reward.objects.filter(pk=redemption.reward_id, stock__isnull=False).update(
            stock=F("stock") + 1
        )


@transaction.atomic
def redemption_cancel(
    *, redemption: Redemption, reason: str = "", at: datetime | None = None
) -> Redemption:
    """Cancel a redemption whose voucher is unused: the points and the stock come back."""
    at = at or timezone.now()
    Member.objects.select_for_update().filter(pk=redemption.member_id).first()
    # Only an unused voucher still within its validity: an expired one follows its reward's
    # rule on returning points (voucher_expire), whether or not the job has run yet.
    cancelled = Voucher.objects.filter(
        redemption=redemption,
        status=Voucher.Status.ISSUED,
        expires_on__gte=timezone.localdate(at),
    ).update(status=Voucher.Status.CANCELLED)
    if not cancelled:
        raise RedemptionNotCancellable()
    redemption = Redemption.objects.select_related(
        "reward", "spend_entry", "member", "partner"
    ).get(pk=redemption.pk)
    redemption.status = Redemption.Status.CANCELLED
    redemption.cancelled_at = at
    redemption.cancel_reason = str(reason or "")[:500]
    redemption.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    _return_points_and_stock(
        redemption=redemption,
        description="",
        cause=redemption,
        at=at,
    )
    return redemption


@transaction.atomic
def voucher_expire(*, voucher: Voucher, today: date | None = None) -> bool:
    """Expire one voucher past its validity; return points and stock if the reward says so."""
    today = today or timezone.localdate()
    at = timezone.now()
    Member.objects.select_for_update().filter(pk=voucher.redemption.member_id).first()
    expired = Voucher.objects.filter(
        pk=voucher.pk, status=Voucher.Status.ISSUED, expires_on__lt=today
    ).update(status=Voucher.Status.EXPIRED)
    if not expired:
        return False
    redemption = Redemption.objects.select_related(
        "reward", "spend_entry", "member", "partner"
    ).get(pk=voucher.redemption_id)
    if redemption.reward.return_points_on_expiry:
        _return_points_and_stock(
            redemption=redemption,
            description="",
            cause=voucher,
            at=at,
        )
    return True


def vouchers_move_for_pause(*, member_id: int, days: int, not_before: date) -> int:
    """A hardship pause's hook (loyalty.core.pauses, under the member's row lock): the member's
    unused vouchers stay valid `days` longer, and at least until `not_before`."""
    moved = []
    for voucher in Voucher.objects.filter(
        redemption__member_id=member_id, status=Voucher.Status.ISSUED
    ).only("pk", "expires_on"):
        new = max(voucher.expires_on + timedelta(days=days), not_before)
        if new != voucher.expires_on:
            voucher.expires_on = new
            moved.append(voucher)
    Voucher.objects.bulk_update(moved, ["expires_on"], batch_size=500)
    return len(moved)


def vouchers_expire_due(*, today: date | None = None, batch_size: int = 500) -> int:
    """Expire every issued voucher past its validity, each in its own transaction."""
    today = today or timezone.localdate()
    count = 0
    while True:
        due = list(
            Voucher.objects.filter(status=Voucher.Status.ISSUED, expires_on__lt=today)
            # a paused member's vouchers wait for them (loyalty.core.pauses moves their dates)
            .exclude(redemption__member__status=Member.Status.PAUSED)
            .select_related("redemption")
            .order_by("id")[:batch_size]
        )
        if not due:
            return count
        for voucher in due:
            count += voucher_expire(voucher=voucher, today=today)
