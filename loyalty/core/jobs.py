"""Scheduled jobs: the registry, how a run goes (JobRun, JobBatch), and the loyalty-side jobs.

The jobs (`manage.py run_job NAME [--date YYYY-MM-DD]` runs any of them by hand):

- `anniversary` (daily) and `birthdays` (daily): occasion gifts, in rewards/occasions.py;
- `tier_review` (monthly): grace first, then down one tier (below);
- `expiry` (daily): points past their date, notices 30 days ahead, vouchers (below);
- `housekeeping` (daily): old Idempotency-Keys and webhook deliveries (below).

How a run goes:

1. Start (`job_start`). Beat sends the job's task (schedule in the database, migration
   loyalty/0005; staff change it in the admin), or `run_job` starts it by hand. A JobRun is made
   for the day, then the plan: each step of the job selects the ids it works on in batches,
   keyset-paginated, one query per batch. Each batch becomes one `job_batch_task`, enqueued after
   the plan's transaction commits (or, by hand, run right there in process).
2. Batches (`batch_run`). A batch is one transaction: it claims its number (a JobBatch row,
   unique per run), does its work set-based (a few statements for the whole batch, never a few
   per member for the ledger), and adds its counts to the JobRun. A batch delivered twice (a
   worker lost before the acknowledgement, a second worker) finds its JobBatch and does nothing;
   a batch killed half-way leaves nothing behind (the transaction rolls back) and is redone in
   full when the broker hands its message out again (acks_late, reject_on_worker_lost, and the
   visibility timeout). What is paid once per member is also guarded by the database (the
   OccasionGrant unique constraint, conditional UPDATEs), so two runs of a job for the same day,
   at once or one after the other, pay nothing twice.
3. End. The batch that completes the plan closes the JobRun (finished_at, details summed).

Lock order: a batch claims its JobBatch, then locks its members in id order (then lots, a
reward's stock, vouchers, as the services do), and updates its JobRun last. Batches only lock
members whose rows they change; members that need nothing are only read.
"""

from __future__ import annotations

import logging
import time as time_module
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from accounts.models import Member
from loyalty.base.errors import InvalidInput
from webhooks.services import event_emit

from . import services as ledger
from .models import IdempotencyRecord, JobBatch, JobRun, PointLot, Tier, TierChange

logger = logging.getLogger(__name__)


# --- the registry -------------------------------------------------------------------------------


@dataclass
class Counts:
    """What one batch did. `paid` counts members paid or changed (rows deleted, housekeeping);
    `skipped` those already done, paused or no longer due; `details` the job's own figures."""

    considered: int = 0
    paid: int = 0
    skipped: int = 0
    errors: int = 0
    details: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Step:
    """A part of a job. `plan(day, size)` yields batches of ids (keyset, one query per batch);
    None means one batch without ids. `work(ids=, day=, run=)` does one batch and returns its
    Counts. An `atomic` step's batch is one transaction with its JobBatch claim; a step that is
    not manages its own transactions and must be idempotent by itself."""

    name: str
    work: Callable[..., Counts]
    plan: Callable[[date, int], Iterator[list[int]]] | None = None
    atomic: bool = True


@dataclass(frozen=True)
class Job:
    name: str
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


@cache
def registry() -> dict[str, Job]:
    from rewards import occasions

    jobs = [
        Job(
            JobRun.Name.ANNIVERSARY,
            (Step("anniversary", occasions.anniversary_batch, occasions.anniversary_plan),),
        ),
        Job(
            JobRun.Name.BIRTHDAYS,
            (Step("birthdays", occasions.birthday_batch, occasions.birthday_plan),),
        ),
        Job(JobRun.Name.TIER_REVIEW, (Step("tier_review", tier_review_batch, tier_review_plan),)),
        Job(
            JobRun.Name.EXPIRY,
            (
                Step("expire_points", expiry_batch, expiry_plan),
                Step("expiry_notices", expiry_notice_batch, expiry_notice_plan),
                Step("expire_vouchers", vouchers_expiry, atomic=False),
                Step("expire_referrals", referrals_expiry, atomic=False),
            ),
        ),
        Job(
            JobRun.Name.HOUSEKEEPING,
            (
                Step("idempotency_keys", idempotency_keys_batch, idempotency_keys_plan),
                Step("webhook_deliveries", webhook_deliveries_cleanup, atomic=False),
            ),
        ),
    ]
    return {job.name: job for job in jobs}


