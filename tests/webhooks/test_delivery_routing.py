"""The webhook outbox: events in rolled-back transactions, routed to the endpoints wanting them."""

import pytest
from django.db import transaction

from tests import factories
from tests.webhooks.delivery_helpers import SECRET
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEvent


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
            event_type="points.earned",
            payload={"points": 5},
            partner=endpoint.partner,
            member_id=None,
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
