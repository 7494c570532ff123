"""Celery tasks of the feedback book: thin, safe to run twice, calling services."""

from celery import shared_task

from loyalty.core.jobs import job_run
from loyalty.core.models import JobRun
from notifications.outbox import email_send_for


@shared_task(acks_late=True, ignore_result=True)
def feedback_escalation_email_task(item_id: int) -> None:
    """Sent before the outbox (an escalation still in the broker at the upgrade): the outbox's
    attempt for the item."""
    email_send_for(kind="escalation", create=True, object_id=item_id)


@shared_task(acks_late=True, ignore_result=True)
def feedback_escalate_task() -> dict:
    """Every 15 minutes (beat): the `feedback_escalation` job, here in the worker (one batch).
    Returns what was escalated: {"severe": n, "overdue": n}."""
    return job_run(name="feedback_escalation", trigger=JobRun.Trigger.SCHEDULE).details


@shared_task(acks_late=True, ignore_result=True)
def surveys_invite_task(day: str | None = None) -> int:
    """Daily (beat): the `surveys` job for `day` (YYYY-MM-DD, default today), here in the
    worker (one batch): it asks the day before's buyers and answered complainants the two
    questions. Returns how many were asked."""
    return job_run(name="surveys", day=day, trigger=JobRun.Trigger.SCHEDULE).paid
