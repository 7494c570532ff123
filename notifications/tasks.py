"""Celery tasks of the e-mail outbox: thin and safe to run twice (see notifications.outbox)."""

from celery import shared_task

from .models import Message
from .outbox import email_send, email_send_for, emails_dispatch_due


@shared_task(acks_late=True, ignore_result=True)
def email_send_task(email_id: str) -> None:
    email_send(email_id=email_id)


@shared_task(acks_late=True, ignore_result=True)
def emails_dispatch_due_task() -> None:
    """Run every minute by beat (the "notifications: dispatch due e-mails" periodic task)."""
    emails_dispatch_due()


@shared_task(acks_late=True, ignore_result=True)
def message_email_task(message_id: int) -> None:
    """Sent before the outbox (a message still in the broker at the upgrade): the outbox's
    attempt for the message."""
    member_id = Message.objects.filter(pk=message_id).values_list("member_id", flat=True).first()
    email_send_for(kind="message", create=True, object_id=message_id, member_id=member_id)
