"""Webhook delivery against a real HTTP receiver on 127.0.0.1."""

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests import factories
from tests.concurrency import run_at_once
from tests.webhooks import Receiver, closed_port_url
from webhooks import delivery, services, tasks
from webhooks.delivery import verify_signature
from webhooks.models import WebhookDelivery, WebhookEvent

SECRET = "s3cret-shared-with-the-partner"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PENDING = WebhookDelivery.Status.PENDING
DELIVERED = WebhookDelivery.Status.DELIVERED
FAILED = WebhookDelivery.Status.FAILED


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(partner, receiver):
    return services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """event_emit in its own transaction, running the after-commit enqueue (eager Celery)."""

    def emit(event_type="points.earned", payload=None, partner=None):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return services.event_emit(
                event_type=event_type, payload=payload or {"points": 10}, partner=partner
            )

    return emit


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    def dispatch(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return delivery.deliveries_dispatch_due(**kwargs)

    return dispatch


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


# --- one delivery, signed ----------------------------------------------------------------------


def test_delivery_reaches_the_receiver_signed_with_the_exact_body(receiver, endpoint, frozen, emit):
    # given
    payload = {"member_number": "M-000001", "points": 12, "name": "Ona Žemaitė"}

    # when
    event = emit(event_type="points.earned", payload=payload, partner=endpoint.partner)

    # then
    [request] = receiver.requests
    stored = WebhookEvent.objects.get(pk=event.pk).payload
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.body == json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(request.body) == {
        "id": str(event.id),
        "type": "points.earned",
        "created_at": T0.isoformat(),
        "data": payload,
    }
    assert "Ona Žemaitė".encode() in request.body
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Loyalty-Event-Id"] == str(event.id)
    assert headers["Loyalty-Event-Type"] == "points.earned"
    assert headers["Loyalty-Timestamp"] == str(int(T0.timestamp()))
    assert headers["Loyalty-Signature"].startswith("v1=")
    assert verify_signature(
        SECRET, headers["Loyalty-Timestamp"], request.body, headers["Loyalty-Signature"]
    )
    assert not verify_signature(
        "another-secret-entirely",
        headers["Loyalty-Timestamp"],
        request.body,
        headers["Loyalty-Signature"],
    )
    sent = _delivery()
    assert (sent.status, sent.attempts, sent.last_status_code, sent.last_error) == (
        DELIVERED,
        1,
        200,
        "",
    )
    assert sent.delivered_at == T0
    assert sent.last_attempt_at == T0


def test_verify_signature_refuses_tampering_replays_and_junk(frozen):
    # given
    body = b'{"id":"e1","type":"points.earned"}'
    timestamp = str(int(T0.timestamp()))
    header = delivery.signature_header(SECRET, timestamp, body)

    # then
    assert verify_signature(SECRET, timestamp, body, header)
    assert verify_signature(SECRET, int(timestamp), body.decode(), header)
    assert verify_signature(SECRET, timestamp, body, f"v1=deadbeef, {header}")  # key rotation
    assert not verify_signature(SECRET, timestamp, body + b" ", header)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), body, header)
    assert not verify_signature(SECRET, timestamp, body, header.replace("v1=", "v0="))
    assert not verify_signature(SECRET, "not-a-number", body, header)
    assert not verify_signature(SECRET, timestamp, body, "")
    assert not verify_signature(SECRET, timestamp, body, None)
    # a request signed six minutes ago is a replay, unless the tolerance is switched off
    frozen.move_to(T0 + timedelta(minutes=6), tick=False)
    assert not verify_signature(SECRET, timestamp, body, header)
    assert verify_signature(SECRET, timestamp, body, header, tolerance=None)


# --- failures, backoff and the 24-hour window --------------------------------------------------


