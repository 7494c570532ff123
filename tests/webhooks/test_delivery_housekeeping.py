"""Sending a failed webhook delivery again, and deleting old deliveries in housekeeping."""

from datetime import timedelta

import pytest

from tests.webhooks.delivery_helpers import DELIVERED, FAILED, PENDING, T0, _make_delivery
from webhooks import delivery, services
from webhooks.models import WebhookDelivery, WebhookEvent


def test_send_again_gives_a_failed_delivery_a_new_window(
    receiver, endpoint, frozen, django_capture_on_commit_callbacks
):
    # given: failed a day ago after 12 attempts
    failed = _make_delivery(
        endpoint,
        created_at=T0 - timedelta(days=2),
        next_attempt_at=T0 - timedelta(days=1),
        status=FAILED,
        attempts=12,
        last_status_code=503,
    )
    receiver.statuses.append(500)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_resend(delivery=failed)

    # then: sent at once; failing again, it is retried within the new window
    assert len(receiver.requests) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_status_code) == (PENDING, 13, 500)
    assert failed.retry_until == T0 + timedelta(hours=24)
    assert failed.next_attempt_at == T0 + timedelta(hours=1)


def test_send_again_refuses_an_inactive_endpoint(endpoint, frozen):
    # given
    failed = _make_delivery(endpoint, next_attempt_at=T0, status=FAILED)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    # when
    with pytest.raises(services.EndpointInactive):
        services.delivery_resend(delivery=failed)

    # then
    failed.refresh_from_db()
    assert failed.status == FAILED


def test_housekeeping_deletes_finished_deliveries_and_empty_events_older_than_30_days(
    endpoint, frozen
):
    # given
    old = T0 - timedelta(days=31)
    recent = T0 - timedelta(days=29)
    old_delivered = _make_delivery(
        endpoint, created_at=old, next_attempt_at=old, status=DELIVERED, last_attempt_at=old
    )
    old_failed = _make_delivery(endpoint, created_at=old, next_attempt_at=old, status=FAILED)
    old_pending = _make_delivery(endpoint, created_at=old, next_attempt_at=T0)
    resent_lately = _make_delivery(
        endpoint, created_at=old, next_attempt_at=old, status=DELIVERED, last_attempt_at=recent
    )
    recent_delivered = _make_delivery(
        endpoint, created_at=recent, next_attempt_at=recent, status=DELIVERED
    )

    # when
    deleted = delivery.deliveries_delete_older_than(days=30, batch_size=1)

    # then
    assert deleted == (2, 2)
    kept = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert kept == {old_pending.pk, resent_lately.pk, recent_delivered.pk}
    events = set(WebhookEvent.objects.values_list("pk", flat=True))
    assert events == {old_pending.event_id, resent_lately.event_id, recent_delivered.event_id}
    assert not WebhookEvent.objects.filter(
        pk__in=[old_delivered.event_id, old_failed.event_id]
    ).exists()