def job_names() -> list[str]:
    return list(JobRun.Name.values)


def get_job(name: str) -> Job:
    try:
        return registry()[name]
    except KeyError:
        raise InvalidInput(
            f"Unknown job {name!r}; the jobs are: {', '.join(job_names())}.", field="name"
        ) from None


def parse_day(value) -> date | None:
    """A job's day from a task argument or the command line: YYYY-MM-DD, a date, or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return timezone.localdate(value)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("A day is written YYYY-MM-DD.", field="date") from None


def day_end(day: date) -> datetime:
    """The end of a day in the program's time zone (midnight that starts the next day)."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def keyset(queryset, size: int, field_name: str = "pk") -> Iterator[list[int]]:
    """The queryset's distinct `field_name` values in ascending batches: one query per batch."""
    last = None
    while True:
        batch = queryset if last is None else queryset.filter(**{f"{field_name}__gt": last})
        values = batch.order_by(field_name).values_list(field_name, flat=True)
        if field_name != "pk":
            values = values.distinct()
        ids = list(values[:size])
        if ids:
            yield ids
        if len(ids) < size:
            return
        last = ids[-1]


# --- running a job ------------------------------------------------------------------------------


class RetryLater(Exception):
    """A batch failed for a reason that may pass (a deadlock, a lost connection, a race): the
    task retries it; the last attempt records the error instead."""


def job_start(
    *,
    name: str,
    day: date | None = None,
    trigger: str = JobRun.Trigger.SCHEDULE,
    inline: bool = False,
) -> JobRun:
    """Start a run: plan its batches and enqueue them after commit (or run them right here).

    `day` is the day the job is for, in the program's time zone (default: today).
    """
    job = get_job(name)
    day = parse_day(day) or timezone.localdate()
    size = max(int(settings.LOYALTY_JOB_BATCH_SIZE), 1)
    with transaction.atomic():
        run = JobRun.objects.create(name=job.name, day=day, trigger=trigger)
        batches: list[tuple[str, list[int]]] = []
        for step in job.steps:
            if step.plan is None:
                batches.append((step.name, []))
            else:
                batches.extend((step.name, ids) for ids in step.plan(day, size))
        run.batches_planned = len(batches)
        run.save(update_fields=["batches_planned"])
        logger.info("Job %s for %s: run %s planned %s batches.", name, day, run.pk, len(batches))
        if not batches:
            _finish(run.pk)
        elif not inline:
            run_id = run.pk

            def enqueue():
                from .tasks import job_batch_task

                for number, (step_name, ids) in enumerate(batches, 1):
                    job_batch_task.delay(run_id, number, step_name, ids)

            transaction.on_commit(enqueue)
    if inline:
        for number, (step_name, ids) in enumerate(batches, 1):
            batch_run(run_id=run.pk, number=number, step=step_name, ids=ids)
    run.refresh_from_db()
    return run


def job_run(*, name: str, day: date | None = None, trigger=JobRun.Trigger.MANUAL) -> JobRun:
    """Run a job in this process, batch after batch (what `manage.py run_job` does)."""
    return job_start(name=name, day=day, trigger=trigger, inline=True)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError, IntegrityError))


def batch_run(
    *, run_id: int, number: int, step: str, ids: list[int], final_attempt: bool = True
) -> Counts | None:
    """Do one batch of a run, once. None when it was done already (or its run is gone).

    An error rolls the batch back; it is raised as RetryLater when it may pass and this is not
    the final attempt, otherwise recorded on the JobBatch and the JobRun (errors, error_log) so
    the run still completes. Running the job again for that day does what is left.
    """
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None:
        logger.warning("Job run %s is gone; batch %s dropped.", run_id, number)
        return None
    the_step = get_job(run.name).step(step)
    logger.info(
        "Job %s run %s: batch %s/%s (%s, %s ids) started.",
        run.name,
        run.pk,
        number,
        run.batches_planned,
        step,
        len(ids),
    )
    try:
        if the_step.atomic:
            with transaction.atomic():
                if not _claim(run, number, step, len(ids)):
                    return None
                counts = the_step.work(ids=ids, day=run.day, run=run)
                _brake(len(ids))
                _record(run, number, counts)
        else:
            if JobBatch.objects.filter(run=run, number=number).exists():
                return None
            counts = the_step.work(ids=ids, day=run.day, run=run)
            with transaction.atomic():
                if not _claim(run, number, step, len(ids)):
                    return None
                _record(run, number, counts)
    except Exception as exc:
        if _transient(exc) and not final_attempt:
            logger.warning(
                "Job %s run %s batch %s will be retried: %r", run.name, run.pk, number, exc
            )
            raise RetryLater(str(exc)) from exc
        logger.exception("Job %s run %s: batch %s failed.", run.name, run.pk, number)
        _record_failure(run, number, step, ids, exc)
        return None
    logger.info(
        "Job %s run %s: batch %s done (%s considered, %s paid, %s skipped).",
        run.name,
        run.pk,
        number,
        counts.considered,
        counts.paid,
        counts.skipped,
    )
    return counts


