"""Pending points: a partner's return window (issue 18), all in this one module.

A partner with `return_window_days` N > 0: what a purchase earns waits, pending, until the
purchase's local day plus N days (`available_on`). Pending points stand outside the ledger
(`PendingPoints`, one row per purchase, and the cached `Member.points_pending`): they are not in
the balance, so no redemption or debit can spend them, and no lot holds them, so nothing can
expire them. The ledger's invariants hold as before; two more hold (tests/ledger.py):
- a member's points_pending equals the sum of their open rows' points less what was cancelled;
- a released row has the purchase's `earn` entry for exactly its points less the cancelled.

- A purchase holds them (`pending_hold`, inside purchase_record's transaction;
  `pending_hold_many` for a set-based earning path such as a bulk import).
- The daily `expiry` job's step `release_pending` releases what is due (`release_batch`,
  set-based, members locked in id order): per purchase the `earn` entry and its lot, written
  at the release. So the tier counts them from the release (qualifying points count `earn`
  entries by their time), and an upgrade they earn happens then; their lot expires by the
  policy counted from `available_on`, so the member gets the whole period to spend them.
  Only `pending` rows are released, under the member's row lock: a second run finds nothing.
- A refund before `available_on` cancels the refunded part (`pending_refund`): nothing of it
  was spendable, so nothing is taken from the balance and no one owes anything. A refund on or
  after that day first releases what the job has not released yet, then takes points back as
  refunds always do.
- Closing a membership cancels what is still pending (`pending_cancel_all`).

Lock order: the member's row, then (a refund) the purchase, then pending rows, which change only
under their member's row lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member, Partner
from webhooks.services import event_emit, event_wanted

from .errors import LedgerInconsistent
from .jobs import Counts, keyset
from .ledger import (
    balances_apply,
    entries_insert,
    expiry_from,
    member_counts_add,
    member_lock,
    members_lock,
    positive_points,
    refuse_balance_change,
    write_time,
)
from .models import JobRun, LedgerEntry, PendingPoints, PointLot, Purchase
from .selectors import qualifying_points_many
from .tiers import higher_tiers, tier_upgrade_if_earned

PENDING = PendingPoints.Status.PENDING


def pending_until(*, partner: Partner, occurred_at: datetime, at: datetime) -> date | None:
    """The day a purchase's points become available (its local day plus the partner's return
    window), or None when they are available at once: no window, or a purchase reported after
    its window had passed."""
    days = partner.return_window_days
    if not days:
        return None
    day = timezone.localdate(occurred_at) + timedelta(days=days)
    return day if day > timezone.localdate(at) else None


def _pending_apply(deltas: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Change open members' points_pending (never below zero), as balances_apply changes
    balances: {member id: (points_pending, points_balance)} of the rows changed. A member left
    out is closed or gone. The UPDATE takes the rows' locks."""
    return member_counts_add("points_pending", deltas)


# --- holding: a purchase's points wait ----------------------------------------------------------


def pending_hold(
    *,
    member: Member,
    purchase: Purchase,
    points: int,
    available_on: date,
    at: datetime | None = None,
) -> PendingPoints:
    """Hold a purchase's points until `available_on`, inside the caller's transaction: the
    member's points_pending grows (its UPDATE takes their row lock; a closed membership is
    refused as a credit would be), their balance does not."""
    points = positive_points(points)
    at = write_time(at)
    changed = _pending_apply({member.pk: points})
    if member.pk not in changed:
        refuse_balance_change(member.pk)
    row = PendingPoints.objects.create(
        member_id=member.pk,
        purchase=purchase,
        points=points,
        available_on=available_on,
        created_at=at,
    )
    member.points_pending, member.points_balance = changed[member.pk]
    return row


@dataclass(frozen=True)
class Hold:
    """One purchase's points for pending_hold_many (the purchase is saved)."""

    member_id: int
    purchase_id: int
    points: int
    available_on: date


def pending_hold_many(*, holds: Sequence[Hold], at: datetime | None = None) -> list[PendingPoints]:
    """pending_hold for many purchases at once (a set-based earning path): the members locked in
    id order, one UPDATE of their points_pending, the rows in one insert. All or nothing: a
    closed or missing member rolls the whole batch back (MemberNotActive)."""
    if not holds:
        return []
    at = write_time(at)
    totals: dict[int, int] = {}
    for hold in holds:
        totals[hold.member_id] = totals.get(hold.member_id, 0) + positive_points(hold.points)
    with transaction.atomic():
        members_lock(totals)
        if len(_pending_apply(totals)) != len(totals):
            raise MemberNotActive()
        return PendingPoints.objects.bulk_create(
            PendingPoints(
                member_id=hold.member_id,
                purchase_id=hold.purchase_id,
                points=hold.points,
                available_on=hold.available_on,
                created_at=at,
            )
            for hold in holds
        )


