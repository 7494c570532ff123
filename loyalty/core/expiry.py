"""Expiry: points past their date expire, members hear 30 days ahead, and the daily `expiry` job.

Points expire LOYALTY_POINTS_EXPIRY_MONTHS after the local day they were earned (0: never).
Expiry takes only what remains of a lot, one `expire` entry per lot whose cause is the lot. A
paused member's points do not expire while the pause lasts. The `expiry` job (registered in
apps.py) has the steps expire_points and expiry_notices here; rewards and referrals add their
own steps (vouchers and referrals past their time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Member
from notifications.models import Message
from notifications.services import message_send
from webhooks.services import event_emit, event_wanted

from .errors import LedgerInconsistent
from .jobs import Counts, keyset
from .ledger import balances_apply, entries_insert, member_lock, members_lock
from .models import JobRun, LedgerEntry, LotMovement, PointLot

# --- the ledger's expiry -----------------------------------------------------------------------


@transaction.atomic
def points_expire(*, member: Member, today: date | None = None) -> list[LedgerEntry]:
    """Expire what remains of the member's lots whose expiry date has come (expires_on <= today).

    A paused member's points do not expire while the pause lasts.
    """
    today = today or timezone.localdate()
    locked = member_lock(member.pk)
    if locked.status == Member.Status.PAUSED:
        return []
    entries, _expired = _expire_due_lots(numbers={locked.pk: locked.member_number}, today=today)
    if entries:
        member.points_balance = entries[-1].balance_after
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
        locked = members_lock(member_ids)
        numbers = {pk: number for pk, status, number in locked if status == Member.Status.ACTIVE}
        _entries, expired = _expire_due_lots(numbers=numbers, today=today)
    return expired


def _expire_due_lots(
    *, numbers: dict[int, str], today: date, every_lot: bool = False
) -> tuple[list[LedgerEntry], list[Expired]]:
    """The expiry itself, for members already locked and allowed to expire ({id: number}): one
    entry and one movement per due lot, one conditional UPDATE of the balances, and a
    `points.expired` event per member. `every_lot`: what remains of every lot, whatever its
    date (a member closing their account, loyalty.core.closing)."""
    lots = PointLot.objects.filter(member_id__in=list(numbers), remaining__gt=0)
    if not every_lot:
        lots = lots.filter(expires_on__lte=today)
    lots = list(
        lots.order_by("member_id", "expires_on", "id").values_list(
            "id", "member_id", "remaining", "expires_on"
        )
    )
    if not lots:
        return [], []
    totals: dict[int, int] = {}
    counts: dict[int, int] = {}
    for _lot_id, member_id, remaining, _expires_on in lots:
        totals[member_id] = totals.get(member_id, 0) + remaining
        counts[member_id] = counts.get(member_id, 0) + 1
    balances = balances_apply({member_id: -total for member_id, total in totals.items()})
    if len(balances) != len(totals):
        raise LedgerInconsistent()
    at = timezone.now()
    lot_type = ContentType.objects.get_for_model(PointLot)
    running = {member_id: balances[member_id] + total for member_id, total in totals.items()}
    entries = []
    for lot_id, member_id, remaining, _expires_on in lots:
        running[member_id] -= remaining
        entries.append(
            LedgerEntry(
                member_id=member_id,
                kind=LedgerEntry.Kind.EXPIRE,
                points=-remaining,
                balance_after=running[member_id],
                cause_type=lot_type,
                cause_id=lot_id,
                created_at=at,
            )
        )
    entries_insert(entries)
    lot_ids = [lot[0] for lot in lots]
    if PointLot.objects.filter(pk__in=lot_ids, remaining__gt=0).update(remaining=0) != len(lots):
        raise LedgerInconsistent()
    LotMovement.objects.bulk_create(
        LotMovement(entry=entry, member_id=entry.member_id, lot_id=lot[0], points=-lot[2])
        for entry, lot in zip(entries, lots, strict=True)
    )
    expired = [
        Expired(member_id, numbers[member_id], total, balances[member_id], counts[member_id])
        for member_id, total in totals.items()
    ]
    if event_wanted("points.expired"):
        for item in expired:
            event_emit(
                event_type="points.expired",
                member_id=item.member_id,
                payload={
                    "member_number": item.member_number,
                    "points": item.points,
                    "balance": item.balance,
                    "expired_on": today.isoformat(),
                },
            )
    return entries, expired


# --- the daily job's steps ---------------------------------------------------------------------


def expiry_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members with lots due (expires_on <= day) that still hold points."""
    lots = PointLot.objects.filter(remaining__gt=0, expires_on__lte=day)
    return keyset(lots, size, "member_id")


def expiry_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Expire what remains of the batch's lots due by `day` (paused members keep theirs)."""
    expired = points_expire_many(member_ids=ids, today=day)
    counts = Counts(considered=len(ids), paid=len(expired), skipped=len(ids) - len(expired))
    counts.details.update(
        points_expired=sum(e.points for e in expired), lots_expired=sum(e.lots for e in expired)
    )
    return counts


def _notice_window(day: date) -> tuple[date, date]:
    """Expiry dates to tell members about on `day`: NOTICE_DAYS ahead, and those a run missed
    in the last CATCHUP_DAYS (but never a date that has already come)."""
    last = day + timedelta(days=settings.LOYALTY_EXPIRY_NOTICE_DAYS)
    first = max(last - timedelta(days=settings.LOYALTY_JOB_CATCHUP_DAYS), day + timedelta(days=1))
    return first, last


def expiry_notice_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members with points expiring in the notice window (the batch skips paused ones): an
    index-only scan of the open lots by member, with no join."""
    first, last = _notice_window(day)
    lots = PointLot.objects.filter(remaining__gt=0, expires_on__gte=first, expires_on__lte=last)
    return keyset(lots, size, "member_id")


def expiry_notice_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Tell each member of the batch, once per expiry date, how many points expire on it."""
    first, last = _notice_window(day)
    due = list(
        PointLot.objects.filter(
            member_id__in=ids,
            member__status=Member.Status.ACTIVE,
            remaining__gt=0,
            expires_on__gte=first,
            expires_on__lte=last,
        )
        .values_list("member_id", "expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("member_id", "expires_on")
    )
    keys = {f"points_expiring:{expires_on.isoformat()}" for _m, expires_on, _p in due}
    told = set(
        Message.objects.filter(
            member_id__in=ids, kind="points_expiring", dedupe_key__in=keys
        ).values_list("member_id", "dedupe_key")
    )
    todo = [
        (member_id, expires_on, points)
        for member_id, expires_on, points in due
        if (member_id, f"points_expiring:{expires_on.isoformat()}") not in told
    ]
    members = Member.objects.select_related("user").in_bulk({m for m, _d, _p in todo})
    for member_id, expires_on, points in todo:
        message_send(
            members[member_id],
            "points_expiring",
            {"points": points, "expires_on": expires_on},
            dedupe_key=f"points_expiring:{expires_on.isoformat()}",
        )
    counts = Counts(considered=len({m for m, _d, _p in due}), paid=len({m for m, _d, _p in todo}))
    counts.skipped = counts.considered - counts.paid
    counts.details.update(expiry_notices=len(todo))
    return counts