def _brake(members: int) -> None:
    """The test-only brake (LOYALTY_JOB_BATCH_DELAY): wait before the batch commits."""
    delay = float(settings.LOYALTY_JOB_BATCH_DELAY or 0)
    if delay > 0 and members:
        time_module.sleep(delay * members)


def _claim(run: JobRun, number: int, step: str, size: int) -> bool:
    """Claim a batch number for this transaction. A second claimant waits for the first one's
    commit (unique index) and is then refused; if the first rolled back, it goes ahead."""
    try:
        with transaction.atomic():
            JobBatch.objects.create(run=run, number=number, step=step, size=size)
    except IntegrityError:
        return False
    return True


def _record(run: JobRun, number: int, counts: Counts) -> None:
    JobBatch.objects.filter(run=run, number=number).update(
        considered=counts.considered,
        paid=counts.paid,
        skipped=counts.skipped,
        errors=counts.errors,
        details=dict(counts.details),
        finished_at=timezone.now(),
    )
    JobRun.objects.filter(pk=run.pk).update(
        batches_done=F("batches_done") + 1,
        considered=F("considered") + counts.considered,
        paid=F("paid") + counts.paid,
        skipped=F("skipped") + counts.skipped,
        errors=F("errors") + counts.errors,
    )
    _finish(run.pk)


def _record_failure(run: JobRun, number: int, step: str, ids: list[int], exc: Exception) -> None:
    message = f"batch {number} ({step}, {len(ids)} ids): {type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        if not _claim(run, number, step, len(ids)):
            return
        _record(run, number, Counts(considered=len(ids), errors=max(len(ids), 1)))
        JobBatch.objects.filter(run=run, number=number).update(error=message)
        JobRun.objects.filter(pk=run.pk).update(
            error_log=Concat(F("error_log"), Value(message + "\n"))
        )


def _finish(run_id: int) -> None:
    """Close the run if every planned batch is done (called in the last batch's transaction)."""
    closing = JobRun.objects.filter(
        pk=run_id, finished_at__isnull=True, batches_done__gte=F("batches_planned")
    )
    if not closing.exists():
        return
    details: Counter = Counter()
    for batch_details in JobBatch.objects.filter(run_id=run_id).values_list("details", flat=True):
        details.update(batch_details or {})
    closing.update(finished_at=timezone.now(), details=dict(details))


# --- tier review --------------------------------------------------------------------------------