# --- releasing: the window has passed -----------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """What a release gave one member."""

    member_id: int
    points: int
    purchases: int
    balance: int
    pending: int


def pending_release(
    *, member: Member, today: date | None = None, at: datetime | None = None
) -> list[Released]:
    """Release the member's pending points due by `today` (available_on <= today), one `earn`
    entry per purchase. Nothing is released twice."""
    today = today or timezone.localdate()
    at = write_time(at)
    with transaction.atomic():
        locked = member_lock(member.pk)
        released = _release(_due([locked.pk], today), at=at)
    for item in released:
        member.points_balance, member.points_pending = item.balance, item.pending
    return released


def pending_release_many(
    *, member_ids: Sequence[int], today: date | None = None, at: datetime | None = None
) -> list[Released]:
    """pending_release for many members, set-based: a few statements for the whole batch.
    Closed members are skipped (closing cancelled what they had pending)."""
    today = today or timezone.localdate()
    at = write_time(at)
    with transaction.atomic():
        locked = members_lock(member_ids)
        open_ids = [pk for pk, status, _number in locked if status != Member.Status.CLOSED]
        return _release(_due(open_ids, today), at=at)


def _due(member_ids: Sequence[int], today: date) -> list[PendingPoints]:
    """The members' pending rows due by `today`, with the purchase's partner and id (the earn
    entry's description, as a purchase writes it)."""
    if not member_ids:
        return []
    return list(
        PendingPoints.objects.filter(
            member_id__in=list(member_ids), status=PENDING, available_on__lte=today
        )
        .select_related("purchase__partner")
        .only(
            "id",
            "member_id",
            "purchase_id",
            "points",
            "cancelled",
            "available_on",
            "status",
            "purchase__external_id",
            "purchase__partner__name",
        )
        .order_by("member_id", "available_on", "id")
    )


def _release(rows: list[PendingPoints], *, at: datetime) -> list[Released]:
    """Release pending rows of open members whose rows the caller has locked: per row an `earn`
    entry naming the purchase, and its lot; the balances and points_pending move in two
    set-based UPDATEs; then the tier upgrades the points earn."""
    if not rows:
        return []
    totals: dict[int, int] = {}
    counts: dict[int, int] = {}
    for row in rows:
        totals[row.member_id] = totals.get(row.member_id, 0) + row.open_points
        counts[row.member_id] = counts.get(row.member_id, 0) + 1
    balances = balances_apply(totals)
    pending = _pending_apply({member_id: -total for member_id, total in totals.items()})
    if len(balances) != len(totals) or len(pending) != len(totals):
        raise LedgerInconsistent()
    running = {member_id: balances[member_id] - total for member_id, total in totals.items()}
    entries = []
    for row in rows:
        running[row.member_id] += row.open_points
        purchase = row.purchase
        entries.append(
            LedgerEntry(
                member_id=row.member_id,
                kind=LedgerEntry.Kind.EARN,
                points=row.open_points,
                balance_after=running[row.member_id],
                description=f"{purchase.partner.name} {purchase.external_id}"[:500],
                purchase_id=row.purchase_id,
                created_at=at,
            )
        )
    entries_insert(entries)
    PointLot.objects.bulk_create(
        PointLot(
            member_id=entry.member_id,
            entry=entry,
            points=entry.points,
            remaining=entry.points,
            earned_at=at,
            expires_on=expiry_from(row.available_on),
        )
        for entry, row in zip(entries, rows, strict=True)
    )
    for row, entry in zip(rows, entries, strict=True):
        row.status, row.entry, row.settled_at = PendingPoints.Status.RELEASED, entry, at
    PendingPoints.objects.bulk_update(rows, ["status", "entry", "settled_at"])
    _tiers_after_release(list(totals), at=at)
    return [
        Released(
            member_id=member_id,
            points=totals[member_id],
            purchases=counts[member_id],
            balance=balances[member_id],
            pending=pending[member_id][0],
        )
        for member_id in totals
    ]


