"""Webhook events and their deliveries carry the member they are about
(loyalty.base.distribution): written with the event (on PostgreSQL by the purchase's one
statement), and filled by `manage.py member_ids_fill` for older rows from the payload's number."""

import pytest

from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy
from tests.member_copies import fill
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create


@pytest.fixture
def api(partner, base_rule, tiers, settings):
    settings.LOYALTY_API_RATE = None
    for n in range(2):  # two endpoints: two deliveries an event
        endpoint_create(partner=partner, url=f"https://shop.example/{n}", secret="s" * 20)
    return make_client(partner)


@pytest.fixture
def buyer(api):
    """A member who joins after the endpoints are there: their enrolment is an event too."""
    return factories.make_member(email="rasa@example.com")


def members_of_rows() -> set:
    """(event type, member) of every event and delivery."""
    return {
        *WebhookEvent.objects.values_list("type", "member_id"),
        *WebhookDelivery.objects.values_list("event__type", "member_id"),
    }


def test_events_and_their_deliveries_carry_their_member(api, buyer):
    assert buy(api, buyer, external_id="A").status_code == 201
    assert WebhookDelivery.objects.filter(event__type="points.earned").count() == 2
    assert members_of_rows() == {("member.enrolled", buyer.pk), ("points.earned", buyer.pk)}


def test_the_fill_finds_older_events_members_by_their_number_one_row_a_batch(api, buyer):
    # given: events and deliveries without the member, and an event whose number is nobody's
    for external_id in ("A", "B", "C"):
        assert buy(api, buyer, external_id=external_id).status_code == 201
    WebhookEvent.objects.update(member=None)
    WebhookDelivery.objects.update(member=None)
    stranger = WebhookEvent.objects.create(
        type="points.earned", payload={"data": {"member_number": "nobody"}}
    )
    # when: batch by batch through the events' UUID keys
    report = fill("webhooks_webhookevent", "webhooks_webhookdelivery", batch=1)
    # then: every row the source can answer for is filled, and only those were written
    assert "webhooks_webhookevent: 4 rows filled" in report  # (its enrolment and 3 purchases)
    assert "webhooks_webhookdelivery: 8 rows filled" in report
    assert members_of_rows() == {
        ("member.enrolled", buyer.pk),
        ("points.earned", buyer.pk),
        ("points.earned", None),
    }
    assert WebhookEvent.objects.get(pk=stranger.pk).member_id is None
    # and: run again, it has nothing to do
    assert "webhooks_webhookevent: 0 rows filled" in fill()