def tier_review_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members above the entry tier, and members in grace: the only ones a review can change."""
    lowest = Tier.objects.order_by("rank").values_list("pk", flat=True).first()
    members = Member.objects.exclude(status=Member.Status.CLOSED).filter(
        Q(tier_grace_until__isnull=False) | (Q(tier__isnull=False) & ~Q(tier_id=lowest))
    )
    return keyset(members, size)


@dataclass(frozen=True)
class _Review:
    action: str | None  # start, clear, extend, downgrade, or None
    below: bool  # under the tier's qualifying points


def _review(*, tier, lower, status, grace_until, points, day, grace_end) -> _Review:
    """What the review does with one member (pure; the batch applies it set-based)."""
    if tier is None:
        return _Review(None, False)
    if points >= tier.qualifying_points or lower is None:
        # Kept (or nothing lower to move to): a running grace is over.
        return _Review("clear" if grace_until is not None else None, False)
    if status == Member.Status.PAUSED:
        # Never downgraded while paused; a running grace does not run out meanwhile.
        return _Review(
            "extend" if grace_until is not None and grace_until < grace_end else None, True
        )
    if grace_until is None:
        return _Review("start", True)
    if grace_until <= day:
        return _Review("downgrade", True)
    return _Review(None, True)


def tier_review_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Review a batch of members' tiers for `day`.

    Below their tier's qualifying points (counted up to the end of `day`), a member first gets a
    grace period (LOYALTY_TIER_GRACE_DAYS) and a notice of what would keep the tier; a review on
    or after the end of the grace moves them down one tier only (a TierChange "review: grace
    ended", the tier.changed webhook, a message), and if they are below the new tier too its own
    grace starts at once. Earning the tier back ends the grace (here, or at the purchase). Paused
    members are never downgraded and their grace does not run out while they are paused.
    """
    counts = Counts()
    grace = timedelta(days=settings.LOYALTY_TIER_GRACE_DAYS)
    grace_end = day + grace
    at = day_end(day)
    tiers = list(Tier.objects.order_by("rank"))
    by_id = {tier.pk: tier for tier in tiers}
    lower = {tier.pk: (tiers[i - 1] if i else None) for i, tier in enumerate(tiers)}

    def decide(tier_id, status, grace_until, points) -> _Review:
        tier = by_id.get(tier_id)
        return _review(
            tier=tier,
            lower=lower.get(tier_id),
            status=status,
            grace_until=grace_until,
            points=points,
            day=day,
            grace_end=grace_end,
        )

    # Read first; lock and write only the members whose tier or grace changes.
    rows = list(
        Member.objects.filter(pk__in=ids)
        .exclude(status=Member.Status.CLOSED)
        .values_list("pk", "tier_id", "status", "tier_grace_until")
    )
    points = ledger.qualifying_points_many(member_ids=ids, at=at)
    counts.considered = len(rows)
    changing = [
        pk
        for pk, tier_id, status, grace_until in rows
        if decide(tier_id, status, grace_until, points.get(pk, 0)).action is not None
    ]
    paused_below = {
        pk
        for pk, tier_id, status, grace_until in rows
        if status == Member.Status.PAUSED
        and decide(tier_id, status, grace_until, points.get(pk, 0)).below
    }
    counts.skipped = len(paused_below)
    if not changing:
        return counts
    members = list(
        Member.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk__in=changing)
        .exclude(status=Member.Status.CLOSED)
        .order_by("pk")
    )
    points = ledger.qualifying_points_many(member_ids=[m.pk for m in members], at=at)
    started, cleared, extended = [], [], []
    downgrades: list[tuple[Member, Tier, Tier, int]] = []
    for member in members:
        qualifying = points.get(member.pk, 0)
        review = decide(member.tier_id, member.status, member.tier_grace_until, qualifying)
        if review.action == "start":
            started.append((member, by_id[member.tier_id], qualifying))
        elif review.action == "clear":
            cleared.append(member.pk)
        elif review.action == "extend":
            extended.append(member.pk)
        elif review.action == "downgrade":
            downgrades.append((member, by_id[member.tier_id], lower[member.tier_id], qualifying))
    if started:
        Member.objects.filter(pk__in=[m.pk for m, _t, _q in started]).update(
            tier_grace_until=grace_end
        )
    if cleared:
        Member.objects.filter(pk__in=cleared).update(tier_grace_until=None)
    if extended:
        Member.objects.filter(pk__in=extended).update(tier_grace_until=grace_end)
    changes = []
    moves: dict[tuple[int, date | None], list[int]] = {}
    now = timezone.now()
    for member, old, new, qualifying in downgrades:
        still_below = qualifying < new.qualifying_points and lower[new.pk] is not None
        new_grace = grace_end if still_below else None
        moves.setdefault((new.pk, new_grace), []).append(member.pk)
        changes.append(
            TierChange(
                member_id=member.pk,
                from_tier=old,
                to_tier=new,
                qualifying_points=qualifying,
                reason="review: grace ended",
                created_at=now,
            )
        )
    for (tier_id, new_grace), member_ids in moves.items():
        Member.objects.filter(pk__in=member_ids).update(
            tier_id=tier_id, tier_since=day, tier_grace_until=new_grace
        )
    TierChange.objects.bulk_create(changes)
    _tier_messages(started=started, downgrades=downgrades, lower=lower, grace_end=grace_end)
    counts.paid = len(started) + len(cleared) + len(extended) + len(downgrades)
    counts.details.update(
        grace_started=len(started),
        grace_cleared=len(cleared),
        grace_kept_while_paused=len(extended),
        downgraded=len(downgrades),
    )
    return counts


