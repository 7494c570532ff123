"""The webhook relay (webhooks.relay) against a real receiver and PostgreSQL: batches claimed,
sent on kept-alive connections, recorded; a request enqueues nothing while it runs; a dead
endpoint costs one attempt a batch; two relays at once send each delivery once."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.webhooks import Receiver, closed_port_url
from tests.webhooks.delivery_helpers import (
    DELIVERED,
    FAILED,
    PENDING,
    SECRET,
    T0,
    _delivery,
    _make_delivery,
)
from webhooks import delivery, relay, services
from webhooks.delivery import verify_signature
from webhooks.models import WebhookDelivery


@pytest.fixture(autouse=True)
def _fresh_relay_state():
    """What a relay process remembers (endpoints found down, kept-alive connections) starts
    empty in each test."""
    relay._down.clear()
    yield
    relay._down.clear()
    delivery._pool.clear()


def _due(endpoint, count, **fields):
    return [_make_delivery(endpoint, next_attempt_at=T0, **fields) for _ in range(count)]


def test_a_batch_sends_every_due_delivery_signed_and_records_it(receiver, endpoint, frozen):
    # given: three due deliveries, one due later, one already delivered
    due = _due(endpoint, 3)
    later = _make_delivery(endpoint, next_attempt_at=T0 + timedelta(minutes=1))
    done = _make_delivery(endpoint, next_attempt_at=T0, status=DELIVERED)

    # when
    claimed = relay.relay_batch()

    # then: the three went out, signed, and are delivered after one attempt each
    assert claimed == 3
    assert sorted(r.headers["Loyalty-Event-Id"] for r in receiver.requests) == sorted(
        str(d.event_id) for d in due
    )
    for request in receiver.requests:
        assert verify_signature(
            SECRET,
            request.headers["Loyalty-Timestamp"],
            request.body,
            request.headers["Loyalty-Signature"],
            tolerance=None,
        )
        assert json.loads(request.body) == {"n": 1}
    rows = WebhookDelivery.objects.filter(pk__in=[d.pk for d in due])
    assert {(d.status, d.attempts, d.last_status_code, d.delivered_at) for d in rows} == {
        (DELIVERED, 1, 200, T0)
    }
    # and the others are as they were
    later.refresh_from_db()
    done.refresh_from_db()
    assert (later.status, later.attempts) == (PENDING, 0)
    assert (done.status, done.attempts) == (DELIVERED, 0)
    assert relay.relay_batch() == 0


def test_an_endpoints_deliveries_go_out_on_a_few_kept_alive_connections(receiver, endpoint, frozen):
    receiver.keep_alive = True
    _due(endpoint, 21)

    relay.relay_batch()

    # the first alone, then four lanes of five, each on a connection it keeps
    assert len(receiver.requests) == 21
    assert len({request.client for request in receiver.requests}) <= relay.LANES_PER_ENDPOINT


def test_a_slow_endpoints_deliveries_go_out_in_lanes_side_by_side(receiver, endpoint, frozen):
    # given: a partner that takes 0.2 s to answer, and nine deliveries for it
    receiver.delay = 0.2
    deliveries = _due(endpoint, 9)

    # when
    started = time.monotonic()
    relay.relay_batch()
    took = time.monotonic() - started

    # then: the first alone, the other eight four at a time (about 0.6 s, not 1.8)
    assert receiver.most_in_flight == relay.LANES_PER_ENDPOINT
    assert took < 9 * 0.2
    rows = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {(row.status, row.attempts) for row in rows} == {(DELIVERED, 1)}


def test_an_endpoint_that_stops_answering_while_its_lanes_send_costs_a_few_attempts(
    receiver, endpoint, frozen
):
    # given: the partner answers the first delivery, then closes every connection unanswered
    deliveries = _due(endpoint, 13)

    def stop_answering_after_the_first():
        if receiver.requests:
            receiver.drops = 100

    receiver.on_request = stop_answering_after_the_first

    # when
    relay.relay_batch()

    # then: the first delivered; of the rest, at most one attempt a lane failed, and every one
    # waits the failed attempts' backoff (none left without a time)
    first, *rest = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).order_by("pk")
    assert (first.status, first.attempts) == (DELIVERED, 1)
    assert {(row.status, row.next_attempt_at) for row in rest} == {
        (PENDING, T0 + timedelta(seconds=30))
    }
    assert 1 <= sum(row.attempts for row in rest) <= relay.LANES_PER_ENDPOINT


def test_a_kept_connection_the_partner_ends_as_a_delivery_goes_out_costs_no_attempt(
    receiver, endpoint, frozen, monkeypatch
):
    monkeypatch.setattr(relay, "LANES_PER_ENDPOINT", 1)  # (one connection, then the new one)
    # given: the partner's server ends the kept-alive connection as the second request arrives
    receiver.keep_alive = True
    deliveries = _due(endpoint, 3)

    def drop_the_second():
        if len(receiver.requests) == 1:  # (the second is arriving)
            receiver.drops = 1

    receiver.on_request = drop_the_second

    # when
    relay.relay_batch()

    # then: sent again at once on a new connection; each delivered with one attempt
    rows = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {(d.status, d.attempts) for d in rows} == {(DELIVERED, 1)}
    assert len(receiver.requests) == 4  # the second twice
    assert len({request.client for request in receiver.requests}) == 2


def test_with_the_relay_on_a_request_enqueues_nothing_and_the_relay_sends_it(
    receiver, endpoint, frozen, emit, settings
):
    # given: the relay runs
    settings.LOYALTY_WEBHOOK_RELAY = True

    # when: an event is recorded and its transaction commits (eager Celery would send at once)
    event = emit(partner=endpoint.partner)

    # then: nothing was sent yet; the delivery waits, due
    assert receiver.requests == []
    assert (_delivery().status, _delivery().attempts) == (PENDING, 0)

    # when: the relay looks
    relay.relay_batch()

    # then
    assert [r.headers["Loyalty-Event-Id"] for r in receiver.requests] == [str(event.id)]
    assert _delivery().status == DELIVERED


def test_an_unreachable_endpoint_costs_one_attempt_a_batch_and_the_rest_wait_with_it(
    partner, frozen
):
    # given: an endpoint where nothing listens, with three due deliveries
    dead = services.endpoint_create(partner=partner, url=closed_port_url(), secret=SECRET)
    deliveries = _due(dead, 3)

    # when
    relay.relay_batch()

    # then: one attempt, refused, retried after the first backoff
    rows = list(WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).order_by("pk"))
    tried = [d for d in rows if d.attempts]
    assert len(tried) == 1
    assert "Connection refused" in tried[0].last_error
    # and the other two wait as long, with no attempt counted against them
    assert {(d.status, d.next_attempt_at) for d in rows} == {(PENDING, T0 + timedelta(seconds=30))}
    assert {(d.attempts, d.last_error) for d in rows if d not in tried} == {(0, "")}
    assert relay.relay_batch() == 0
    # and meanwhile this relay leaves the endpoint alone: its new deliveries wait, others go
    receiver = Receiver().start()
    try:
        alive = services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)
        (waiting,) = _due(dead, 1)
        (other,) = _due(alive, 1)
        assert relay.relay_batch() == 1
        waiting.refresh_from_db()
        other.refresh_from_db()
        assert (waiting.status, waiting.attempts) == (PENDING, 0)
        assert other.status == DELIVERED
    finally:
        receiver.stop()


def test_what_an_unanswering_endpoint_left_untried_past_its_window_fails(partner, frozen):
    # given: two deliveries a day old, their window closing now, for an endpoint that is down
    dead = services.endpoint_create(partner=partner, url=closed_port_url(), secret=SECRET)
    deliveries = _due(dead, 2)
    frozen.move_to(T0 + timedelta(hours=24), tick=False)
    # when
    relay.relay_batch()
    # then: the one tried fails for good, and so does the one the endpoint left untried
    rows = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {row.status for row in rows} == {FAILED}
    # (each with the time it failed: the failures' alert and housekeeping read it)
    assert sorted((row.attempts, row.last_attempt_at) for row in rows) == [
        (0, T0 + timedelta(hours=24)),
        (1, T0 + timedelta(hours=24)),
    ]


def test_a_batch_out_of_time_puts_back_what_it_did_not_send(
    receiver, endpoint, frozen, monkeypatch
):
    # given: a batch with no time at all (as if its first sends had taken all of it)
    monkeypatch.setattr(relay, "BATCH_SECONDS", -1)
    deliveries = _due(endpoint, 3)
    # when
    assert relay.relay_batch() == 3
    # then: nothing went out; all are due again at once, no attempt counted
    assert receiver.requests == []
    rows = WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries])
    assert {(r.status, r.attempts, r.next_attempt_at, r.last_attempt_at) for r in rows} == {
        (PENDING, 0, T0, None)
    }
    # and the next batch, with time, sends them
    monkeypatch.setattr(relay, "BATCH_SECONDS", 60)
    relay.relay_batch()
    assert len(receiver.requests) == 3


def test_a_refused_event_is_retried_alone_and_the_endpoints_others_still_go(
    receiver, endpoint, frozen
):
    receiver.statuses.append(500)
    first, second = _due(endpoint, 2)

    relay.relay_batch()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts, first.last_status_code) == (PENDING, 1, 500)
    assert first.last_error == "HTTP 500 Internal Server Error"
    assert first.next_attempt_at == T0 + timedelta(seconds=30)
    assert (second.status, second.attempts, second.last_status_code) == (DELIVERED, 1, 200)


def test_the_last_failure_in_the_window_fails_the_delivery(receiver, endpoint, frozen):
    receiver.default_status = 503
    (late,) = _due(endpoint, 1, attempts=7)
    frozen.move_to(T0 + timedelta(hours=24), tick=False)
    WebhookDelivery.objects.filter(pk=late.pk).update(next_attempt_at=T0 + timedelta(hours=24))

    relay.relay_batch()

    late.refresh_from_db()
    assert (late.status, late.attempts, late.last_status_code) == (FAILED, 8, 503)


def test_an_inactive_endpoints_delivery_fails_and_nothing_is_sent(receiver, endpoint, frozen):
    _due(endpoint, 1)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    relay.relay_batch()

    assert receiver.requests == []
    assert _delivery().status == FAILED
    assert "not active" in _delivery().last_error


def test_endpoints_are_sent_to_side_by_side_each_getting_its_own(partner, frozen):
    receivers = [Receiver().start() for _ in range(3)]
    try:
        endpoints = [
            services.endpoint_create(partner=partner, url=r.url(), secret=SECRET) for r in receivers
        ]
        for endpoint in endpoints:
            _due(endpoint, 4)

        relay.relay_batch()

        assert [len(r.requests) for r in receivers] == [4, 4, 4]
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DELIVERED}
    finally:
        for r in receivers:
            r.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_send_each_delivery_exactly_once(receiver, partner):
    # given: 120 due deliveries
    endpoint = services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)
    assert connection.vendor == "postgresql"  # (SKIP LOCKED is what is tested)
    now = timezone.now()
    deliveries = [_make_delivery(endpoint, next_attempt_at=now, created_at=now) for _ in range(120)]
    start = threading.Barrier(2)
    claimed: list[int] = []

    def relay_until_empty():
        try:
            start.wait()
            while taken := relay.relay_batch(limit=9):
                claimed.append(taken)
        finally:
            connection.close()

    # when: two relays, each on its own connection, take small batches at once
    threads = [threading.Thread(target=relay_until_empty) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)

    # then: every event reached the receiver once, and every delivery is delivered once
    sent = [r.headers["Loyalty-Event-Id"] for r in receiver.requests]
    assert sorted(sent) == sorted(str(d.event_id) for d in deliveries)
    assert sum(claimed) == 120
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DELIVERED, 1)}


@pytest.mark.django_db(transaction=True)
def test_the_running_relay_finds_new_deliveries_and_stops_when_told(receiver, partner):
    # given: a relay looking every 50 ms, on its own connection
    endpoint = services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)
    stop = threading.Event()

    def run():
        try:
            relay.relay_run(stop=stop, idle_seconds=0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        # when: an event is recorded while it runs
        delivery = _make_delivery(endpoint, next_attempt_at=timezone.now())
        # then: it goes out within a moment
        for _ in range(100):
            delivery.refresh_from_db()
            if delivery.status == DELIVERED:
                break
            threading.Event().wait(0.05)
        assert delivery.status == DELIVERED
        assert [r.headers["Loyalty-Event-Id"] for r in receiver.requests] == [
            str(delivery.event_id)
        ]
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
