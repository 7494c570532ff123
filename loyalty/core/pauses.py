"""Hardship pauses: a member who goes through a hard time takes a break of 1 to 6 months.

The member asks from their profile (a reason is optional); by the policy staff set
(PausePolicy) it is granted at once or waits for staff, who grant or refuse it. Staff may also
pause a membership themselves (the member admin), extend a running pause (6 months at most in
all) or end it early. A pause ends by itself on `ends_on` (the `end_pauses` step of the daily
expiry job, `pauses_batch`), and its member hears a week before.

While it runs the member's status is PAUSED: their points do not expire (expiry skips them),
their vouchers neither (rewards skips them), their tier is never lowered and its grace does not
run out (tiers.py). So that nothing falls due all at once when it ends, granting moves the
expiry dates of the member's open lots, their unused vouchers (a pause hook, registered by
rewards) and their tier grace forward by the pause's days; extending moves them by the days
added. Ending early keeps the move: the member lost no time, and a kindness is not taken back.

No date falls too soon after the return: a moved lot expires no earlier than NOTICE_DAYS after
the pause's end (so the usual 30-day notice reaches the member, who is told nothing while
paused), a voucher no earlier than a week after it. On ending, what was given during the pause
(or was overdue under an old pause without a Pause row) gets the same floor from the day it ends.

Lock order: the member's row alone first (ledger.member_lock), then the pause, then lots and
vouchers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import MemberNotFound
from accounts.models import Member
from loyalty.base.errors import InvalidInput, NotAllowed
from notifications.models import Message
from notifications.services import message_send

from . import hooks
from .errors import PauseNotOpen, PauseOpen, PauseTooSoon
from .jobs import Counts, keyset
from .ledger import member_lock
from .models import JobRun, PointLot
from .pause_models import LONGEST_MONTHS, Pause, PausePolicy

ENDING_NOTICE_DAYS = 7
VOUCHER_RETURN_DAYS = 7
OPEN = (Pause.Status.REQUESTED, Pause.Status.RUNNING)


def pause_policy() -> PausePolicy:
    """The policy's one row (created by the migration; made again if staff deleted it)."""
    return PausePolicy.objects.get_or_create(pk=1)[0]


def months_after(day: date, months: int) -> date:
    """Calendar months: 31 January + 1 month is 28 (or 29) February."""
    return day + relativedelta(months=months)


# --- what a member may ask -------------------------------------------------------------------


def open_pause(*, member: Member) -> Pause | None:
    """The member's pause that waits or runs, if any."""
    return Pause.objects.filter(member=member, status__in=OPEN).order_by("-pk").first()


def pause_next_allowed(*, member: Member, policy: PausePolicy | None = None) -> date | None:
    """The first day the member may ask for a break again (None: now)."""
    policy = policy or pause_policy()
    last = (
        Pause.objects.filter(member=member, starts_on__isnull=False)
        .order_by("-starts_on")
        .values_list("starts_on", flat=True)
        .first()
    )
    if last is None or not policy.months_between_pauses:
        return None
    allowed = months_after(last, policy.months_between_pauses)
    return allowed if allowed > timezone.localdate() else None


def _clean(months, reason: str, longest: int) -> tuple[int, str]:
    try:
        months = int(months)
    except (TypeError, ValueError):
        months = 0
    if not 1 <= months <= longest:
        raise InvalidInput(
            f"A break lasts from 1 to {longest} months.", field="months", longest=longest
        )
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters.", field="reason")
    return months, reason


def _refuse_if_open(member: Member) -> None:
    if (
        member.status == Member.Status.PAUSED
        or Pause.objects.filter(member=member, status__in=OPEN).exists()
    ):
        raise PauseOpen()


def _create(*, member: Member, months: int, reason: str, by_staff: bool) -> Pause:
    _refuse_if_open(member)
    try:
        with transaction.atomic():
            return Pause.objects.create(
                member=member, months=months, reason=reason, requested_by_staff=by_staff
            )
    except IntegrityError:
        raise PauseOpen() from None


# --- the services ----------------------------------------------------------------------------


@transaction.atomic
def pause_request(*, member: Member, months: int, reason: str = "") -> Pause:
    """The member asks for a break: granted at once or left for staff, as the policy says."""
    policy = pause_policy()
    months, reason = _clean(months, reason, policy.longest_months)
    locked = member_lock(member.pk)
    _refuse_if_open(locked)
    allowed = pause_next_allowed(member=locked, policy=policy)
    if allowed is not None:
        raise PauseTooSoon(allowed_on=allowed.isoformat())
    pause = _create(member=locked, months=months, reason=reason, by_staff=False)
    if policy.grant_automatically:
        _start(pause=pause, member=locked, staff_user=None)
    else:
        message_send(locked, "pause_requested", {"months": months}, dedupe_key=f"pause:{pause.pk}")
    _sync(member, locked)
    return pause


