"""The points ledger: every change of a member's points, as one transaction per business action.

How a balance changes (the ledger invariants in docs/ARCHITECTURE.md):
- the member's row is locked first, by the conditional UPDATE that applies the delta
  (``balance = balance + d WHERE balance + d >= 0``) or by SELECT ... FOR UPDATE where the
  amount depends on the balance (reversals); lots are only touched under that lock, so two
  writers on one member queue up instead of overdrawing, and locks are always taken in the
  same order (member, then lots), so they cannot deadlock;
- a credit creates a lot; a debit takes from the soonest-expiring lots and records which
  (LotMovement); so the balance, the sum of entries and the sum of lot remainders stay equal.

Purchases (purchases.py), refunds (refunds.py) and expiry (expiry.py) write through the
helpers here; the set-based twins for the scheduled jobs (points_credit_many, balances_apply)
keep the same invariants for a whole batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NoReturn

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Case, F, IntegerField, Q, Sum, Value, When, Window
from django.utils import timezone

from accounts.errors import MemberNotActive, MemberNotFound
from accounts.models import Member
from loyalty.base import metrics
from loyalty.base.errors import InvalidInput, NotAllowed, ReasonRequired

from .errors import InsufficientPoints, InvalidPoints, InvalidPurchase, LedgerInconsistent
from .models import LedgerEntry, LotMovement, PointLot, Purchase

MAX_POINTS = 10**12


def positive_points(points) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise InvalidPoints()
    return points


def write_time(at: datetime | None) -> datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise InvalidPurchase("Times must carry a time zone.")
    return at


def default_expiry(earned_at: datetime) -> date | None:
    """The expiry policy: points expire LOYALTY_POINTS_EXPIRY_MONTHS after they are earned."""
    return expiry_from(timezone.localdate(earned_at))


def expiry_from(day: date) -> date | None:
    """The expiry policy counted from a local day (pending points: the day they became
    available, loyalty.core.pending)."""
    months = settings.LOYALTY_POINTS_EXPIRY_MONTHS
    if not months:
        return None
    return _months_after(day, months)


@functools.lru_cache(maxsize=64)
def _months_after(day: date, months: int) -> date:
    # every purchase of a day asks the same (relativedelta is slow to build)
    return day + relativedelta(months=months)


def _cause_fields(cause) -> dict:
    if cause is None:
        return {}
    return {
        "cause_type": ContentType.objects.get_for_model(cause),
        "cause_id": cause.pk,
    }


# --- the balance ------------------------------------------------------------------------------


def _apply_delta(member_id: int, delta: int) -> int:
    """Apply a delta to an open member's balance with one conditional UPDATE; the new balance.

    The UPDATE also takes the member's row lock for the rest of the transaction.
    """
    table = Member._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET points_balance = points_balance + %s "
            "WHERE id = %s AND points_balance + %s >= 0 AND status <> %s "
            "RETURNING points_balance",
            [delta, member_id, delta, Member.Status.CLOSED],
        )
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    refuse_balance_change(member_id)


def refuse_balance_change(member_id: int) -> NoReturn:
    """Nothing changed; say why (the failure path may take an extra query). Too few points
    names the points still pending in a return window, if any (loyalty.core.pending)."""
    state = Member.objects.filter(pk=member_id).values_list("status", "points_pending").first()
    if state is None:
        raise MemberNotFound()
    if state[0] == Member.Status.CLOSED:
        raise MemberNotActive()
    raise InsufficientPoints(points_pending=state[1]) if state[1] else InsufficientPoints()


def member_lock(member_id: int) -> Member:
    try:
        member = Member.objects.select_for_update().get(pk=member_id)
    except Member.DoesNotExist:
        raise MemberNotFound() from None
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive()
    return member


def members_lock(member_ids) -> list[tuple[int, str, str]]:
    """Lock many members' rows in id order (one order for every writer of several members, so
    two batches cannot deadlock); their (id, status, member number), closed ones included."""
    return list(
        Member.objects.select_for_update()
        .filter(pk__in=list(member_ids))
        .order_by("pk")
        .values_list("pk", "status", "member_number")
    )


def balances_apply(deltas: dict[int, int]) -> dict[int, int]:
    """_apply_delta for many members in one statement: {member id: new balance}.

    The same conditional UPDATE, joined to a list of (member, delta). Callers lock the rows first
    with members_lock (id order). A member missing from the result is closed or gone, or would
    go below zero; the caller rolls back.
    """
    changed = member_counts_add("points_balance", deltas)
    return {member_id: balance for member_id, (balance, _) in changed.items()}


def member_counts_add(column: str, deltas: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Add each member's delta to a count column of theirs (the balance, the pending points) in
    one conditional UPDATE: never below zero, never for a closed member. Returns {member id:
    (the column's new value, the balance)} of the rows changed; the UPDATE takes their locks."""
    if not deltas:
        return {}
    table = Member._meta.db_table
    ids = sorted(deltas)
    rows = ", ".join(["(%s, %s)"] * len(ids))
    params = [value for member_id in ids for value in (member_id, deltas[member_id])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH delta (member_id, points) AS (VALUES {rows}) "
            f"UPDATE {table} SET {column} = {table}.{column} + delta.points "
            f"FROM delta WHERE {table}.id = delta.member_id "
            f"AND {table}.{column} + delta.points >= 0 AND {table}.status <> %s "
            f"RETURNING {table}.id, {table}.{column}, {table}.points_balance",
            [*params, Member.Status.CLOSED],
        )
        return {member_id: (value, balance) for member_id, value, balance in cursor.fetchall()}


