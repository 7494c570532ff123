"""Housekeeping: Idempotency-Keys past their retention, old finished webhook deliveries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.core.models import IdempotencyRecord
from tests.jobs.conftest import run
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def _key(partner, key: str, hours_ago: float) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        partner=partner,
        key=key,
        request_hash="0" * 64,
        response_status=201,
        response_body="{}",
        created_at=timezone.now() - timedelta(hours=hours_ago),
    )


def test_idempotency_keys_are_kept_48_hours(partner, settings):
    # given
    settings.LOYALTY_JOB_BATCH_SIZE = 2
    old = [_key(partner, f"old-{n}", 49) for n in range(3)]
    kept = [_key(partner, "recent", 47), _key(partner, "fresh", 0)]
    # when
    job = run("housekeeping")
    # then
    remaining = set(IdempotencyRecord.objects.values_list("pk", flat=True))
    assert remaining == {record.pk for record in kept}
    assert job.details["idempotency_keys_deleted"] == len(old)
    assert job.batches_planned == 3  # two batches of keys, then the webhook deliveries


def test_idempotency_keys_are_kept_at_least_24_hours(partner, settings):
    # given: a retention set too low is raised to the 24 hours partners are promised
    settings.LOYALTY_IDEMPOTENCY_RETENTION_HOURS = 1
    young = _key(partner, "young", 20)
    _key(partner, "old", 25)
    # when
    run("housekeeping")
    # then
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [young.pk]


def test_old_finished_webhook_deliveries_are_deleted(partner):
    # given
    endpoint = endpoint_create(partner=partner, url="https://example.com/h", secret="s" * 20)
    old = timezone.now() - timedelta(days=31)

    def delivery(status, created_at):
        event = WebhookEvent.objects.create(
            type="points.earned", partner=partner, payload={}, created_at=created_at
        )
        return WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            status=status,
            next_attempt_at=created_at,
            retry_until=created_at + timedelta(hours=24),
            created_at=created_at,
        )

    delivery("delivered", old)
    pending = delivery("pending", old)
    recent = delivery("delivered", timezone.now())
    # when
    job = run("housekeeping")
    # then
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert job.details["webhook_deliveries_deleted"] == 1
    assert job.details["webhook_events_deleted"] == 1