def test_tasks_ack_late_and_the_schedule_names_the_dispatcher():
    assert tasks.webhook_deliver_task.acks_late
    assert tasks.webhooks_dispatch_due_task.acks_late
    assert tasks.webhooks_dispatch_due_task.name == "webhooks.tasks.webhooks_dispatch_due_task"


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    delays = [delivery.backoff_delay(n).total_seconds() for n in range(1, 11)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert delivery.backoff_delay(1000) == timedelta(hours=1)


def test_a_500_is_retried_with_backoff_until_it_succeeds(
    receiver, endpoint, frozen, emit, dispatch
):
    # given: the partner answers 500 twice, then 200
    receiver.statuses.extend([500, 500])

    # when: the first attempt, right after commit
    emit(partner=endpoint.partner)

    # then
    first = _delivery()
    assert (first.status, first.attempts, first.last_status_code) == (PENDING, 1, 500)
    assert first.last_error == "HTTP 500 Internal Server Error"
    assert first.next_attempt_at == T0 + timedelta(seconds=30)

    # when: the dispatcher runs a second early, then on time
    frozen.move_to(T0 + timedelta(seconds=29), tick=False)
    early = dispatch()
    frozen.move_to(T0 + timedelta(seconds=30), tick=False)
    on_time = dispatch()

    # then: one more attempt, and the wait doubles
    assert (early, on_time) == (0, 1)
    second = _delivery()
    assert (second.status, second.attempts, second.last_status_code) == (PENDING, 2, 500)
    assert second.next_attempt_at == T0 + timedelta(seconds=30 + 60)

    # when
    frozen.move_to(T0 + timedelta(seconds=90), tick=False)
    dispatch()

    # then
    done = _delivery()
    assert (done.status, done.attempts, done.last_status_code, done.last_error) == (
        DELIVERED,
        3,
        200,
        "",
    )
    assert done.delivered_at == T0 + timedelta(seconds=90)
    assert len(receiver.requests) == 3
    assert len({r.headers["Loyalty-Event-Id"] for r in receiver.requests}) == 1
    assert [r.headers["Loyalty-Timestamp"] for r in receiver.requests] == [
        str(int((T0 + timedelta(seconds=s)).timestamp())) for s in (0, 30, 90)
    ]


def test_a_refused_connection_schedules_a_retry(partner, frozen, emit):
    # given: nothing listens on the endpoint's port
    services.endpoint_create(partner=partner, url=closed_port_url(), secret=SECRET)

    # when
    emit(partner=partner)

    # then
    sent = _delivery()
    assert (sent.status, sent.attempts, sent.last_status_code) == (PENDING, 1, None)
    assert "Connection refused" in sent.last_error
    assert sent.next_attempt_at == T0 + timedelta(seconds=30)
    assert sent.delivered_at is None


def test_a_timeout_schedules_a_retry(receiver, endpoint, frozen, emit, monkeypatch):
    # given: a partner slower than the timeout (shortened from 10 s to keep the test fast)
    assert delivery.TIMEOUT_SECONDS == 10
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.3)
    receiver.delay = 5

    # when
    emit(partner=endpoint.partner)

    # then
    sent = _delivery()
    assert (sent.status, sent.attempts, sent.last_status_code) == (PENDING, 1, None)
    assert sent.last_error == "No response within 0.3 s (timed out)."
    assert sent.next_attempt_at == T0 + timedelta(seconds=30)
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed_but_retried(receiver, endpoint, frozen, emit):
    # given
    receiver.statuses.append(302)

    # when
    emit(partner=endpoint.partner)

    # then
    sent = _delivery()
    assert (sent.status, sent.last_status_code, sent.last_error) == (PENDING, 302, "HTTP 302 Found")
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_after_24_hours_of_failures_the_delivery_fails(receiver, endpoint, frozen, emit, dispatch):
    # given: a partner that always answers 503
    receiver.default_status = 503
    emit(partner=endpoint.partner)

    # when: an attempt late in the window; its retry is moved up to the window's end
    frozen.move_to(T0 + timedelta(hours=23, minutes=59, seconds=30), tick=False)
    dispatch()

    # then
    late = _delivery()
    assert (late.status, late.attempts) == (PENDING, 2)
    assert late.next_attempt_at == T0 + timedelta(hours=24)

    # when: the last attempt, at 24 hours
    frozen.move_to(T0 + timedelta(hours=24), tick=False)
    dispatch()

    # then: failed for good
    failed = _delivery()
    assert (failed.status, failed.attempts, failed.last_status_code) == (FAILED, 3, 503)
    assert failed.delivered_at is None

    # when: the dispatcher and a stray task come round again
    frozen.move_to(T0 + timedelta(hours=30), tick=False)
    again = dispatch()
    tasks.webhook_deliver_task(failed.pk)

    # then: nothing more is sent
    assert again == 0
    assert len(receiver.requests) == 3
    assert _delivery().attempts == 3


