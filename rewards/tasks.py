"""Celery tasks of the occasion gifts: each starts a run of its job (loyalty/core/jobs.py), whose
batches are paid by `loyalty.tasks.job_batch_task`."""

from celery import shared_task

from loyalty.core.tasks import JOB_TASK, start


@shared_task(**JOB_TASK)
def anniversary_task(day: str | None = None) -> int:
    """Daily (beat): thank members on their membership anniversary (`day`: YYYY-MM-DD)."""
    return start("anniversary", day)


@shared_task(**JOB_TASK)
def birthdays_task(day: str | None = None) -> int:
    """Daily (beat): greet members on their birthday with the gift that delights them."""
    return start("birthdays", day)
