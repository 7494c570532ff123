"""Every change of points, as one transaction per business action.

How a balance changes (the ledger invariants in docs/ARCHITECTURE.md):
- the member's row is locked first, by the conditional UPDATE that applies the delta
  (``balance = balance + d WHERE balance + d >= 0``) or by SELECT ... FOR UPDATE where the
  amount depends on the balance (reversals); lots are only touched under that lock, so two
  writers on one member queue up instead of overdrawing, and locks are always taken in the
  same order (member, then lots), so they cannot deadlock;
- a credit creates a lot; a debit takes from the soonest-expiring lots and records which
  (LotMovement); so the balance, the sum of entries and the sum of lot remainders stay equal.
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NoReturn

from babel.numbers import list_currencies
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, IntegerField, Q, Sum, Value, When, Window
from django.utils import timezone

from accounts.errors import MemberNotActive, MemberNotFound, PartnerNotActive
from accounts.models import Member, Partner
from loyalty.base.errors import (
    InvalidAmount,
    InvalidInput,
    NotAllowed,
    ReasonRequired,
    UnknownCurrency,
)
from webhooks.models import WebhookEndpoint
from webhooks.services import event_emit

from . import earning
from .errors import (
    CurrencyMismatch,
    DuplicatePurchase,
    DuplicateRefund,
    InsufficientPoints,
    InvalidPoints,
    InvalidPurchase,
    LedgerInconsistent,
    RefundExceedsPurchase,
)
from .models import (
    LedgerEntry,
    LotMovement,
    PointLot,
    Purchase,
    PurchaseLine,
    Refund,
    RefundLine,
    Tier,
    TierChange,
)

MAX_POINTS = 10**12
MAX_AMOUNT = Decimal("9999999999.99")
CURRENCIES = frozenset(list_currencies())


# --- validation helpers ---------------------------------------------------------------------


def _positive_points(points) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise InvalidPoints()
    return points


def _amount(value, *, allow_zero: bool = False) -> Decimal:
    """A money amount as Decimal: finite, at most two decimals, within range. Never a float."""
    if isinstance(value, (float, bool)):
        raise InvalidAmount()
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidAmount() from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidAmount()
    if amount < 0 or (amount == 0 and not allow_zero) or amount > MAX_AMOUNT:
        raise InvalidAmount()
    return amount.quantize(Decimal("0.01"))


def _currency(code) -> str:
    if not isinstance(code, str) or code.upper() not in CURRENCIES or len(code) != 3:
        raise UnknownCurrency()
    return code.upper()


def _now(at: datetime | None) -> datetime:
    if at is None:
        return timezone.now()
    if timezone.is_naive(at):
        raise InvalidPurchase("Times must carry a time zone.")
    return at


def default_expiry(earned_at: datetime) -> date | None:
    """The expiry policy: points expire LOYALTY_POINTS_EXPIRY_MONTHS after they are earned."""
    months = settings.LOYALTY_POINTS_EXPIRY_MONTHS
    if not months:
        return None
    return _months_after(timezone.localdate(earned_at), months)


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


# --- statements the partner API runs on every request -----------------------------------------


class PreparedSQL:
    """One SQL statement of the hot path, written with %(name)s parameters.

    On PostgreSQL it is PREPAREd once per database connection and then EXECUTEd, so the server
    parses and plans it once instead of on every request (planning the purchase's statement
    costs the server more than running it). A prepared statement lives as long as the
    connection (CONN_MAX_AGE) and survives rollbacks; a new connection prepares it again.
    Where a pooler in transaction mode sits between Django and PostgreSQL, a statement prepared
    on one server connection is not there on the next: such set-ups say so with the database
    setting DISABLE_SERVER_SIDE_CURSORS (which they need anyway), and then, as on other
    databases, the statement runs as plain SQL. A pooler in session mode may hand a new
    connection of ours a server connection that has the statement already: its name carries a
    digest of its SQL, so a statement of that name is this very one (not another release's) and
    is used as it is.
    """

    # the raw connections (psycopg2) -> the names prepared on each
    _prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    # raw connections whose prepared statements outlived a change of the tables they read
    _stale: weakref.WeakSet = weakref.WeakSet()

    def __init__(self, name: str, sql: str, types: Mapping[str, str]):
        self.sql = sql.strip()
        self.names: list[str] = []

        def number(match: re.Match) -> str:
            if match[1] not in self.names:
                self.names.append(match[1])
            return f"${self.names.index(match[1]) + 1}"

        numbered = re.sub(r"%\((\w+)\)s", number, self.sql)
        declared = f"({', '.join(types[key] for key in self.names)}) AS {numbered}"
        # the digest covers the parameters' types too: another release's statement of the same
        # SQL with other types has another name
        self.name = name = f"{name}_{hashlib.sha256(declared.encode()).hexdigest()[:12]}"
        self.prepare_sql = f"PREPARE {name} {declared}"
        self.execute_sql = f"EXECUTE {name} ({', '.join(['%s'] * len(self.names))})"

    def execute(self, cursor, params: Mapping[str, object]) -> None:
        db = cursor.db
        if db.vendor != "postgresql" or db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            cursor.execute(self.sql, params)
            return
        raw = db.connection
        prepared = self._prepared.setdefault(raw, set())
        if self.name not in prepared:
            if raw in self._stale:
                self._stale.discard(raw)
                self._prepare_afresh(cursor, prepared)
            else:
                cursor.execute(_PREPARED_ALREADY, [self.name])
                if cursor.fetchone() is None:
                    cursor.execute(self.prepare_sql)
                prepared.add(self.name)
        values = [params[key] for key in self.names]
        try:
            cursor.execute(self.execute_sql, values)
        except DatabaseError as exc:
            # A migration changed a column a prepared statement returns: PostgreSQL refuses to
            # run any statement prepared before it ("cached plan must not change result
            # type"). Each is prepared afresh on its next use on this connection.
            if getattr(exc.__cause__, "pgcode", None) != "0A000":
                raise
            prepared.clear()
            if db.in_atomic_block:  # the transaction failed with it: the caller runs again
                self._stale.add(raw)
                raise StalePreparedStatement(self.name) from exc
            # in autocommit only this statement failed: prepare afresh and run it now
            self._prepare_afresh(cursor, prepared)
            cursor.execute(self.execute_sql, values)

    def _prepare_afresh(self, cursor, prepared: set) -> None:
        """Drop every statement the connection prepared (all were prepared before the change)
        and prepare this one."""
        cursor.execute(f"DEALLOCATE ALL; {self.prepare_sql}")
        prepared.add(self.name)


_PREPARED_ALREADY = "SELECT 1 FROM pg_prepared_statements WHERE name = %s"


class StalePreparedStatement(DatabaseError):
    """A prepared statement met a changed table and failed, and its transaction with it; the
    next use prepares the connection's statements afresh, so the work can simply run again
    (loyalty.core.api.base.IdempotentRun does, once)."""


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
    _apply_delta_refused(member_id)


def _apply_delta_refused(member_id: int) -> NoReturn:
    """Nothing changed; say why (the failure path may take an extra query)."""
    state = Member.objects.filter(pk=member_id).values_list("status", flat=True).first()
    if state is None:
        raise MemberNotFound()
    if state == Member.Status.CLOSED:
        raise MemberNotActive()
    raise InsufficientPoints()


def _lock_member(member_id: int) -> Member:
    try:
        member = Member.objects.select_for_update().get(pk=member_id)
    except Member.DoesNotExist:
        raise MemberNotFound() from None
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive()
    return member


def _lock_members(member_ids) -> list[tuple[int, str, str]]:
    """Lock many members' rows in id order (one order for every writer of several members, so
    two batches cannot deadlock); their (id, status, member number), closed ones included."""
    return list(
        Member.objects.select_for_update()
        .filter(pk__in=list(member_ids))
        .order_by("pk")
        .values_list("pk", "status", "member_number")
    )


def _apply_deltas(deltas: dict[int, int]) -> dict[int, int]:
    """_apply_delta for many members in one statement: {member id: new balance}.

    The same conditional UPDATE, joined to a list of (member, delta). Callers lock the rows first
    with _lock_members (id order). A member missing from the result is closed or gone, or would
    go below zero; the caller rolls back.
    """
    if not deltas:
        return {}
    table = Member._meta.db_table
    ids = sorted(deltas)
    rows = ", ".join(["(%s, %s)"] * len(ids))
    params = [value for member_id in ids for value in (member_id, deltas[member_id])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH delta (member_id, points) AS (VALUES {rows}) "
            f"UPDATE {table} SET points_balance = {table}.points_balance + delta.points "
            f"FROM delta WHERE {table}.id = delta.member_id "
            f"AND {table}.points_balance + delta.points >= 0 AND {table}.status <> %s "
            f"RETURNING {table}.id, {table}.points_balance",
            [*params, Member.Status.CLOSED],
        )
        return dict(cursor.fetchall())


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
        LotMovement(entry=entry, lot=lot, points=points) for lot, points in changes if points
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
        return _credit(
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


def _credit(
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
    points = _positive_points(points)
    at = _now(at)
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
    points = _positive_points(points)
    at = _now(at)
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
    return entry


@dataclass(frozen=True)
class Reversal:
    entry: LedgerEntry | None
    points_reversed: int
    points_unrecovered: int


def _reverse_locked(
    *,
    member: Member,
    entry: LedgerEntry,
    points: int,
    cause,
    description: str,
    at: datetime,
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
    at = _now(at)
    member = _lock_member(entry.member_id)
    already = (
        LedgerEntry.objects.filter(reverses=entry).aggregate(total=Sum("points"))["total"] or 0
    )
    open_points = abs(entry.points) - abs(already)
    points = open_points if points is None else _positive_points(points)
    if points <= 0 or points > open_points:
        raise InvalidPoints("There is nothing left of that entry to reverse.")
    if cause is None and entry.purchase_id is None:
        cause = entry
    return _reverse_locked(
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


@transaction.atomic
def points_expire(*, member: Member, today: date | None = None) -> list[LedgerEntry]:
    """Expire what remains of the member's lots whose expiry date has come (expires_on <= today).

    A paused member's points do not expire while the pause lasts.
    """
    today = today or timezone.localdate()
    locked = _lock_member(member.pk)
    if locked.status == Member.Status.PAUSED:
        return []
    entries, _expired = _expire_due_lots(numbers={locked.pk: locked.member_number}, today=today)
    if entries:
        member.points_balance = entries[-1].balance_after
    return entries


# --- set-based ledger writes (the scheduled jobs) ----------------------------------------------
#
# The same writes as points_credit and points_expire, for a batch of members with a few
# statements in all instead of a few per member: lock the members in id order, apply every delta
# with one conditional UPDATE (_apply_deltas), insert the entries, lots and movements in bulk.
# The invariants are the same: balance == sum of entries == sum of lot remainders.


@dataclass(frozen=True)
class Credit:
    """One member's credit in points_credit_many, with its cause (a saved object)."""

    member_id: int
    points: int
    cause: object
    description: str = ""


