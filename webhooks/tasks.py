"""Celery tasks for webhook delivery: thin, idempotent, `acks_late`; the work is in
webhooks.delivery. A task run twice, or next to the same task on another worker, sends an
attempt at most once (see delivery_claim)."""

from celery import shared_task

from . import delivery


@shared_task(acks_late=True, ignore_result=True)
def webhook_deliver_task(delivery_id: int) -> None:
    delivery.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def webhooks_dispatch_due_task() -> None:
    """Run every minute by beat (the "webhooks: dispatch due deliveries" periodic task)."""
    delivery.deliveries_dispatch_due()
