"""Purchases: a partner reports one, the earning rules and the tier turn it into points.

`purchase_record` validates, then in one transaction writes the purchase and its lines,
credits the points, upgrades the tier if earned, emits the webhook events and runs the purchase
hooks (loyalty.core.hooks) under the buyer's row lock.

The partner API records purchases by the thousand, so its path is short (docs/ARCHITECTURE.md,
"The purchase's hot path"): `buyer.member_for_purchase` finds and locks the buyer in one
statement, which also says which purchase hooks have something to do for them (a `Buyer`); on
PostgreSQL the purchase, the balance, the earn entry and its lot are then one more statement,
which also counts the tier points. Both are prepared statements (loyalty.base.prepared).
Elsewhere (SQLite, points outside the usual range, a refusal) the ORM path writes the same
rows; the tests hold the two to the same columns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.errors import MemberNotActive, PartnerNotActive
from accounts.models import Member, Partner
from loyalty.base import metrics
from loyalty.base.money import clean_amount, clean_currency
from loyalty.base.prepared import PreparedSQL
from webhooks.models import WebhookEndpoint
from webhooks.services import event_emit

from . import anomalies, earning, hooks
from .buyer import Buyer
from .errors import CurrencyMismatch, DuplicatePurchase, InvalidPurchase
from .ledger import (
    MAX_POINTS,
    default_expiry,
    member_lock,
    points_credit_in_transaction,
    refuse_balance_change,
    write_time,
)
from .models import LedgerEntry, PendingPoints, PointLot, Purchase, PurchaseLine, TierChange
from .pending import pending_hold, pending_until
from .selectors import earning_rules_active
from .tiers import higher_tiers, tier_upgrade_if_earned


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    entry: LedgerEntry | None
    points: int
    explanation: list[dict]
    tier_change: TierChange | None
    # The points wait out the partner's return window (loyalty.core.pending); `entry` is None.
    pending: PendingPoints | None = None

    @property
    def explanation_text(self) -> str:
        return earning.explain_text(self.explanation, self.points)


def _clean_lines(lines, amount: Decimal) -> list[dict]:
    if lines is None:
        return []
    if not isinstance(lines, (list, tuple)) or len(lines) > 500:
        raise InvalidPurchase("Lines must be a list of at most 500 items.")
    cleaned = []
    for line in lines:
        if not isinstance(line, dict):
            raise InvalidPurchase("Each line must be an object.")
        sku = str(line.get("sku") or "").strip()
        if not sku or len(sku) > 64:
            raise InvalidPurchase("Each line needs a SKU of at most 64 characters.")
        quantity = line.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity < 10**6:
            raise InvalidPurchase("A line's quantity must be a positive whole number.")
        category = str(line.get("category") or "").strip()
        if len(category) > 64:
            raise InvalidPurchase("A category has at most 64 characters.")
        cleaned.append(
            {
                "sku": sku,
                "quantity": quantity,
                "amount": clean_amount(line.get("amount"), allow_zero=True),
                "category": category,
            }
        )
    if cleaned and sum(line["amount"] for line in cleaned) != amount:
        raise InvalidPurchase("The lines must add up to the purchase amount.")
    return cleaned


def purchase_record(
    *,
    partner: Partner,
    member: Member | Buyer,
    external_id: str,
    amount,
    currency: str,
    occurred_at: datetime | None = None,
    lines: list[dict] | None = None,
    at: datetime | None = None,
    payment_fingerprint: str | None = None,
) -> PurchaseResult:
    """Record a partner's purchase and credit what the earning rules and tier give.

    Returns the points with an explanation of which rules fired and why. The same external id
    from the same partner is refused with DuplicatePurchase; nothing is half-written.
    `payment_fingerprint` is the partner's opaque token of the means of payment, if any.
    `member` is a Member, or a Buyer from member_for_purchase (the partner API's short path).
    """
    return _purchase_record(
        savepoint=True,
        partner=partner,
        member=member,
        external_id=external_id,
        amount=amount,
        currency=currency,
        occurred_at=occurred_at,
        lines=lines,
        at=at,
        payment_fingerprint=payment_fingerprint,
    )


def purchase_record_without_savepoint(**kwargs) -> PurchaseResult:
    """purchase_record joining the caller's transaction without a savepoint of its own: two
    round trips fewer, for the partner API's hottest request (IdempotentRun's first pass).
    Should it fail after writing, the caller's transaction is marked for rollback, so only for a
    caller that then rolls back and asks purchase_record (bench/RESULTS.md has what it saves)."""
    return _purchase_record(savepoint=False, **kwargs)


def _purchase_record(
    *,
    savepoint: bool,
    partner: Partner,
    member: Member | Buyer,
    external_id: str,
    amount,
    currency: str,
    occurred_at: datetime | None = None,
    lines: list[dict] | None = None,
    at: datetime | None = None,
    payment_fingerprint: str | None = None,
) -> PurchaseResult:
    external_id = str(external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise InvalidPurchase("The purchase id must have 1 to 100 characters.")
    amount = clean_amount(amount)
    currency = clean_currency(currency)
    if not partner.is_active:
        raise PartnerNotActive()
    if currency != partner.currency:
        raise CurrencyMismatch()
    at = write_time(at)
    occurred_at = write_time(occurred_at) if occurred_at is not None else at
    if occurred_at > at + timezone.timedelta(minutes=5):
        raise InvalidPurchase("A purchase cannot happen in the future.")
    max_age = settings.LOYALTY_PURCHASE_MAX_AGE_DAYS
    if max_age and occurred_at < at - timezone.timedelta(days=max_age):
        # a till sending again what it sent in time must hear that it is recorded
        if Purchase.objects.filter(partner=partner, external_id=external_id).exists():
            raise DuplicatePurchase()
        raise InvalidPurchase(f"A purchase is reported within {max_age} days of happening.")
    cleaned = _clean_lines(lines, amount)
    payment_fingerprint = str(payment_fingerprint or "").strip() or None
    if payment_fingerprint is not None and len(payment_fingerprint) > 128:
        raise InvalidPurchase("A payment fingerprint has at most 128 characters.")
    buyer = member if isinstance(member, Buyer) else Buyer(member)
    if buyer.member.status == Member.Status.CLOSED:
        raise MemberNotActive()
    anomalies.purchase_amount_check(partner=partner, member=buyer.member, amount=amount)
    try:
        with transaction.atomic(savepoint=savepoint):
            return _purchase_write(
                partner=partner,
                buyer=buyer,
                external_id=external_id,
                amount=amount,
                currency=currency,
                occurred_at=occurred_at,
                lines=cleaned,
                at=at,
                payment_fingerprint=payment_fingerprint,
            )
    except IntegrityError:
        if not savepoint:
            raise  # the transaction is broken: the caller rolls back and asks again
        if Purchase.objects.filter(partner=partner, external_id=external_id).exists():
            raise DuplicatePurchase() from None
        raise


def _purchase_write(
    *, partner, buyer, external_id, amount, currency, occurred_at, lines, at, payment_fingerprint
):
    member = buyer.member
    # The active rules of this partner and of all, from the process's cache.
    rules = earning_rules_active(partner_id=partner.pk)
    earn_lines = [earning.EarnLine(line["amount"], line["category"]) for line in lines] or [
        earning.EarnLine(amount)
    ]
    tier = member.tier
    calc = earning.calculate(
        rules=rules,
        lines=earn_lines,
        total=amount,
        partner_id=partner.pk,
        on=timezone.localdate(occurred_at),
        tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
        tier_name=tier.name if tier else "",
    )
    anomalies.purchase_points_check(
        partner=partner, member=member, points=calc.points, amount=amount
    )
    purchase = Purchase(
        partner=partner,
        external_id=external_id,
        member=member,
        amount=amount,
        currency=currency,
        occurred_at=occurred_at,
        points_earned=calc.points,
        explanation=calc.explanation,
        payment_fingerprint=payment_fingerprint,
        created_at=at,
    )
    description = f"{partner.name} {external_id}"
    entry = pending = None
    partner_endpoints = True  # whether the partner may have a webhook endpoint: ask event_emit
    qualifying = None  # the tier points, when the purchase's statement counted them
    # Inside the partner's return window the points wait, pending (loyalty.core.pending).
    available_on = pending_until(partner=partner, occurred_at=occurred_at, at=at)
    if 0 < calc.points <= MAX_POINTS and available_on is None and connection.vendor == "postgresql":
        # With the member's row locked before this statement (member_for_purchase), its
        # snapshot holds all their entries: it can count the tier points too.
        count_since = None
        if buyer.row_locked and any(higher_tiers(member)):
            count_since = at - timezone.timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
        entry, partner_endpoints, qualifying = _purchase_insert_and_credit(
            purchase=purchase, member=member, description=description, count_since=count_since
        )
    else:
        purchase.save(force_insert=True)
    if lines:
        # Each line keeps what it earned before rounding: a refund of it takes back that.
        PurchaseLine.objects.bulk_create(
            PurchaseLine(
                purchase=purchase,
                member_id=purchase.member_id,
                points_earned=earned.points,
                earning=earned.why,
                **line,
            )
            for line, earned in zip(lines, calc.lines, strict=True)
        )
    change = None
    if calc.points and available_on is not None:
        # Not spendable yet: no entry, no lot; the tier counts them when they are released.
        pending = pending_hold(
            member=member, purchase=purchase, points=calc.points, available_on=available_on, at=at
        )
    elif calc.points and entry is None:
        entry = points_credit_in_transaction(
            member=member,
            points=calc.points,
            kind=LedgerEntry.Kind.EARN,
            purchase=purchase,
            description=description,
            at=at,
        )
    if calc.points:
        if pending is None:
            change = tier_upgrade_if_earned(member=member, at=at, qualifying=qualifying)
        if partner_endpoints:  # (event_emit would find no endpoint and write nothing)
            payload = {
                "member_number": member.member_number,
                "purchase": external_id,
                "points": calc.points,
                "balance": member.points_balance,
            }
            if pending is not None:
                payload.update(points_pending=calc.points, available_on=available_on.isoformat())
            event_emit(
                event_type="points.earned", partner=partner, member_id=member.pk, payload=payload
            )
        if change is not None:
            event_emit(
                event_type="tier.changed",
                member_id=member.pk,
                payload={
                    "member_number": member.member_number,
                    "from": change.from_tier.code if change.from_tier else None,
                    "to": change.to_tier.code,
                    "reason": change.reason,
                },
            )
    else:
        # Keep the closed-member rule even when nothing is earned.
        member_lock(member.pk)
    # Under the member's row lock: what the features do with a purchase (a friend's first one
    # may qualify a referral), each only where the buyer's lookup said it has something to do.
    for hook in hooks.purchase_hooks():
        if buyer.wants(hook):
            hook.run(purchase=purchase)
    anomalies.purchase_flag_if_large(
        partner=partner, member=member, external_id=external_id, amount=amount, points=calc.points
    )
    # (counted when the transaction commits: a purchase rolled back never happened)
    transaction.on_commit(lambda: _count(calc.points))
    return PurchaseResult(purchase, entry, calc.points, calc.explanation, change, pending)


def _count(points: int) -> None:
    metrics.PURCHASES.inc()
    if points:
        metrics.POINTS_EARNED.inc(points)


def _purchase_insert_and_credit(
    *, purchase: Purchase, member: Member, description: str, count_since: datetime | None = None
) -> tuple[LedgerEntry, bool, int | None]:
    """On PostgreSQL: insert the purchase and credit its points in one statement; the entry,
    whether the partner has an active webhook endpoint (if not, its points.earned event has no
    one to go to, and event_emit need not look), and with `count_since` the member's qualifying
    points after this purchase (qualifying_points; only exact when the member's row was locked
    before this statement, so that its snapshot holds all their entries).

    The same writes as purchase.save() followed by points_credit_in_transaction() (the conditional
    balance UPDATE, which takes the member's row lock, the earn entry and its lot), in one
    round trip. A
    purchase id this partner already used inserts nothing (ON CONFLICT, waiting for a concurrent
    insert of it to commit or roll back) and raises DuplicatePurchase; a closed or missing
    member raises as _apply_delta does, and the caller's savepoint drops the purchase.
    """
    points = purchase.points_earned
    at = purchase.created_at
    expires_on = default_expiry(at)
    explanation = Purchase._meta.get_field("explanation").get_db_prep_save(
        purchase.explanation, connection
    )
    with connection.cursor() as cursor:
        _PURCHASE_CREDIT.execute(
            cursor,
            {
                "partner_id": purchase.partner_id,
                "external_id": purchase.external_id,
                "member_id": member.pk,
                "amount": purchase.amount,
                "currency": purchase.currency,
                "occurred_at": purchase.occurred_at,
                "points": points,
                "explanation": explanation,
                "payment_fingerprint": purchase.payment_fingerprint,
                "at": at,
                "closed": Member.Status.CLOSED,
                "kind": LedgerEntry.Kind.EARN,
                "description": description[:500],
                "expires_on": expires_on,
                "reversal": LedgerEntry.Kind.REVERSAL,
                "count_since": count_since,
            },
        )
        purchase_id, entry_id, balance, lot_id, partner_endpoints, counted = cursor.fetchone()
    if purchase_id is None:
        raise DuplicatePurchase()
    if entry_id is None:
        refuse_balance_change(member.pk)
    db = connection.alias
    purchase.pk = purchase_id
    purchase._state.adding, purchase._state.db = False, db
    entry = _as_loaded(
        LedgerEntry,
        db,
        id=entry_id,
        member_id=member.pk,
        kind=LedgerEntry.Kind.EARN,
        points=points,
        balance_after=balance,
        description=description[:500],
        purchase_id=purchase_id,
        cause_type_id=None,
        cause_id=None,
        staff_user_id=None,
        reason="",
        reverses_id=None,
        created_at=at,
    )
    LedgerEntry.purchase.field.set_cached_value(entry, purchase)
    lot = _as_loaded(
        PointLot,
        db,
        id=lot_id,
        member_id=member.pk,
        entry_id=entry_id,
        points=points,
        remaining=points,
        earned_at=at,
        expires_on=expires_on,
    )
    # both ways, as assigning lot.entry would
    PointLot.entry.field.set_cached_value(lot, entry)
    PointLot.entry.field.remote_field.set_cached_value(entry, lot)
    member.points_balance = balance
    qualifying = None
    if counted is not None:
        # The statement's snapshot does not see its own entry: add it (it is in the window).
        qualifying = max(int(counted) + points, 0)
    return entry, partner_endpoints, qualifying


def _as_loaded(model, db: str, **values):
    """An instance of the model as if read from the database, from every concrete field's
    value: built positionally, as Model.from_db does, several times faster than from keyword
    arguments (a KeyError names a field left out)."""
    names = _attnames(model)
    return model.from_db(db, names, [values[name] for name in names])


@functools.cache
def _attnames(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


_PURCHASE_CREDIT = PreparedSQL(
    "loyalty_purchase_credit",
    f"""
WITH p AS (
    INSERT INTO {Purchase._meta.db_table} (partner_id, external_id, member_id, amount, currency,
        occurred_at, points_earned, explanation, payment_fingerprint, created_at)
    VALUES (%(partner_id)s, %(external_id)s, %(member_id)s, %(amount)s, %(currency)s,
        %(occurred_at)s, %(points)s, %(explanation)s, %(payment_fingerprint)s, %(at)s)
    ON CONFLICT (partner_id, external_id) DO NOTHING
    RETURNING id
), m AS (
    UPDATE {Member._meta.db_table} SET points_balance = points_balance + %(points)s
    WHERE id = %(member_id)s AND points_balance + %(points)s >= 0 AND status <> %(closed)s
        AND EXISTS (SELECT 1 FROM p)
    RETURNING points_balance
), e AS (
    INSERT INTO {LedgerEntry._meta.db_table} (member_id, kind, points, balance_after,
        description, purchase_id, reason, created_at)
    SELECT %(member_id)s, %(kind)s, %(points)s, m.points_balance, %(description)s, p.id, '',
        %(at)s
    FROM m, p
    RETURNING id, balance_after
), l AS (
    INSERT INTO {PointLot._meta.db_table} (member_id, entry_id, points, remaining, earned_at,
        expires_on)
    SELECT %(member_id)s, e.id, %(points)s, %(points)s, %(at)s, %(expires_on)s::date
    FROM e
    RETURNING id
)
SELECT (SELECT id FROM p), (SELECT id FROM e), (SELECT balance_after FROM e), (SELECT id FROM l),
    EXISTS (SELECT 1 FROM {WebhookEndpoint._meta.db_table}
        WHERE is_active AND partner_id = %(partner_id)s),
    CASE WHEN %(count_since)s IS NOT NULL THEN (
        SELECT COALESCE(SUM(points), 0) FROM {LedgerEntry._meta.db_table}
        WHERE member_id = %(member_id)s AND purchase_id IS NOT NULL
            AND kind IN (%(kind)s, %(reversal)s) AND created_at > %(count_since)s
            AND created_at <= %(at)s
    ) END
""",
    {
        "partner_id": "bigint",
        "external_id": "varchar",
        "member_id": "bigint",
        "amount": "numeric",
        "currency": "varchar",
        "occurred_at": "timestamptz",
        "points": "bigint",
        "explanation": "jsonb",
        "payment_fingerprint": "varchar",
        "at": "timestamptz",
        "closed": "varchar",
        "kind": "varchar",
        "description": "varchar",
        "expires_on": "date",
        "reversal": "varchar",
        "count_since": "timestamptz",
    },
)