def _bulk_insert_entries(entries: list[LedgerEntry]) -> list[LedgerEntry]:
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
    at = _now(at)
    for credit in credits:
        _positive_points(credit.points)
        if credit.cause is None or credit.cause.pk is None:
            raise InvalidInput("Every credit names its cause.")
    member_ids = [credit.member_id for credit in credits]
    if len(set(member_ids)) != len(member_ids):
        raise InvalidInput("One credit per member.")
    if expires_on == "policy":
        expires_on = default_expiry(at)
    with transaction.atomic():
        _lock_members(member_ids)
        balances = _apply_deltas({c.member_id: c.points for c in credits})
        if len(balances) != len(credits):
            raise MemberNotActive()
        entries = _bulk_insert_entries(
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


@dataclass(frozen=True)
class Expired:
    """What points_expire_many took from one member."""

    member_id: int
    member_number: str
    points: int
    balance: int
    lots: int


def points_expire_many(*, member_ids: Sequence[int], today: date | None = None) -> list[Expired]:
    """points_expire for many members: what remains of their lots due by `today` expires, one
    expire entry per lot (its cause is the lot), with a few statements for the whole batch.

    Paused members are skipped (their points do not expire while the pause lasts), and so are
    closed ones.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = _lock_members(member_ids)
        numbers = {pk: number for pk, status, number in locked if status == Member.Status.ACTIVE}
        _entries, expired = _expire_due_lots(numbers=numbers, today=today)
    return expired


def _expire_due_lots(
    *, numbers: dict[int, str], today: date
) -> tuple[list[LedgerEntry], list[Expired]]:
    """The expiry itself, for members already locked and allowed to expire ({id: number}): one
    entry and one movement per due lot, one conditional UPDATE of the balances, and a
    `points.expired` event per member."""
    lots = list(
        PointLot.objects.filter(member_id__in=list(numbers), remaining__gt=0, expires_on__lte=today)
        .order_by("member_id", "expires_on", "id")
        .values_list("id", "member_id", "remaining", "expires_on")
    )
    if not lots:
        return [], []
    totals: dict[int, int] = {}
    counts: dict[int, int] = {}
    for _lot_id, member_id, remaining, _expires_on in lots:
        totals[member_id] = totals.get(member_id, 0) + remaining
        counts[member_id] = counts.get(member_id, 0) + 1
    balances = _apply_deltas({member_id: -total for member_id, total in totals.items()})
    if len(balances) != len(totals):
        raise LedgerInconsistent()
    at = timezone.now()
    lot_type = ContentType.objects.get_for_model(PointLot)
    running = {member_id: balances[member_id] + total for member_id, total in totals.items()}
    entries = []
    for lot_id, member_id, remaining, expires_on in lots:
        running[member_id] -= remaining
        entries.append(
            LedgerEntry(
                member_id=member_id,
                kind=LedgerEntry.Kind.EXPIRE,
                points=-remaining,
                balance_after=running[member_id],
                description=f"Expired on {expires_on.isoformat()}",
                cause_type=lot_type,
                cause_id=lot_id,
                created_at=at,
            )
        )
    _bulk_insert_entries(entries)
    lot_ids = [lot[0] for lot in lots]
    if PointLot.objects.filter(pk__in=lot_ids, remaining__gt=0).update(remaining=0) != len(lots):
        raise LedgerInconsistent()
    LotMovement.objects.bulk_create(
        LotMovement(entry=entry, lot_id=lot[0], points=-lot[2])
        for entry, lot in zip(entries, lots, strict=True)
    )
    expired = [
        Expired(member_id, numbers[member_id], total, balances[member_id], counts[member_id])
        for member_id, total in totals.items()
    ]
    if _event_wanted("points.expired"):
        for item in expired:
            event_emit(
                event_type="points.expired",
                payload={
                    "member_number": item.member_number,
                    "points": item.points,
                    "balance": item.balance,
                    "expired_on": today.isoformat(),
                },
            )
    return entries, expired


def _event_wanted(event_type: str) -> bool:
    """Whether any active endpoint wants a program-wide event: one query for a whole batch,
    instead of event_emit's one per member when nobody listens."""
    from webhooks.models import WebhookEndpoint

    endpoints = WebhookEndpoint.objects.filter(is_active=True).only("id", "event_types")
    return any(endpoint.wants(event_type) for endpoint in endpoints)


# --- purchases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    entry: LedgerEntry | None
    points: int
    explanation: list[dict]
    tier_change: TierChange | None

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
                "amount": _amount(line.get("amount"), allow_zero=True),
                "category": category,
            }
        )
    if cleaned and sum(line["amount"] for line in cleaned) != amount:
        raise InvalidPurchase("The lines must add up to the purchase amount.")
    return cleaned