def _take_from_lots(
    *, member_id: int, points: int, prefer_entry_id: int | None = None
) -> list[tuple[PointLot, int]]:
    """Reduce the member's open lots by `points`, soonest-expiring first; the lots touched.

    Called under the member's row lock, so no other writer changes these lots meanwhile. Only
    the lots needed are read: a running total over the ordered lots stops at the amount.
    """
    order = [F("expires_on").asc(nulls_last=True), F("earned_at").asc(), F("id").asc()]
    if prefer_entry_id is not None:
        first = Case(
            When(entry_id=prefer_entry_id, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        order = [first.asc(), *order]
    lots = list(
        PointLot.objects.filter(member_id=member_id, remaining__gt=0)
        .annotate(running=Window(Sum("remaining"), order_by=order))
        .filter(running__lt=points + F("remaining"))
        .order_by(*order)
    )
    taken: list[tuple[PointLot, int]] = []
    left = points
    for lot in lots:
        take = min(lot.remaining, left)
        lot.remaining -= take
        taken.append((lot, take))
        left -= take
        if not left:
            break
    if left:
        raise LedgerInconsistent()
    PointLot.objects.bulk_update([lot for lot, _ in taken], ["remaining"])
    return taken


def _record_movements(entry: LedgerEntry, changes: Sequence[tuple[PointLot, int]]) -> None:
    LotMovement.objects.bulk_create(
        LotMovement(entry=entry, member_id=entry.member_id, lot=lot, points=points)
        for lot, points in changes
        if points
    )


# --- ledger services ---------------------------------------------------------------------------


def points_credit(
    *,
    member: Member,
    points: int,
    kind: str,
    cause=None,
    purchase: Purchase | None = None,
    description: str = "",
    expires_on: date | None | str = "policy",
    at: datetime | None = None,
    staff_user=None,
    reason: str = "",
) -> LedgerEntry:
    """Add points as a new lot. `expires_on` defaults to the expiry policy; None never expires."""
    with transaction.atomic():
        return points_credit_in_transaction(
            member=member,
            points=points,
            kind=kind,
            cause=cause,
            purchase=purchase,
            description=description,
            expires_on=expires_on,
            at=at,
            staff_user=staff_user,
            reason=reason,
        )


def points_credit_in_transaction(
    *,
    member: Member,
    points: int,
    kind: str,
    cause=None,
    purchase: Purchase | None = None,
    description: str = "",
    expires_on: date | None | str = "policy",
    at: datetime | None = None,
    staff_user=None,
    reason: str = "",
) -> LedgerEntry:
    """points_credit without its own transaction, for services already inside one."""
    points = positive_points(points)
    at = write_time(at)
    if expires_on == "policy":
        expires_on = default_expiry(at)
    balance = _apply_delta(member.pk, points)
    entry = LedgerEntry.objects.create(
        member_id=member.pk,
        kind=kind,
        points=points,
        balance_after=balance,
        description=description[:500],
        purchase=purchase,
        staff_user=staff_user,
        reason=reason,
        created_at=at,
        **_cause_fields(cause),
    )
    PointLot.objects.create(
        member_id=member.pk,
        entry=entry,
        points=points,
        remaining=points,
        earned_at=at,
        expires_on=expires_on,
    )
    member.points_balance = balance
    return entry


@transaction.atomic
def points_debit(
    *,
    member: Member,
    points: int,
    kind: str = LedgerEntry.Kind.SPEND,
    cause=None,
    description: str = "",
    at: datetime | None = None,
    staff_user=None,
    reason: str = "",
) -> LedgerEntry:
    """Take points, soonest-expiring lots first. A short balance raises InsufficientPoints."""
    points = positive_points(points)
    at = write_time(at)
    balance = _apply_delta(member.pk, -points)
    taken = _take_from_lots(member_id=member.pk, points=points)
    entry = LedgerEntry.objects.create(
        member_id=member.pk,
        kind=kind,
        points=-points,
        balance_after=balance,
        description=description[:500],
        staff_user=staff_user,
        reason=reason,
        created_at=at,
        **_cause_fields(cause),
    )
    _record_movements(entry, [(lot, -take) for lot, take in taken])
    member.points_balance = balance
    if kind == LedgerEntry.Kind.SPEND:
        transaction.on_commit(lambda: metrics.POINTS_SPENT.inc(points))
    return entry


@dataclass(frozen=True)
class Reversal:
    entry: LedgerEntry | None
    points_reversed: int
    points_unrecovered: int


def points_reverse_locked(
    *,
    member: Member,
    entry: LedgerEntry,
    points: int,
    cause,
    at: datetime,
    description: str = "",
) -> Reversal:
    """Reverse `points` of `entry` for a member whose row is locked."""
    if entry.points < 0:
        # Give a debit back to the lots it took from (less what earlier reversals gave back),
        # so expiry dates stay what they were.
        outstanding = (
            LotMovement.objects.filter(Q(entry=entry) | Q(entry__reverses=entry))
            .values("lot_id", "lot__expires_on")
            .annotate(net=Sum("points"))
            .filter(net__lt=0)
            .order_by(F("lot__expires_on").asc(nulls_last=True), "lot_id")
        )
        lots = PointLot.objects.in_bulk([row["lot_id"] for row in outstanding])
        returned: list[tuple[PointLot, int]] = []
        left = points
        for row in outstanding:
            give = min(-row["net"], left)
            lot = lots[row["lot_id"]]
            lot.remaining += give
            returned.append((lot, give))
            left -= give
            if not left:
                break
        if left:
            raise LedgerInconsistent()
        balance = _apply_delta(member.pk, points)
        PointLot.objects.bulk_update([lot for lot, _ in returned], ["remaining"])
        reversal = LedgerEntry.objects.create(
            member_id=member.pk,
            kind=LedgerEntry.Kind.REVERSAL,
            points=points,
            balance_after=balance,
            description=description[:500],
            purchase=entry.purchase,
            reverses=entry,
            created_at=at,
            **_cause_fields(cause),
        )
        _record_movements(reversal, returned)
        member.points_balance = balance
        return Reversal(reversal, points, 0)

    # Take a credit back, but never below zero: what the member already spent is unrecovered.
    recoverable = min(points, member.points_balance)
    if not recoverable:
        return Reversal(None, 0, points)
    balance = _apply_delta(member.pk, -recoverable)
    taken = _take_from_lots(member_id=member.pk, points=recoverable, prefer_entry_id=entry.pk)
    reversal = LedgerEntry.objects.create(
        member_id=member.pk,
        kind=LedgerEntry.Kind.REVERSAL,
        points=-recoverable,
        balance_after=balance,
        description=description[:500],
        purchase=entry.purchase,
        reverses=entry,
        created_at=at,
        **_cause_fields(cause),
    )
    _record_movements(reversal, [(lot, -take) for lot, take in taken])
    member.points_balance = balance
    return Reversal(reversal, recoverable, points - recoverable)


@transaction.atomic
def points_reverse(
    *,
    entry: LedgerEntry,
    cause=None,
    points: int | None = None,
    description: str = "",
    at: datetime | None = None,
) -> Reversal:
    """Undo (part of) an entry with a new entry pointing at it.

    A debit is given back to the lots it came from. A credit is taken back only as far as the
    balance allows; the rest is returned as unrecovered, for the caller to record.
    """
    at = write_time(at)
    member = member_lock(entry.member_id)
    already = (
        LedgerEntry.objects.filter(reverses=entry).aggregate(total=Sum("points"))["total"] or 0
    )
    open_points = abs(entry.points) - abs(already)
    points = open_points if points is None else positive_points(points)
    if points <= 0 or points > open_points:
        raise InvalidPoints("There is nothing left of that entry to reverse.")
    if cause is None and entry.purchase_id is None:
        cause = entry
    return points_reverse_locked(
        member=member, entry=entry, points=points, cause=cause, description=description, at=at
    )


@transaction.atomic
def points_adjust(
    *,
    member: Member,
    points: int,
    staff_user,
    reason: str,
    at: datetime | None = None,
) -> LedgerEntry:
    """A staff correction in either direction, with a mandatory reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters.", field="reason")
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed("Only staff can adjust points.")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidPoints("Adjust by a non-zero whole number of points.")
    if points > 0:
        return points_credit(
            member=member,
            points=points,
            kind=LedgerEntry.Kind.ADJUST,
            description=reason,
            staff_user=staff_user,
            reason=reason,
            at=at,
        )
    return points_debit(
        member=member,
        points=-points,
        kind=LedgerEntry.Kind.ADJUST,
        description=reason,
        staff_user=staff_user,
        reason=reason,
        at=at,
    )


# --- set-based credits (the scheduled jobs) ----------------------------------------------------
#
# The same writes as points_credit for a batch of members, with a few statements in all instead
# of a few per member: lock the members in id order, apply every delta with one conditional
# UPDATE (balances_apply), insert the entries and lots in bulk. The invariants are the same.


@dataclass(frozen=True)
class Credit:
    """One member's credit in points_credit_many, with its cause (a saved object)."""

    member_id: int
    points: int
    cause: object
    description: str = ""


def entries_insert(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    LedgerEntry.objects.bulk_create(entries)
    if entries and entries[0].pk is None:  # backends without RETURNING on bulk insert
        raise LedgerInconsistent("The database did not return the new entries' ids.")
    return entries


def points_credit_many(
    *,
    credits: Sequence[Credit],
    kind: str,
    at: datetime | None = None,
    expires_on: date | None | str = "policy",
) -> list[LedgerEntry]:
    """points_credit for many members at once (one credit per member), each a new lot.

    All or nothing: a closed or missing member rolls the whole batch back (MemberNotActive).
    """
    if not credits:
        return []
    at = write_time(at)
    for credit in credits:
        positive_points(credit.points)
        if credit.cause is None or credit.cause.pk is None:
            raise InvalidInput("Every credit names its cause.")
    member_ids = [credit.member_id for credit in credits]
    if len(set(member_ids)) != len(member_ids):
        raise InvalidInput("One credit per member.")
    if expires_on == "policy":
        expires_on = default_expiry(at)
    with transaction.atomic():
        members_lock(member_ids)
        balances = balances_apply({c.member_id: c.points for c in credits})
        if len(balances) != len(credits):
            raise MemberNotActive()
        entries = entries_insert(
            [
                LedgerEntry(
                    member_id=c.member_id,
                    kind=kind,
                    points=c.points,
                    balance_after=balances[c.member_id],
                    description=c.description[:500],
                    created_at=at,
                    **_cause_fields(c.cause),
                )
                for c in credits
            ]
        )
        PointLot.objects.bulk_create(
            PointLot(
                member_id=entry.member_id,
                entry=entry,
                points=entry.points,
                remaining=entry.points,
                earned_at=at,
                expires_on=expires_on,
            )
            for entry in entries
        )
    return entries
