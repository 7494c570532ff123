"""Purchases reported in a batch: a till catching up after being offline.

`purchases_record_batch` records a partner's purchases one after the other, in the order sent,
each by purchase_record exactly as if it came alone (the same checks, sanity limits, earning
rules, tier upgrade, webhook events and purchase hooks), in the caller's transaction: the API
stores its answer under one Idempotency-Key with them (loyalty.core.api.batch).

- Each purchase is its own savepoint (purchase_record's): a refusal rolls back that purchase
  alone, never the others, and nothing is half-written. With `savepoint=False`, the first try,
  they take none (purchase_record_without_savepoint): a refusal before anything is written
  costs nothing, and one after (the transaction is then marked for rollback) is raised, so the
  caller rolls everything back and runs the batch again with savepoints, as IdempotentRun does
  for a single purchase.
- A purchase id this partner recorded before (by a batch or alone) is not recorded again: the
  item answers the purchase already recorded when it is the same one (the same member, amount
  and currency: a till sending again what it sent before), else it is refused with
  `duplicate_purchase`, as alone. An id sent twice in one batch: the second is refused
  (`duplicate_in_batch`).
- The buyers are found and locked in one statement, in id order, before the first purchase
  (buyer.members_for_purchases; PostgreSQL): two batches for the same members wait for one
  another and never deadlock over them. On the first try each purchase then takes its buyer
  from there, as member_for_purchase would find them (the same row, locked since, as the
  purchases before left it), so it costs one statement. With savepoints each purchase finds its
  buyer afresh: what a purchase rolled back to its savepoint did to the buyer in memory is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.errors import MemberNotFound
from accounts.models import Member, Partner
from accounts.services import clean_member_number
from loyalty.base.errors import LoyaltyError
from loyalty.base.money import clean_amount, clean_currency

from . import anomalies
from .buyer import Buyer, member_for_purchase, members_for_purchases
from .errors import DuplicateInBatch, DuplicatePurchase, OverLimit
from .models import Purchase, Tier
from .purchases import PurchaseResult, purchase_record, purchase_record_without_savepoint

BATCH_MAX = 1000


@dataclass(frozen=True)
class BatchPurchase:
    """One purchase of a batch: purchase_record's arguments, with the member's number."""

    member_number: str
    external_id: str
    amount: Decimal
    currency: str
    occurred_at: datetime | None = None
    lines: list[dict] | None = None
    payment_fingerprint: str | None = None


@dataclass(frozen=True)
class BuyerNow:
    """The buyer as one purchase of the batch left them (the later ones change the Member)."""

    member_number: str
    points_balance: int
    tier: Tier | None

    @classmethod
    def of(cls, member: Member) -> BuyerNow:
        return cls(member.member_number, member.points_balance, member.tier)


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one purchase: recorded now (`result`), recorded before (`existing`), or
    refused (`error`); `member` is the buyer as this purchase left them, for the answer."""

    member: BuyerNow | None = None
    result: PurchaseResult | None = None
    existing: Purchase | None = None
    error: LoyaltyError | None = None


def purchases_record_batch(
    *, partner: Partner, purchases: Sequence[BatchPurchase], savepoint: bool = True
) -> list[BatchOutcome]:
    """Record the purchases in order, each on its own: one outcome per purchase, in order.

    Runs in the caller's transaction (it must be in one). A refusal is an outcome; with
    `savepoint=False`, one that left the transaction marked for rollback is raised instead.
    """
    if len(purchases) > BATCH_MAX:
        raise ValueError(f"A batch holds at most {BATCH_MAX} purchases.")
    buyers = members_for_purchases(item.member_number for item in purchases)
    batch = _Batch(partner, savepoint, _recorded_before(partner, purchases), buyers)
    return [batch.record(item) for item in purchases]


class _Batch:
    def __init__(self, partner, savepoint: bool, recorded: dict[str, Purchase], buyers):
        self.partner = partner
        self.record_one = purchase_record if savepoint else purchase_record_without_savepoint
        self.recorded = recorded  # external id -> the purchase recorded before this batch
        # number -> Buyer, found and locked at the start; with savepoints each is found afresh
        self.buyers: dict[str, Buyer] | None = None if savepoint else buyers
        self.seen: set[str] = set()
        self.members: dict[int, BuyerNow] = {}  # member id -> as the last purchase left them

    def record(self, item: BatchPurchase) -> BatchOutcome:
        external_id = str(item.external_id or "").strip()
        if external_id in self.seen:
            return BatchOutcome(error=DuplicateInBatch())
        self.seen.add(external_id)
        if external_id in self.recorded:
            return self._existing(self.recorded[external_id], item)
        try:
            buyer = self._buyer(item.member_number)
            result = self.record_one(
                partner=self.partner,
                member=buyer,
                external_id=external_id,
                amount=item.amount,
                currency=item.currency,
                occurred_at=item.occurred_at,
                lines=item.lines,
                payment_fingerprint=item.payment_fingerprint,
            )
        except LoyaltyError as exc:
            if transaction.get_rollback():
                raise  # (only without savepoints) the caller rolls back and runs it with them
            if isinstance(exc, DuplicatePurchase):  # recorded meanwhile, by another request
                purchase = _recorded(self.partner, [external_id]).get(external_id)
                if purchase is not None:
                    return self._existing(purchase, item)
            if isinstance(exc, OverLimit):
                # (its effects rolled back; what staff must hear of it commits with the batch)
                anomalies.refusal_record(exc)
            return BatchOutcome(error=exc)
        now = self.members[buyer.member.pk] = BuyerNow.of(buyer.member)
        return BatchOutcome(member=now, result=result)

    def _buyer(self, number: str) -> Buyer:
        """member_for_purchase(number), from the buyers found at the start on the first try."""
        if self.buyers is None:
            return member_for_purchase(number)
        buyer = self.buyers.get(clean_member_number(number))
        if buyer is None:
            raise MemberNotFound()
        return buyer

    def _existing(self, purchase: Purchase, item: BatchPurchase) -> BatchOutcome:
        if not _same_purchase(purchase, item):
            return BatchOutcome(error=DuplicatePurchase())
        member = self.members.get(purchase.member_id) or BuyerNow.of(purchase.member)
        return BatchOutcome(member=member, existing=purchase)


def _same_purchase(purchase: Purchase, item: BatchPurchase) -> bool:
    """Whether the item is the purchase recorded under its id: its member, amount and currency."""
    try:
        number = clean_member_number(item.member_number)
        amount, currency = clean_amount(item.amount), clean_currency(item.currency)
    except LoyaltyError:
        return False
    return (purchase.member.member_number, purchase.amount, purchase.currency) == (
        number,
        amount,
        currency,
    )


def _recorded_before(partner: Partner, purchases: Sequence[BatchPurchase]) -> dict[str, Purchase]:
    return _recorded(partner, {str(item.external_id or "").strip() for item in purchases})


def _recorded(partner: Partner, external_ids) -> dict[str, Purchase]:
    """The partner's purchases with these ids, with their members and tiers: one query."""
    found = Purchase.objects.filter(partner=partner, external_id__in=external_ids)
    return {purchase.external_id: purchase for purchase in found.select_related("member__tier")}