def qualifying_points(*, member_id: int, at: datetime | None = None) -> int:
    """Points earned from purchases (less their reversals) over the rolling tier window."""
    return qualifying_points_many(member_ids=[member_id], at=at).get(member_id, 0)


def qualifying_points_many(*, member_ids: Sequence[int], at: datetime | None = None) -> dict:
    """qualifying_points of many members with one query: {member id: points} (0 left out)."""
    at = at or timezone.now()
    since = at - timezone.timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
    member_ids = list(member_ids)
    if not member_ids:
        return {}
    params = {
        "earn": LedgerEntry.Kind.EARN,
        "reversal": LedgerEntry.Kind.REVERSAL,
        "since": connection.ops.adapt_datetimefield_value(since),
        "at": connection.ops.adapt_datetimefield_value(at),
    }
    with connection.cursor() as cursor:
        if len(member_ids) == 1:  # every purchase (the upgrade check): a prepared statement
            _QUALIFYING_ONE.execute(cursor, {**params, "member": member_ids[0]})
        else:
            ids = {f"m{i}": member_id for i, member_id in enumerate(member_ids)}
            cursor.execute(
                _QUALIFYING_SQL.format(members=", ".join(f"%({key})s" for key in ids)),
                {**params, **ids},
            )
        rows = cursor.fetchall()
    return {member_id: int(total) for member_id, total in rows if total and total > 0}


