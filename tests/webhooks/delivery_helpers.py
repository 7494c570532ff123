"""Helpers for the tests of webhook delivery: the shared secret, the clock, deliveries."""

from datetime import UTC, datetime, timedelta

from webhooks.models import WebhookDelivery, WebhookEvent

SECRET = "s3cret-shared-with-the-partner"


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


PENDING = WebhookDelivery.Status.PENDING


DELIVERED = WebhookDelivery.Status.DELIVERED


FAILED = WebhookDelivery.Status.FAILED


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def _make_delivery(endpoint, *, next_attempt_at, status=PENDING, created_at=T0, **fields):
    event = WebhookEvent.objects.create(
        type="points.earned", partner=endpoint.partner, payload={"n": 1}, created_at=created_at
    )
    return WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=status,
        next_attempt_at=next_attempt_at,
        retry_until=created_at + timedelta(hours=24),
        created_at=created_at,
        **fields,
    )
