"""The same Idempotency-Key sent by several threads at once has exactly one effect."""

import pytest

from accounts.models import Member
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from tests import factories
from tests.api.conftest import make_client
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_requests_with_one_key_have_one_effect(settings):
    # given
    settings.LOYALTY_API_RATE = None
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    body = {
        "member_number": member.member_number,
        "external_id": "SAME",
        "amount": "25.00",
        "currency": "EUR",
    }

    def post():
        client = make_client(partner)
        response = client.post("/api/v1/purchases/", body, idempotency_key="one-key")
        return response.status_code, response.json()

    # when
    results = run_at_once([post] * 8)
    # then: every answer is the first one's 201 (replayed) or 409 in progress, never a 500
    assert all(not isinstance(r, Exception) for r in results), results
    statuses = sorted(status for status, _ in results)
    assert set(statuses) <= {201, 409}
    created = [body for status, body in results if status == 201]
    assert all(b == created[0] for b in created)
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 25
    assert IdempotencyRecord.objects.filter(key="one-key").count() == 1


def test_concurrent_same_purchase_under_different_keys_is_one_purchase(settings):
    settings.LOYALTY_API_RATE = None
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    body = {
        "member_number": member.member_number,
        "external_id": "SAME",
        "amount": "25.00",
        "currency": "EUR",
    }

    def post(i):
        return lambda: (
            make_client(partner)
            .post("/api/v1/purchases/", body, idempotency_key=f"key-{i}")
            .status_code
        )

    results = run_at_once([post(i) for i in range(6)])
    assert sorted(results) == [201] + [409] * 5
    assert Member.objects.get(pk=member.pk).points_balance == 25
