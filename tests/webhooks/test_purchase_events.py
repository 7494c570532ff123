"""Webhook events of purchases over the API: recorded whenever an endpoint wants them."""

import pytest

from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create, endpoint_update


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)


@pytest.fixture
def other_api(db):
    return make_client(factories.make_partner("Other Shop"))


# --- webhooks: events recorded whenever an endpoint wants them (nothing cached) -----------------


def test_an_endpoint_made_after_a_purchase_gets_the_next_ones_events(api, member):
    # given: no endpoint
    assert buy(api, member, external_id="A").status_code == 201
    assert not WebhookEvent.objects.exists()
    # when
    endpoint = endpoint_create(
        partner=api.partner, url="https://shop.example/hook", secret="s" * 20
    )
    assert buy(api, member, external_id="B").status_code == 201
    # then
    event = WebhookEvent.objects.get()
    assert (event.type, event.partner_id) == ("points.earned", api.partner.pk)
    assert WebhookDelivery.objects.get().endpoint == endpoint
    # and an endpoint switched off gets nothing more
    endpoint_update(endpoint=endpoint, is_active=False)
    assert buy(api, member, external_id="C").status_code == 201
    assert WebhookEvent.objects.count() == 1


def test_endpoints_of_other_partners_or_other_events_get_nothing(api, other_api, member):
    endpoint_create(partner=other_api.partner, url="https://other.example/h", secret="s" * 20)
    endpoint_create(
        partner=api.partner,
        url="https://shop.example/h",
        secret="s" * 20,
        event_types=["voucher.used"],
    )
    assert buy(api, member, external_id="A").status_code == 201
    assert not WebhookEvent.objects.exists()


def test_a_program_wide_tier_change_reaches_any_endpoint(api, other_api, member):
    endpoint_create(
        partner=other_api.partner,
        url="https://other.example/h",
        secret="s" * 20,
        event_types=["tier.changed"],
    )
    assert buy(api, member, external_id="A", amount="500").status_code == 201
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["tier.changed"]


def test_endpoints_changed_without_signals_are_seen_at_once(api, member):
    endpoint = endpoint_create(partner=api.partner, url="https://shop.example/h", secret="s" * 20)
    assert buy(api, member, external_id="A").status_code == 201
    assert WebhookEvent.objects.count() == 1
    type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=False)
    assert buy(api, member, external_id="B").status_code == 201
    assert WebhookEvent.objects.count() == 1
    type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=True)
    assert buy(api, member, external_id="C").status_code == 201
    assert WebhookEvent.objects.count() == 2
