"""The partner API's key cache: no query for a cached key, its use recorded, revocation at once."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import partners
from accounts import services as account_services
from accounts.models import PartnerApiKey
from loyalty.core.models import Purchase
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy, statements


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)


# --- the API key: cached per process, revocation at once in this process -----------------------


def test_a_cached_key_authenticates_without_a_query_and_records_its_use_once_a_minute(db):
    partner = factories.make_partner("Till")
    key, raw = account_services.api_key_create(partner=partner)
    # when: the first use reads the key and records its use
    with CaptureQueriesContext(connection) as first:
        found = account_services.api_key_authenticate_cached(raw)
    # then
    assert found == key and found.partner == partner
    assert len(first) == 2
    recorded = PartnerApiKey.objects.get(pk=key.pk).last_used_at
    assert recorded is not None
    # when: used again within the minute, no query at all
    with CaptureQueriesContext(connection) as second:
        again = account_services.api_key_authenticate_cached(raw)
    assert len(second) == 0
    assert again == key and again is not found and again.partner is not found.partner
    # when: two minutes later, the use is recorded again (one UPDATE, the key still cached)
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=2)),
        CaptureQueriesContext(connection) as later,
    ):
        account_services.api_key_authenticate_cached(raw)
    assert [sql.split()[0] for sql in statements(later)] == ["UPDATE"]
    assert PartnerApiKey.objects.get(pk=key.pk).last_used_at > recorded


def test_the_last_use_is_written_at_most_once_a_minute_whoever_knows_what(db):
    partner = factories.make_partner("Till")
    key, raw = account_services.api_key_create(partner=partner)
    account_services.api_key_authenticate_cached(raw)
    recorded = PartnerApiKey.objects.get(pk=key.pk).last_used_at
    # when: another process's cache does not know of that use (here: a cleared cache)
    account_services.api_key_cache_clear()
    account_services.api_key_authenticate_cached(raw)
    # then: its conditional UPDATE wrote nothing
    assert PartnerApiKey.objects.get(pk=key.pk).last_used_at == recorded


def test_a_revoked_key_is_refused_at_once_although_it_was_cached(api, member):
    # given: the key is cached
    assert buy(api, member, external_id="A").status_code == 201
    key = PartnerApiKey.objects.get(partner=api.partner)
    # when
    account_services.api_key_revoke(key=key)
    # then
    response = buy(api, member, external_id="B")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert Purchase.objects.filter(external_id="B").count() == 0


def test_a_deactivated_partner_is_refused_at_once_although_its_key_was_cached(api, member):
    assert buy(api, member, external_id="A").status_code == 201
    partner = api.partner
    partner.is_active = False
    partner.save(update_fields=["is_active"])
    assert buy(api, member, external_id="B").status_code == 401


def test_without_a_signal_a_revocation_takes_effect_within_the_cache_time(api, member):
    # given: the key is cached, then revoked behind the cache's back (as another process would)
    assert buy(api, member, external_id="A").status_code == 201
    PartnerApiKey.objects.filter(partner=api.partner).update(revoked_at=timezone.now())
    # then: still cached for now, refused once the cache time is over
    assert buy(api, member, external_id="B").status_code == 201
    partners._api_keys.expire()  # what the passing of API_KEY_CACHE_SECONDS does
    assert buy(api, member, external_id="C").status_code == 401


def test_unknown_keys_are_never_cached(db):
    assert account_services.api_key_authenticate_cached("nope.nope-nope-nope-nope") is None
    assert partners._api_keys.entries == {}