@transaction.atomic
def pause_start(*, member: Member, months: int, reason: str, staff_user) -> Pause:
    """Staff pause a membership themselves (the policy's limits are the member's, not staff's)."""
    _staff(staff_user)
    months, reason = _clean(months, reason, LONGEST_MONTHS)
    locked = member_lock(member.pk)
    pause = _create(member=locked, months=months, reason=reason, by_staff=True)
    _start(pause=pause, member=locked, staff_user=staff_user, status_reason=reason)
    _sync(member, locked)
    return pause


@transaction.atomic
def pause_grant(*, pause: Pause, staff_user) -> Pause:
    """Staff grant a waiting request: the pause starts today."""
    _staff(staff_user)
    member, pause = _lock(pause, Pause.Status.REQUESTED)
    _start(pause=pause, member=member, staff_user=staff_user)
    return pause


@transaction.atomic
def pause_refuse(*, pause: Pause, staff_user) -> Pause:
    """Staff refuse a waiting request; the member is told kindly."""
    _staff(staff_user)
    member, pause = _lock(pause, Pause.Status.REQUESTED)
    pause.status = Pause.Status.REFUSED
    pause.decided_by = staff_user
    pause.decided_at = timezone.now()
    pause.save(update_fields=["status", "decided_by", "decided_at"])
    message_send(member, "pause_refused", {}, dedupe_key=f"pause:{pause.pk}")
    return pause


@transaction.atomic
def pause_extend(*, pause: Pause, months: int, staff_user) -> Pause:
    """Staff lengthen a running pause by `months` (6 months in all at most); the member's dates
    move forward by the days added."""
    _staff(staff_user)
    member, pause = _lock(pause, Pause.Status.RUNNING)
    room = LONGEST_MONTHS - pause.months
    if room < 1:
        raise InvalidInput("This pause is as long as a pause can be (6 months).", field="months")
    added, _reason = _clean(months, "", room)
    old_end = pause.ends_on
    pause.months += added
    pause.ends_on = months_after(pause.starts_on, pause.months)
    days = (pause.ends_on - old_end).days
    pause.shift_days += days
    pause.save(update_fields=["months", "ends_on", "shift_days"])
    _shift(member=member, days=days, ends_on=pause.ends_on)
    message_send(
        member,
        "pause_extended",
        {"ends_on": pause.ends_on, "months": pause.months},
        dedupe_key=f"pause:{pause.pk}:{pause.ends_on.isoformat()}",
    )
    return pause


@transaction.atomic
def pause_end(
    *, member: Member, staff_user=None, today: date | None = None, pause: Pause | None = None
) -> Pause | None:
    """End the member's running pause: on its end day (the job, no staff user) or early (staff).

    The dates moved when it began stay moved. A membership paused before pauses were recorded
    (status PAUSED, no running Pause) is resumed too, with the same care for what fell due. The
    pause of a membership closed meanwhile just ends: nothing else changes, no one is told.
    """
    if staff_user is not None:
        _staff(staff_user)
    today = today or timezone.localdate()
    locked = Member.objects.select_for_update().filter(pk=member.pk).first()
    if locked is None:
        raise MemberNotFound()
    running = (
        Pause.objects.select_for_update(of=("self",))
        .filter(member=locked, status=Pause.Status.RUNNING)
        .first()
    )
    if pause is not None and (running is None or running.pk != pause.pk):
        raise PauseNotOpen()
    if staff_user is None and running is not None and running.ends_on > today:
        return None  # the night's job read it before staff extended it: not due any more
    if running is None and locked.status != Member.Status.PAUSED:
        raise PauseNotOpen()
    if running is not None:
        running.status = Pause.Status.ENDED
        running.ended_on = today
        if staff_user is not None:
            running.decided_by = staff_user
        running.save(update_fields=["status", "ended_on", "decided_by"])
    if locked.status == Member.Status.CLOSED:
        return running
    locked.status = Member.Status.ACTIVE
    locked.status_reason = ""
    locked.save(update_fields=["status", "status_reason"])
    _shift(member=locked, days=0, ends_on=today)
    key = f"pause:{running.pk}" if running is not None else f"pause:legacy:{today.isoformat()}"
    message_send(locked, "pause_ended", {}, dedupe_key=key)
    _sync(member, locked)
    return running


# --- inside the services ---------------------------------------------------------------------


def _staff(staff_user) -> None:
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed("Only staff can do this.")


def _sync(member: Member, locked: Member) -> None:
    member.status, member.status_reason = locked.status, locked.status_reason


def _lock(pause: Pause, status: str) -> tuple[Member, Pause]:
    """The member's row alone first, then the pause, which must still be in `status`."""
    member = member_lock(pause.member_id)
    locked = Pause.objects.select_for_update(of=("self",)).get(pk=pause.pk)
    if locked.status != status:
        raise PauseNotOpen()
    return member, locked


