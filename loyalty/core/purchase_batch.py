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
- Buyers are locked in one statement, in id order, before the first purchase (PostgreSQL): two
  batches for the same members wait for one another and never deadlock over them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from accounts.errors import MemberNotFound
from accounts.models import Member, Partner
from accounts.services import clean_member_number
from loyalty.base.errors import LoyaltyError
from loyalty.base.money import clean_amount, clean_currency

from . import anomalies
from .buyer import member_for_purchase
from .errors import DuplicateInBatch, DuplicatePurchase, OverLimit
from .models import Purchase
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
class BatchOutcome:
    """What became of one purchase: recorded now (`result`), recorded before (`existing`), or
    refused (`error`); `member` is the buyer as this purchase left them, for the answer."""

    member: Member | None = None
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
    _members_lock(item.member_number for item in purchases)
    batch = _Batch(partner, savepoint, _recorded_before(partner, purchases))
    return [batch.record(item) for item in purchases]


class _Batch:
    def __init__(self, partner: Partner, savepoint: bool, recorded: dict[str, Purchase]):
        self.partner = partner
        self.record_one = purchase_record if savepoint else purchase_record_without_savepoint
        self.recorded = recorded  # external id -> the purchase recorded before this batch
        self.seen: set[str] = set()
        self.members: dict[int, Member] = {}  # member id -> as the last purchase left them

    def record(self, item: BatchPurchase) -> BatchOutcome:
        external_id = str(item.external_id or "").strip()
        if external_id in self.seen:
            return BatchOutcome(error=DuplicateInBatch())
        self.seen.add(external_id)
        if external_id in self.recorded:
            return self._existing(self.recorded[external_id], item)
        try:
            buyer = member_for_purchase(item.member_number)
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
        self.members[buyer.member.pk] = buyer.member
        return BatchOutcome(member=buyer.member, result=result)

    def _existing(self, purchase: Purchase, item: BatchPurchase) -> BatchOutcome:
        if not _same_purchase(purchase, item):
            return BatchOutcome(error=DuplicatePurchase())
        member = self.members.get(purchase.member_id, purchase.member)
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


def _members_lock(numbers) -> None:
    """Lock the buyers' rows in id order, in one statement (each purchase locks its buyer again,
    at once). Numbers that name no one are left to their purchase to refuse."""
    if connection.vendor != "postgresql":
        return  # (SQLite locks the whole database for a write)
    cleaned = set()
    for number in numbers:
        with contextlib.suppress(MemberNotFound):
            cleaned.add(clean_member_number(number))
    if len(cleaned) > 1:
        locked = Member.objects.filter(member_number__in=cleaned).order_by("pk")
        list(locked.select_for_update(no_key=True, of=("self",)).values_list("pk", flat=True))


def _recorded_before(partner: Partner, purchases: Sequence[BatchPurchase]) -> dict[str, Purchase]:
    return _recorded(partner, {str(item.external_id or "").strip() for item in purchases})


def _recorded(partner: Partner, external_ids) -> dict[str, Purchase]:
    """The partner's purchases with these ids, with their members and tiers: one query."""
    found = Purchase.objects.filter(partner=partner, external_id__in=external_ids)
    return {purchase.external_id: purchase for purchase in found.select_related("member__tier")}
