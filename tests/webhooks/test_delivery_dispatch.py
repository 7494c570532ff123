"""The webhook dispatcher and its workers: due deliveries, batches, claims, the schedule."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.concurrency import run_at_once
from tests.webhooks.delivery_helpers import DELIVERED, FAILED, SECRET, T0, _make_delivery
from webhooks import delivery, services, tasks
from webhooks.models import WebhookDelivery, WebhookEvent

# --- the dispatcher ----------------------------------------------------------------------------


def test_dispatch_sends_only_pending_deliveries_that_are_due(
    receiver, endpoint, frozen, django_capture_on_commit_callbacks
):
    # given
    due_later = _make_delivery(endpoint, next_attempt_at=T0 - timedelta(seconds=1))
    due_first = _make_delivery(endpoint, next_attempt_at=T0 - timedelta(minutes=5))
    due_now = _make_delivery(endpoint, next_attempt_at=T0)
    _make_delivery(endpoint, next_attempt_at=T0 + timedelta(seconds=1))
    _make_delivery(endpoint, next_attempt_at=T0 - timedelta(hours=1), status=DELIVERED)
    _make_delivery(endpoint, next_attempt_at=T0 - timedelta(hours=1), status=FAILED)

    # when: the periodic task runs
    with django_capture_on_commit_callbacks(execute=True):
        tasks.webhooks_dispatch_due_task.delay()

    # then: oldest due first
    sent_ids = [r.headers["Loyalty-Event-Id"] for r in receiver.requests]
    assert sent_ids == [str(d.event_id) for d in (due_first, due_later, due_now)]
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert [statuses[d.pk] for d in (due_first, due_later, due_now)] == [DELIVERED] * 3


def test_dispatch_takes_one_query_per_batch(endpoint, frozen, django_capture_on_commit_callbacks):
    # given: five due deliveries, batches of two
    for seconds in range(5):
        _make_delivery(endpoint, next_attempt_at=T0 - timedelta(seconds=seconds))

    # when
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        dispatched = delivery.deliveries_dispatch_due(batch_size=2)

    # then: one UPDATE failing abandoned deliveries, then a SELECT per batch (2 + 2 + 1)
    assert dispatched == 5
    assert len(queries) == 1 + 3
    assert len(callbacks) == 3


def test_dispatch_fails_deliveries_abandoned_past_their_window(
    receiver, endpoint, frozen, dispatch
):
    # given: claimed for a final attempt at the window's end by a worker that then died
    abandoned = _make_delivery(
        endpoint,
        created_at=T0 - timedelta(hours=26),
        next_attempt_at=T0 - timedelta(hours=2) + delivery.CLAIM_LEASE,
        attempts=20,
    )

    # when
    dispatched = dispatch()

    # then
    assert dispatched == 0
    assert receiver.requests == []
    abandoned.refresh_from_db()
    assert abandoned.status == FAILED
    assert abandoned.last_error.startswith("Gave up")


def test_dispatch_schedule_is_created_idempotently_by_the_migration(db):
    # given
    migration = importlib.import_module(
        "webhooks.migrations.0002_delivery_retry_until_dispatch_schedule"
    )

    # when: run twice (the test database already ran it once, unless a flush removed it)
    migration.create_dispatch_schedule(apps, None)
    migration.create_dispatch_schedule(apps, None)

    # then
    task = PeriodicTask.objects.get(name="webhooks: dispatch due deliveries")
    assert task.task == "webhooks.tasks.webhooks_dispatch_due_task"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.MINUTES)
    assert PeriodicTask.objects.filter(task=task.task).count() == 1
    assert IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.MINUTES).count() == 1


# --- two workers -------------------------------------------------------------------------------


def test_a_delivery_can_be_claimed_only_once(receiver, endpoint, frozen):
    # given
    pending = _make_delivery(endpoint, next_attempt_at=T0)

    # when
    first = delivery.delivery_claim(delivery_id=pending.pk)
    second = delivery.delivery_claim(delivery_id=pending.pk)
    attempt = delivery.delivery_attempt(delivery_id=pending.pk)

    # then: the lease holds off every other attempt, including a whole second task
    assert (first, second, attempt) == (True, False, None)
    assert receiver.requests == []
    pending.refresh_from_db()
    assert pending.next_attempt_at == T0 + delivery.CLAIM_LEASE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_attempting_one_delivery_send_it_once(receiver, partner):
    # given: a slow partner, so both workers are in flight at once
    endpoint = services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)
    event = WebhookEvent.objects.create(type="points.earned", partner=partner, payload={"n": 1})
    pending = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    receiver.delay = 0.5

    # when
    results = run_at_once([lambda: delivery.delivery_attempt(delivery_id=pending.pk)] * 2)

    # then
    assert sorted(results, key=str) == [None, DELIVERED]
    assert len(receiver.requests) == 1
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == (DELIVERED, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", [200, 500])
def test_an_attempt_that_outlived_its_lease_leaves_the_delivery_to_its_new_holder(
    receiver, partner, answer
):
    # given: while the partner takes its time, the lease runs out and another claim takes over
    endpoint = services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)
    event = WebhookEvent.objects.create(type="points.earned", partner=partner, payload={"n": 1})
    pending = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    new_lease = timezone.now() + timedelta(hours=1)

    def lease_taken_over():
        WebhookDelivery.objects.filter(pk=pending.pk).update(next_attempt_at=new_lease)
        connections.close_all()  # (the server thread's own connection)

    receiver.on_request = lease_taken_over
    receiver.statuses.append(answer)

    # when
    status = delivery.delivery_attempt(delivery_id=pending.pk)

    # then: the late attempt records nothing over the new holder's claim
    assert status is None
    assert len(receiver.requests) == 1
    pending.refresh_from_db()
    assert (pending.status, pending.attempts, pending.next_attempt_at, pending.last_error) == (
        WebhookDelivery.Status.PENDING,
        0,
        new_lease,
        "",
    )