def test_a_delivered_delivery_is_not_sent_again(receiver, endpoint, emit, dispatch):
    # given
    emit(partner=endpoint.partner)
    WebhookDelivery.objects.update(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))

    # when
    tasks.webhook_deliver_task(_delivery().pk)
    dispatched = dispatch()

    # then
    assert dispatched == 0
    assert len(receiver.requests) == 1
    assert (_delivery().status, _delivery().attempts) == (DELIVERED, 1)


def test_a_deactivated_endpoint_gets_nothing_and_the_delivery_fails(
    receiver, endpoint, frozen, django_capture_on_commit_callbacks
):
    # given: an event emitted, then the endpoint switched off before the attempt
    with django_capture_on_commit_callbacks(execute=False):
        services.event_emit(event_type="points.earned", payload={}, partner=endpoint.partner)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    # when
    result = delivery.delivery_attempt(delivery_id=_delivery().pk)

    # then
    assert result == FAILED
    assert receiver.requests == []
    sent = _delivery()
    assert (sent.status, sent.attempts) == (FAILED, 0)
    assert "not active" in sent.last_error


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


# --- the outbox: transactions and routing ------------------------------------------------------


def test_an_event_in_a_rolled_back_transaction_sends_and_stores_nothing(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    # when
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.event_emit(
            event_type="points.earned", payload={"points": 5}, partner=endpoint.partner
        )
        raise RuntimeError("the purchase failed")

    # then
    assert callbacks == []
    assert receiver.requests == []
    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_a_partners_event_goes_only_to_that_partners_endpoints(db, receiver, emit):
    # given
    shop = factories.make_partner("Shop")
    cafe = factories.make_partner("Cafe")
    for path in ("/shop-1", "/shop-2"):
        services.endpoint_create(partner=shop, url=receiver.url(path), secret=SECRET)
    services.endpoint_create(partner=cafe, url=receiver.url("/cafe"), secret=SECRET)
    services.endpoint_create(
        partner=cafe, url=receiver.url("/cafe-off"), secret=SECRET, is_active=False
    )

    # when
    emit(partner=shop)

    # then
    assert sorted(r.path for r in receiver.requests) == ["/shop-1", "/shop-2"]

    # when: a program-wide event (no partner)
    receiver.requests.clear()
    emit(event_type="points.expired", partner=None)

    # then: every active endpoint of every partner
    assert sorted(r.path for r in receiver.requests) == ["/cafe", "/shop-1", "/shop-2"]


def test_an_endpoint_gets_only_the_event_types_it_asked_for(receiver, partner, emit):
    # given
    services.endpoint_create(
        partner=partner, url=receiver.url("/earned"), secret=SECRET, event_types=["points.earned"]
    )
    services.endpoint_create(partner=partner, url=receiver.url("/all"), secret=SECRET)

    # when
    emit(event_type="points.earned", partner=partner)
    emit(event_type="tier.changed", partner=partner)

    # then
    sent = sorted((r.path, r.headers["Loyalty-Event-Type"]) for r in receiver.requests)
    assert sent == [
        ("/all", "points.earned"),
        ("/all", "tier.changed"),
        ("/earned", "points.earned"),
    ]


def test_an_event_nobody_wants_is_not_stored(receiver, partner, emit):
    # given
    services.endpoint_create(
        partner=partner, url=receiver.url(), secret=SECRET, event_types=["voucher.used"]
    )

    # when
    event = emit(event_type="points.earned", partner=partner)

    # then
    assert event is None
    assert WebhookEvent.objects.count() == 0
    assert receiver.requests == []


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


# --- send again and housekeeping ---------------------------------------------------------------


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