# What LedgerEntry.objects.filter(member_id__in=..., purchase__isnull=False,
# kind__in=[earn, reversal], created_at__gt=since, created_at__lte=at)
# .values_list("member_id").annotate(Sum("points")) compiles to, without compiling it each time.
_QUALIFYING_SQL = (
    f"SELECT member_id, SUM(points) FROM {LedgerEntry._meta.db_table} "
    "WHERE member_id IN ({members}) AND purchase_id IS NOT NULL "
    "AND kind IN (%(earn)s, %(reversal)s) AND created_at > %(since)s AND created_at <= %(at)s "
    "GROUP BY member_id"
)
_QUALIFYING_ONE = PreparedSQL(
    "loyalty_qualifying_points",
    _QUALIFYING_SQL.format(members="%(member)s"),
    {
        "member": "bigint",
        "earn": "varchar",
        "reversal": "varchar",
        "since": "timestamptz",
        "at": "timestamptz",
    },
)


def _higher_tiers(member: Member) -> tuple[list[Tier], bool]:
    """The tiers above the member's (from the process's cache, loyalty.core.selectors.tiers_by_rank)
    and whether they are in a grace period: with neither, a purchase cannot change their tier."""
    from .selectors import tiers_by_rank

    current_rank = member.tier.rank if member.tier else -1
    higher = [tier for tier in tiers_by_rank() if tier.rank > current_rank]
    in_grace = getattr(member, "tier_grace_until", None) is not None and member.tier is not None
    return higher, in_grace