def _tiers_after_release(member_ids: list[int], *, at: datetime) -> None:
    """The upgrades released points earn, as a purchase's would: their qualifying points count
    from now (members read after their lock; one query for all their points)."""
    members = Member.objects.select_related("tier").in_bulk(member_ids)
    candidates = [member for member in members.values() if any(higher_tiers(member))]
    if not candidates:
        return
    qualifying = qualifying_points_many(member_ids=[m.pk for m in candidates], at=at)
    wanted = event_wanted("tier.changed")
    for member in candidates:
        change = tier_upgrade_if_earned(
            member=member, at=at, qualifying=qualifying.get(member.pk, 0)
        )
        if change is not None and wanted:
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


# --- cancelling: a refund inside the window, a closing ------------------------------------------


def pending_refund(*, member: Member, purchase: Purchase, points: int, at: datetime) -> int:
    """In a refund's transaction (the member's row and the purchase locked): how many of the
    `points` the refund undoes were cancelled while still pending.

    Before `available_on` they are cancelled (the member never could spend them: no debt). On or
    after it, what the job has not released yet is released now, and 0 is returned: the refund
    takes the points back from the balance as refunds always do."""
    row = (
        PendingPoints.objects.filter(purchase_id=purchase.pk, status=PENDING)
        .select_related("purchase__partner")
        .first()
    )
    if row is None:
        return 0
    if row.available_on <= timezone.localdate(at):
        for item in _release([row], at=at):
            member.points_balance, member.points_pending = item.balance, item.pending
        return 0
    take = min(points, row.open_points)
    if take <= 0:
        return 0
    row.cancelled += take
    fields = ["cancelled"]
    if row.cancelled == row.points:
        row.status, row.settled_at = PendingPoints.Status.CANCELLED, at
        fields += ["status", "settled_at"]
    row.save(update_fields=fields)
    changed = _pending_apply({member.pk: -take})
    if member.pk not in changed:
        raise LedgerInconsistent()
    member.points_pending = changed[member.pk][0]
    return take


def pending_cancel_all(*, member: Member, at: datetime | None = None) -> int:
    """Cancel whatever an open member whose row is locked still has pending (their membership
    closes); the points cancelled. No query when nothing is pending."""
    if not member.points_pending:
        return 0
    at = write_time(at)
    rows = PendingPoints.objects.filter(member_id=member.pk, status=PENDING)
    total = rows.aggregate(total=Sum(F("points") - F("cancelled")))["total"] or 0
    rows.update(cancelled=F("points"), status=PendingPoints.Status.CANCELLED, settled_at=at)
    if member.pk not in _pending_apply({member.pk: -total}):
        raise LedgerInconsistent()
    member.points_pending = 0
    return total


# --- reads: what the member, the history and the API show ---------------------------------------


def pending_by_day(*, member: Member, limit: int = 12) -> list[dict]:
    """The member's pending points summed per day they become available, soonest first. No
    query for a member with nothing pending (Member.points_pending)."""
    if not member.points_pending:
        return []
    rows = (
        PendingPoints.objects.filter(member_id=member.pk, status=PENDING)
        .values("available_on")
        .annotate(points=Sum(F("points") - F("cancelled")))
        .order_by("available_on")[:limit]
    )
    return [{"points": row["points"], "available_on": row["available_on"]} for row in rows]


def pending_open(*, member: Member) -> QuerySet[PendingPoints]:
    """The member's open pending points, soonest available first, each with its purchase and
    partner (the history page, the API ledger). No query with nothing pending."""
    if not member.points_pending:
        return PendingPoints.objects.none()
    return (
        PendingPoints.objects.filter(member_id=member.pk, status=PENDING)
        .select_related("purchase__partner")
        .order_by("available_on", "id")
    )


# --- the daily job's step -----------------------------------------------------------------------


def release_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members with pending points due by `day`: a scan of the open rows' index by day."""
    due = PendingPoints.objects.filter(status=PENDING, available_on__lte=day)
    return keyset(due, size, "member_id")


def release_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Release the batch's pending points due by `day` (closed members are skipped)."""
    released = pending_release_many(member_ids=ids, today=day)
    counts = Counts(considered=len(ids), paid=len(released), skipped=len(ids) - len(released))
    counts.details.update(
        points_released=sum(item.points for item in released),
        purchases_released=sum(item.purchases for item in released),
    )
    return counts
