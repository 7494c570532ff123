"""Webhooks through the real broker: a purchase commits, its delivery task goes through Redis to
a Celery worker process, which signs and sends it to the partner's receiver, once; a failed
attempt is retried by the beat's dispatcher through the worker too."""

import json

import pytest
from django.db import transaction

from loyalty.core.purchases import purchase_record
from tests.webhooks.delivery_helpers import SECRET
from tests.worker import wait_until
from webhooks.delivery import deliveries_dispatch_due, verify_signature
from webhooks.models import WebhookDelivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]


def _buy(partner, member, external_id: str):
    with transaction.atomic():
        return purchase_record(
            partner=partner, member=member, external_id=external_id, amount="25.00", currency="EUR"
        )


def test_a_purchase_event_goes_through_the_broker_and_the_worker_delivers_it_once(
    partner, member, base_rule, endpoint, receiver, through_the_broker, workers
):
    # given
    worker = workers("w1")
    # when: the purchase commits (its delivery task goes to Redis after commit)
    _buy(partner, member, "BROKER-1")
    # then: the worker sent it, signed, and recorded it
    delivery = wait_until(
        lambda: WebhookDelivery.objects.filter(status="delivered").first(),
        30,
        "the worker did not deliver the event",
    )
    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    assert verify_signature(
        SECRET, sent.headers["Loyalty-Timestamp"], sent.body, sent.headers["Loyalty-Signature"]
    )
    body = json.loads(sent.body)
    assert body["type"] == "points.earned"
    assert body["data"]["purchase"] == "BROKER-1" and body["data"]["points"] == 25
    assert delivery.attempts == 1
    assert "deliver" in worker.text()


def test_a_failed_attempt_is_sent_again_by_the_dispatcher_through_the_worker(
    partner, member, base_rule, endpoint, receiver, through_the_broker, workers
):
    # given: the partner's receiver fails the first attempt
    receiver.statuses.append(503)
    workers("w1")
    _buy(partner, member, "BROKER-2")
    wait_until(
        lambda: WebhookDelivery.objects.filter(attempts=1, status="pending").exists(),
        30,
        "the first attempt was not made",
    )
    # when: the retry is due and the beat's dispatcher runs (it enqueues, the worker sends)
    WebhookDelivery.objects.update(next_attempt_at=WebhookDelivery.objects.get().created_at)
    with transaction.atomic():
        deliveries_dispatch_due()
    # then
    delivery = wait_until(
        lambda: WebhookDelivery.objects.filter(status="delivered").first(),
        30,
        "the dispatcher's attempt was not delivered",
    )
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