def _upgrade_if_earned(
    *, member: Member, at: datetime, qualifying: int | None = None
) -> TierChange | None:
    """Upgrades happen at once; downgrades only in the monthly review, with grace.

    A member already in the top tier and not in a grace period has nothing to gain: no query at
    all. `qualifying`: the member's qualifying points at `at` when the caller has them.
    """
    higher, in_grace = _higher_tiers(member)
    if not higher and not in_grace:
        return None
    points = qualifying if qualifying is not None else qualifying_points(member_id=member.pk, at=at)
    reached = [tier for tier in higher if tier.qualifying_points <= points]
    # A copy: the cached tiers are shared by the process's threads.
    best = _tier_copy(max(reached, key=lambda tier: tier.rank)) if reached else None
    if best is None:
        if (
            getattr(member, "tier_grace_until", None) is not None
            and member.tier is not None
            and points >= member.tier.qualifying_points
        ):
            # Earned the tier back during the review's grace period: the grace ends.
            Member.objects.filter(pk=member.pk).update(tier_grace_until=None)
            member.tier_grace_until = None
        return None
    Member.objects.filter(pk=member.pk).update(
        tier=best, tier_since=timezone.localdate(at), tier_grace_until=None
    )
    member.tier_grace_until = None
    change = TierChange.objects.create(
        member_id=member.pk,
        from_tier=member.tier,
        to_tier=best,
        qualifying_points=points,
        reason="upgrade",
        created_at=at,
    )
    member.tier = best
    return change


def _tier_copy(tier: Tier) -> Tier:
    fields = Tier._meta.concrete_fields
    return Tier.from_db(
        tier._state.db,
        [field.attname for field in fields],
        [getattr(tier, field.attname) for field in fields],
    )


