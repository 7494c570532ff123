"""Webhook delivery failures against a real receiver: backoff, retries, the 24-hour window."""

from datetime import UTC, datetime, timedelta

from tests.webhooks import closed_port_url
from tests.webhooks.delivery_helpers import DELIVERED, FAILED, PENDING, SECRET, T0, _delivery
from webhooks import delivery, services, tasks
from webhooks.models import WebhookDelivery


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
        services.event_emit(
            event_type="points.earned", payload={}, partner=endpoint.partner, member_id=None
        )
    services.endpoint_update(endpoint=endpoint, is_active=False)

    # when
    result = delivery.delivery_attempt(delivery_id=_delivery().pk)

    # then
    assert result == FAILED
    assert receiver.requests == []
    sent = _delivery()
    assert (sent.status, sent.attempts) == (FAILED, 0)
    assert "not active" in sent.last_error