def _tier_messages(*, started, downgrades, lower, grace_end) -> None:
    from notifications.services import notify

    for member, tier, qualifying in started:
        notify(
            member,
            "tier_grace",
            {
                "tier": tier.name,
                "lower_tier": lower[tier.pk].name,
                "qualifying": qualifying,
                "threshold": tier.qualifying_points,
                "points_needed": tier.qualifying_points - qualifying,
                "until": grace_end,
            },
            dedupe_key=f"tier_grace:{tier.code}:{grace_end.isoformat()}",
        )
    wanted = downgrades and ledger._event_wanted("tier.changed")
    for member, old, new, qualifying in downgrades:
        still_below = qualifying < new.qualifying_points and lower[new.pk] is not None
        notify(
            member,
            "tier_changed",
            {
                "old_tier": old.name,
                "new_tier": new.name,
                "qualifying": qualifying,
                "old_threshold": old.qualifying_points,
                "points_needed": old.qualifying_points - qualifying,
                "new_grace_until": grace_end if still_below else None,
                "new_points_needed": new.qualifying_points - qualifying if still_below else 0,
            },
            dedupe_key=f"tier_changed:{old.code}:{new.code}:{grace_end.isoformat()}",
        )
        if wanted:
            event_emit(
                event_type="tier.changed",
                payload={
                    "member_number": member.member_number,
                    "from": old.code,
                    "to": new.code,
                    "reason": "review: grace ended",
                },
            )


# --- expiry -------------------------------------------------------------------------------------


def expiry_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members with lots due (expires_on <= day) that still hold points."""
    lots = PointLot.objects.filter(remaining__gt=0, expires_on__lte=day)
    return keyset(lots, size, "member_id")


def expiry_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Expire what remains of the batch's lots due by `day` (paused members keep theirs)."""
    expired = ledger.points_expire_many(member_ids=ids, today=day)
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
    from django.db.models import Sum

    from notifications.models import Message
    from notifications.services import notify

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
        notify(
            members[member_id],
            "points_expiring",
            {"points": points, "expires_on": expires_on},
            dedupe_key=f"points_expiring:{expires_on.isoformat()}",
        )
    counts = Counts(considered=len({m for m, _d, _p in due}), paid=len({m for m, _d, _p in todo}))
    counts.skipped = counts.considered - counts.paid
    counts.details.update(expiry_notices=len(todo))
    return counts


def vouchers_expiry(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Vouchers past their validity expire (each in its own transaction, rewards.services)."""
    from rewards.services import vouchers_expire_due

    expired = vouchers_expire_due(today=day)
    counts = Counts(considered=expired, paid=expired)
    counts.details.update(vouchers_expired=expired)
    return counts


def referrals_expiry(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Referrals whose friend made no qualifying purchase in time expire (one UPDATE)."""
    from referrals.services import referrals_expire_due

    expired = referrals_expire_due(today=day)
    counts = Counts(considered=expired, paid=expired)
    counts.details.update(referrals_expired=expired)
    return counts


# --- housekeeping -------------------------------------------------------------------------------


def _idempotency_cutoff() -> datetime:
    hours = max(int(settings.LOYALTY_IDEMPOTENCY_RETENTION_HOURS), 24)
    return timezone.now() - timedelta(hours=hours)


def idempotency_keys_plan(day: date, size: int) -> Iterator[list[int]]:
    return keyset(IdempotencyRecord.objects.filter(created_at__lt=_idempotency_cutoff()), size)


def idempotency_keys_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Delete partners' Idempotency-Keys past their retention (at least 24 hours)."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        pk__in=ids, created_at__lt=_idempotency_cutoff()
    ).delete()
    counts = Counts(considered=len(ids), paid=deleted, skipped=len(ids) - deleted)
    counts.details.update(idempotency_keys_deleted=deleted)
    return counts


def webhook_deliveries_cleanup(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    from webhooks.delivery import deliveries_delete_older_than

    deliveries, events = deliveries_delete_older_than(days=settings.LOYALTY_WEBHOOK_RETENTION_DAYS)
    counts = Counts(considered=deliveries + events, paid=deliveries + events)
    counts.details.update(webhook_deliveries_deleted=deliveries, webhook_events_deleted=events)
    return counts