def record_purchase(
    *,
    partner: Partner,
    member: Member,
    external_id: str,
    amount,
    currency: str,
    occurred_at: datetime | None = None,
    lines: list[dict] | None = None,
    at: datetime | None = None,
    payment_fingerprint: str | None = None,
    savepoint: bool = True,
) -> PurchaseResult:
    """Record a partner's purchase and credit what the earning rules and tier give.

    Returns the points with an explanation of which rules fired and why. The same external id
    from the same partner is refused with DuplicatePurchase; nothing is half-written.
    `payment_fingerprint` is the partner's opaque token of the means of payment, if any.
    `savepoint=False` (inside a transaction) takes no savepoint: a failure after a write then
    marks the whole transaction for rollback, so only for a caller that rolls it back and asks
    again with a savepoint (the partner API does).
    """
    external_id = str(external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise InvalidPurchase("The purchase id must have 1 to 100 characters.")
    amount = _amount(amount)
    currency = _currency(currency)
    if not partner.is_active:
        raise PartnerNotActive()
    if currency != partner.currency:
        raise CurrencyMismatch()
    at = _now(at)
    occurred_at = _now(occurred_at) if occurred_at is not None else at
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
    if member.status == Member.Status.CLOSED:
        raise MemberNotActive()
    try:
        with transaction.atomic(savepoint=savepoint):
            return _record_purchase(
                partner=partner,
                member=member,
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


def _record_purchase(
    *, partner, member, external_id, amount, currency, occurred_at, lines, at, payment_fingerprint
):
    from .selectors import earning_rules_active

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
    entry = None
    partner_endpoints = True  # whether the partner may have a webhook endpoint: ask event_emit
    qualifying = None  # the tier points, when the purchase's statement counted them
    if 0 < calc.points <= MAX_POINTS and connection.vendor == "postgresql":
        # With the member's row locked before this statement (member_for_purchase), its
        # snapshot holds all their entries: it can count the tier points too.
        count_since = None
        if getattr(member, "row_locked", False) and any(_higher_tiers(member)):
            count_since = at - timezone.timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
        entry, partner_endpoints, qualifying = _purchase_insert_and_credit(
            purchase=purchase, member=member, description=description, count_since=count_since
        )
    else:
        purchase.save(force_insert=True)
    if lines:
        PurchaseLine.objects.bulk_create(PurchaseLine(purchase=purchase, **line) for line in lines)
    change = None
    if calc.points:
        if entry is None:
            entry = _credit(
                member=member,
                points=calc.points,
                kind=LedgerEntry.Kind.EARN,
                purchase=purchase,
                description=description,
                at=at,
            )
        change = _upgrade_if_earned(member=member, at=at, qualifying=qualifying)
        if partner_endpoints:  # (event_emit would find no endpoint and write nothing)
            event_emit(
                event_type="points.earned",
                partner=partner,
                payload={
                    "member_number": member.member_number,
                    "purchase": external_id,
                    "points": calc.points,
                    "balance": entry.balance_after,
                },
            )
        if change is not None:
            event_emit(
                event_type="tier.changed",
                payload={
                    "member_number": member.member_number,
                    "from": change.from_tier.code if change.from_tier else None,
                    "to": change.to_tier.code,
                    "reason": change.reason,
                },
            )
    else:
        # Keep the closed-member rule even when nothing is earned.
        _lock_member(member.pk)
    # Under the member's row lock: a pending referral of this member may qualify (one query
    # when there is none). A member looked up with accounts.services.member_for_purchase says
    # whether they were ever referred; one who was not never will be (referrals start only at
    # enrolment), so no query.
    if getattr(member, "was_referred", True):
        from referrals.services import referral_check_purchase

        referral_check_purchase(purchase=purchase)
    return PurchaseResult(purchase, entry, calc.points, calc.explanation, change)


def _purchase_insert_and_credit(
    *, purchase: Purchase, member: Member, description: str, count_since: datetime | None = None
) -> tuple[LedgerEntry, bool, int | None]:
    """On PostgreSQL: insert the purchase and credit its points in one statement; the entry,
    whether the partner has an active webhook endpoint (if not, its points.earned event has no
    one to go to, and event_emit need not look), and with `count_since` the member's qualifying
    points after this purchase (qualifying_points; only exact when the member's row was locked
    before this statement, so that its snapshot holds all their entries).

    The same writes as purchase.save() followed by _credit() (the conditional balance UPDATE,
    which takes the member's row lock, the earn entry and its lot), in one round trip. A
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
        _apply_delta_refused(member.pk)
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


@transaction.atomic
def refund_purchase(
    *,
    purchase: Purchase,
    external_id: str,
    amount=None,
    lines: list[dict] | None = None,
    currency: str | None = None,
    at: datetime | None = None,
) -> Refund:
    """Record a refund and take back the points it undoes, never below a zero balance.

    The points to take back are the purchase's points in proportion to all refunded so far, so
    several partial refunds add up to exactly what the purchase earned. What the member already
    spent is kept on the refund as points_unrecovered.
    """
    external_id = str(external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise InvalidPurchase("The refund id must have 1 to 100 characters.")
    if currency is not None and _currency(currency) != purchase.currency:
        raise CurrencyMismatch()
    at = _now(at)
    member = _lock_member(purchase.member_id)
    # Lock the purchase too (after the member, the one lock order), so refunds of one purchase
    # queue up and cannot together refund more than it was.
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    totals = purchase.refunds.aggregate(
        amount=Sum("amount"), reversed=Sum("points_reversed"), lost=Sum("points_unrecovered")
    )
    refunded = (totals["amount"] or Decimal(0)).quantize(Decimal("0.01"))
    left = purchase.amount - refunded
    refund_lines = []
    if lines is not None:
        if amount is not None:
            raise InvalidPurchase("Give an amount or lines, not both.")
        refund_lines = _refund_lines(purchase, lines)
        amount = sum((line.amount for line in refund_lines), Decimal(0))
    amount = left if amount is None else _amount(amount)
    if left <= 0 or amount > left:
        raise RefundExceedsPurchase()
    if purchase.refunds.filter(external_id=external_id).exists():
        raise DuplicateRefund()
    settled = (totals["reversed"] or 0) + (totals["lost"] or 0)
    target = (Decimal(purchase.points_earned) * (refunded + amount) / purchase.amount).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    points = int(target) - settled
    refund = Refund.objects.create(
        purchase=purchase, external_id=external_id, amount=amount, created_at=at
    )
    if refund_lines:
        for line in refund_lines:
            line.refund = refund
        RefundLine.objects.bulk_create(refund_lines)
    earn_entry = (
        LedgerEntry.objects.filter(purchase=purchase, kind=LedgerEntry.Kind.EARN).first()
        if points > 0
        else None
    )
    if earn_entry is not None:
        result = _reverse_locked(
            member=member,
            entry=earn_entry,
            points=points,
            cause=refund,
            description=f"Refund {external_id} of {purchase.external_id}",
            at=at,
        )
        refund.points_reversed = result.points_reversed
        refund.points_unrecovered = result.points_unrecovered
        refund.save(update_fields=["points_reversed", "points_unrecovered"])
        event_emit(
            event_type="points.reversed",
            partner=purchase.partner,
            payload={
                "member_number": member.member_number,
                "purchase": purchase.external_id,
                "refund": external_id,
                "points": result.points_reversed,
                "points_unrecovered": result.points_unrecovered,
                "balance": member.points_balance,
            },
        )
    # A referral this purchase qualified may be reversed by the refund (within its window).
    from referrals.services import referral_check_refund

    referral_check_refund(refund=refund)
    return refund


def _refund_lines(purchase: Purchase, lines) -> list[RefundLine]:
    """Turn [{sku, quantity}] into refund lines priced from the purchase lines.

    Each unit costs its line's amount / quantity; the refund that takes a line's last units
    gets what is left of its amount, so line refunds add up to the line exactly.
    """
    if not isinstance(lines, (list, tuple)) or not lines or len(lines) > 500:
        raise InvalidPurchase("Refund lines must be a list of 1 to 500 items.")
    bought = list(purchase.lines.order_by("id"))
    done = {
        row["purchase_line_id"]: (row["quantity"], row["amount"])
        for row in RefundLine.objects.filter(purchase_line__purchase=purchase)
        .values("purchase_line_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"))
    }
    taken: dict[int, int] = {}
    result: list[RefundLine] = []
    for wanted in lines:
        sku = str(wanted.get("sku") or "").strip() if isinstance(wanted, dict) else ""
        quantity = wanted.get("quantity") if isinstance(wanted, dict) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidPurchase("A refund line needs a SKU and a positive quantity.")
        candidates = [line for line in bought if line.sku == sku]
        if not candidates:
            raise InvalidPurchase(f"The purchase has no line with SKU {sku!r}.")
        for line in candidates:
            if not quantity:
                break
            done_qty, done_amount = done.get(line.pk, (0, Decimal(0)))
            free = line.quantity - done_qty - taken.get(line.pk, 0)
            take = min(free, quantity)
            if take <= 0:
                continue
            taken[line.pk] = taken.get(line.pk, 0) + take
            quantity -= take
            if done_qty + taken[line.pk] == line.quantity:
                earlier = sum(
                    (r.amount for r in result if r.purchase_line_id == line.pk), Decimal(0)
                )
                # SQLite sums decimals as floats, hence the quantize.
                price = (line.amount - done_amount - earlier).quantize(Decimal("0.01"))
            else:
                price = (line.amount * take / line.quantity).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
            result.append(RefundLine(purchase_line=line, quantity=take, amount=price))
        if quantity:
            raise RefundExceedsPurchase("More units than were bought (or are left) of that SKU.")
    return result
