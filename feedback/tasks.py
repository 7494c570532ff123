"""Celery tasks of the feedback book: thin, safe to run twice, calling services."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def feedback_escalation_email_task(item_id: int) -> None:
    from .services import escalation_email_send

    escalation_email_send(item_id=item_id)


@shared_task(acks_late=True, ignore_result=True)
def feedback_escalate_task() -> dict:
    """Every 15 minutes (beat): escalate severe and overdue items to the managers, once each."""
    from .services import feedback_escalate_due

    return feedback_escalate_due()


@shared_task(acks_late=True, ignore_result=True)
def surveys_invite_task(day: str | None = None) -> int:
    """Daily (beat): ask yesterday's buyers and answered complainants the two questions."""
    from loyalty.core.jobs import parse_day

    from .services import surveys_invite_due

    return surveys_invite_due(day=parse_day(day))