def _start(*, pause: Pause, member: Member, staff_user, status_reason: str = "") -> None:
    today = timezone.localdate()
    pause.status = Pause.Status.RUNNING
    pause.starts_on = today
    pause.ends_on = months_after(today, pause.months)
    pause.shift_days = (pause.ends_on - today).days
    pause.decided_by = staff_user
    pause.decided_at = timezone.now()
    pause.save(
        update_fields=["status", "starts_on", "ends_on", "shift_days", "decided_by", "decided_at"]
    )
    member.status = Member.Status.PAUSED
    member.status_reason = status_reason
    member.save(update_fields=["status", "status_reason"])
    _shift(member=member, days=pause.shift_days, ends_on=pause.ends_on)
    message_send(
        member,
        "pause_started",
        {"ends_on": pause.ends_on, "months": pause.months},
        dedupe_key=f"pause:{pause.pk}",
    )


def _shift(*, member: Member, days: int, ends_on: date) -> None:
    """Move the member's open expiry dates forward by `days`, none before the floor after
    `ends_on`: lots NOTICE_DAYS after it, vouchers (the pause hooks) a week after it; a tier grace
    by the same days."""
    lots_floor = ends_on + timedelta(days=settings.LOYALTY_EXPIRY_NOTICE_DAYS)
    lots = PointLot.objects.filter(member_id=member.pk, remaining__gt=0, expires_on__isnull=False)
    if not days:
        lots = lots.filter(expires_on__lt=lots_floor)
    # A member's open lots, read and written under their row lock (a few dozen at most).
    moved = []
    for lot in lots.only("pk", "expires_on"):
        lot.expires_on = max(lot.expires_on + timedelta(days=days), lots_floor)
        moved.append(lot)
    PointLot.objects.bulk_update(moved, ["expires_on"], batch_size=500)
    if days and member.tier_grace_until is not None:
        member.tier_grace_until += timedelta(days=days)
        Member.objects.filter(pk=member.pk).update(tier_grace_until=member.tier_grace_until)
    not_before = ends_on + timedelta(days=VOUCHER_RETURN_DAYS)
    for hook in hooks.pause_hooks():
        hook.run(member_id=member.pk, days=days, not_before=not_before)


# --- the daily step (first of the expiry job) ------------------------------------------------


def pauses_plan(day: date, size: int) -> Iterator[list[int]]:
    """Running pauses that end by `day` or whose member is to hear that it ends within a week."""
    due = Pause.objects.filter(
        status=Pause.Status.RUNNING, ends_on__lte=day + timedelta(days=ENDING_NOTICE_DAYS)
    )
    return keyset(due, size)


def pauses_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """End the batch's pauses due by `day`; tell the others' members it ends within a week."""
    pauses = list(
        Pause.objects.filter(pk__in=ids, status=Pause.Status.RUNNING)
        .select_related("member__user")
        .order_by("member_id")
    )
    counts = Counts(considered=len(ids))
    keys = {f"pause:{pause.pk}:{pause.ends_on.isoformat()}" for pause in pauses}
    already = set(
        Message.objects.filter(
            member_id__in=[pause.member_id for pause in pauses],
            kind="pause_ending",
            dedupe_key__in=keys,
        ).values_list("dedupe_key", flat=True)
    )
    ended = told = 0
    for pause in pauses:
        key = f"pause:{pause.pk}:{pause.ends_on.isoformat()}"
        if pause.ends_on <= day:
            if pause_end(member=pause.member, today=day, pause=pause) is not None:
                ended += 1
        elif key not in already and _ending_notice(pause, day):
            told += 1
    counts.paid = ended + told
    counts.skipped = len(ids) - counts.paid
    counts.details.update(pauses_ended=ended, pause_ending_notices=told)
    return counts


@transaction.atomic
def _ending_notice(pause: Pause, day: date) -> bool:
    """Tell the member their pause ends within a week, by its end as it stands under the
    member's lock (staff may have extended or ended it since the batch read it)."""
    member_lock(pause.member_id)
    fresh = (
        Pause.objects.select_for_update(of=("self",))
        .filter(pk=pause.pk, status=Pause.Status.RUNNING)
        .first()
    )
    if fresh is None or not day < fresh.ends_on <= day + timedelta(days=ENDING_NOTICE_DAYS):
        return False
    key = f"pause:{fresh.pk}:{fresh.ends_on.isoformat()}"
    message_send(pause.member, "pause_ending", {"ends_on": fresh.ends_on}, dedupe_key=key)
    return True


# --- the policy ------------------------------------------------------------------------------

POLICY_FIELDS = ("grant_automatically", "longest_months", "months_between_pauses")


@transaction.atomic
def pause_policy_update(*, staff_user, **fields) -> PausePolicy:
    """Staff change how members' requests are handled (the next request follows it)."""
    _staff(staff_user)
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"The pause policy has no {', '.join(sorted(unknown))}.")
    policy, _created = PausePolicy.objects.select_for_update().get_or_create(pk=1)
    for name, value in fields.items():
        setattr(policy, name, value)
    if not 1 <= policy.longest_months <= LONGEST_MONTHS:
        raise InvalidInput("A break lasts from 1 to 6 months.", field="longest_months")
    policy.save()
    return policy
