"""Scheduled jobs: how a run goes (JobRun, JobBatch). The jobs themselves are registered with
loyalty.core.hooks by the app they belong to: the core's own (tier_review in tiers.py, expiry in
expiry.py, housekeeping in housekeeping.py, registered in apps.py) and the features' (rewards:
anniversary, birthdays; feedback: feedback_escalation, surveys; steps of the expiry job from
rewards and referrals). `manage.py run_job NAME [--date YYYY-MM-DD]` runs any of them by hand.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from loyalty.base.errors import InvalidInput

from . import catchup, hooks
from .models import JobBatch, JobRun

logger = logging.getLogger(__name__)


@dataclass
class Counts:
    """What one batch did. `paid` counts members paid or changed (rows deleted, housekeeping);
    `skipped` those already done, paused or no longer due; `details` the job's own figures."""

    considered: int = 0
    paid: int = 0
    skipped: int = 0
    errors: int = 0
    details: Counter = field(default_factory=Counter)


def job_names() -> list[str]:
    return list(hooks.jobs())


def get_job(name: str) -> hooks.Job:
    try:
        return hooks.jobs()[name]
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
        if job.catch_up:
            catchup.catch_up_record(run=run)
        batches: list[tuple[str, list[int]]] = []
        for step in job.steps:
            if step.plan is None:
                batches.append((step.name, []))
            else:
                batches.extend((step.name, ids) for ids in step.batches(day, size))
        run.batches_planned = len(batches)
        run.save(update_fields=["batches_planned"])
        logger.info("Job %s for %s: run %s planned %s batches.", name, day, run.pk, len(batches))
        if not batches:
            _finish(run.pk)
        elif not inline:
            run_id = run.pk

            def enqueue():
                # (imported here: the tasks module imports this one)
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
                counts = the_step.run(ids=ids, day=run.day, run=run)
                _brake(len(ids))
                _record(run, number, counts)
        else:
            if JobBatch.objects.filter(run=run, number=number).exists():
                return None
            counts = the_step.run(ids=ids, day=run.day, run=run)
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
    """Close the run if every planned batch is done (called in the last batch's transaction).
    Its details are what its start recorded (a catch-up's coverage) plus the batches' sums."""
    closing = JobRun.objects.filter(
        pk=run_id, finished_at__isnull=True, batches_done__gte=F("batches_planned")
    )
    started = closing.values_list("details", flat=True).first()
    if started is None:
        return
    details: Counter = Counter(started)
    for batch_details in JobBatch.objects.filter(run_id=run_id).values_list("details", flat=True):
        details.update(batch_details or {})
    closing.update(finished_at=timezone.now(), details=dict(details))
