"""Celery tasks of the scheduled jobs: thin, idempotent, acks_late with reject_on_worker_lost.

Beat sends a job's task (schedule in the admin, migration 0005); it starts a run and enqueues one
`job_batch_task` per batch after its transaction commits (jobs.py). A batch task run
twice does its batch once. Nothing is given an ETA: a retry waits a few seconds, far less than
the broker's visibility timeout.

The task names are pinned to what they were before the core moved to loyalty/core/: the beat
schedule in the database and messages already in the broker name them.
"""

from celery import shared_task
from django.conf import settings

from . import jobs
from .models import JobRun

JOB_TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}
MAX_RETRIES = 5


def retry_countdown(retries: int) -> int:
    """Seconds before retrying a batch: 5, 10, 20, ... at most 5 minutes, and always well
    within the broker's visibility timeout (an ETA beyond it would be handed out twice)."""
    visibility = int(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600))
    return max(1, min(5 * 2**retries, 300, visibility // 2))


@shared_task(name="loyalty.tasks.job_batch_task", bind=True, max_retries=MAX_RETRIES, **JOB_TASK)
def job_batch_task(self, run_id: int, number: int, step: str, ids: list[int]) -> None:
    final = bool(self.request.is_eager) or self.request.retries >= self.max_retries
    try:
        jobs.batch_run(run_id=run_id, number=number, step=step, ids=ids, final_attempt=final)
    except jobs.RetryLater as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


def start(name: str, day: str | None) -> int:
    return jobs.job_start(name=name, day=jobs.parse_day(day), trigger=JobRun.Trigger.SCHEDULE).pk


@shared_task(name="loyalty.tasks.tier_review_task", **JOB_TASK)
def tier_review_task(day: str | None = None) -> int:
    """Monthly (beat): the tier review for `day` (YYYY-MM-DD; default today)."""
    return start("tier_review", day)


@shared_task(name="loyalty.tasks.points_expiry_task", **JOB_TASK)
def points_expiry_task(day: str | None = None) -> int:
    """Daily (beat): points past their expiry date, notices ahead, vouchers past validity."""
    return start("expiry", day)


@shared_task(name="loyalty.tasks.housekeeping_task", **JOB_TASK)
def housekeeping_task(day: str | None = None) -> int:
    """Daily (beat): Idempotency-Keys past retention, old webhook deliveries."""
    return start("housekeeping", day)
