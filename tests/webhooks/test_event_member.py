"""Webhook events and their deliveries carry the member they are about
(loyalty.base.distribution): written with the event (on PostgreSQL by the purchase's one
statement), and filled by migration webhooks/0005 for older rows from the payload's number."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create

fill = importlib.import_module("webhooks.migrations.0005_member_on_events_and_deliveries").fill


@pytest.fixture
def api(partner, base_rule, tiers, settings):
    settings.LOYALTY_API_RATE = None
    for n in range(2):  # two endpoints: two deliveries an event
        endpoint_create(partner=partner, url=f"https://shop.example/{n}", secret="s" * 20)
    return make_client(partner)


def members_of_rows() -> set:
    """(event type, member) of every event and delivery (the member's enrolment, to the
    endpoints made before it, has its own)."""
    return {
        *WebhookEvent.objects.values_list("type", "member_id"),
        *WebhookDelivery.objects.values_list("event__type", "member_id"),
    } - {("member.enrolled", None)}


def test_a_purchases_event_and_its_deliveries_carry_the_buyer(api, member):
    assert buy(api, member, external_id="A").status_code == 201
    assert WebhookDelivery.objects.filter(event__type="points.earned").count() == 2
    assert members_of_rows() - {("member.enrolled", member.pk)} == {("points.earned", member.pk)}


def test_the_migration_fills_events_written_before_it_from_their_member_number(api, member):
    # given: events and deliveries without the member, and an event whose number matches nobody
    assert buy(api, member, external_id="A").status_code == 201
    assert buy(api, member, external_id="B").status_code == 201
    WebhookEvent.objects.update(member=None)
    WebhookDelivery.objects.update(member=None)
    stranger = WebhookEvent.objects.create(
        type="points.earned", payload={"data": {"member_number": "nobody"}}
    )
    # when: the migration's step (it reads only the editor's connection)
    fill(apps, SimpleNamespace(connection=connection))
    # then
    assert members_of_rows() - {("member.enrolled", member.pk)} == {
        ("points.earned", member.pk),
        ("points.earned", None),
    }
    assert WebhookEvent.objects.get(pk=stranger.pk).member_id is None
    assert not WebhookDelivery.objects.filter(member=None).exists()
