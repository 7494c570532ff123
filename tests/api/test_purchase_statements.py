"""The statements a purchase over the API runs, and its refusals rolled back and stored."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.errors import MemberNotActive
from accounts.models import Member
from loyalty.core.buyer import member_for_purchase
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from tests.api.purchase_helpers import buy, statements

PROBLEM = "application/problem+json"


def claims(sql: list[str]) -> list[str]:
    """The Idempotency-Key claims among the statements (prepared on PostgreSQL)."""
    return [
        s
        for s in sql
        if "loyalty_idempotency_claim" in s
        or s.startswith('INSERT INTO "loyalty_idempotencyrecord"')
    ]


# --- the statements of a purchase -------------------------------------------------------------


def test_a_purchase_over_the_api_takes_few_statements(api, member):
    # given: the key, the rules and the tiers are cached
    assert buy(api, member, external_id="warm").status_code == 201
    # when
    with CaptureQueriesContext(connection) as queries:
        response = buy(api, member, external_id="counted")
    # then
    assert response.status_code == 201, response.content
    sql = statements(queries)
    for table in ["accounts_partnerapikey", "loyalty_earningrule", "loyalty_tier"]:
        assert not any(s.startswith(f'SELECT "{table}"') for s in sql), sql
    assert not any(s.startswith('SELECT "referrals_referral"') for s in sql), sql
    if connection.vendor == "postgresql":
        # whether the partner has a webhook endpoint comes with the purchase's statement
        assert not any(s.startswith('SELECT "webhooks_webhookendpoint"') for s in sql), sql
        # the request's transaction (a savepoint in the test's), the claim, the member (and
        # its row lock), the purchase with its credit and the tier points, the answer
        assert len(sql) <= 6, sql
        assert not any("SUM(" in s.upper() for s in sql), sql
    else:
        # the portable path: the claim in a savepoint, the writes one by one, the endpoints
        assert len(sql) <= 15, sql


@pytest.mark.parametrize("amount", ["12.50", "0.40"], ids=["with points", "no points"])
def test_a_refusal_after_writing_is_rolled_back_then_stored_with_a_savepoint(api, member, amount):
    # given: a purchase is recorded (0.40 earns nothing: the plain INSERT path)
    assert buy(api, member, external_id="DUP", amount=amount).status_code == 201
    entries = LedgerEntry.objects.filter(member=member).count()
    # when: the same purchase id under another key. Without a savepoint the service's failure
    # dooms the transaction, so it is rolled back, key too, and the request runs again.
    with CaptureQueriesContext(connection) as queries:
        response = buy(api, member, external_id="DUP", amount=amount, key="second")
    # then
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "duplicate_purchase"
    sql = statements(queries)
    if connection.vendor == "postgresql":
        assert len(claims(sql)) == 2, sql  # the first pass's claim was rolled back with it
    assert any(s.upper().startswith("RELEASE SAVEPOINT") or "ROLLBACK TO" in s.upper() for s in sql)
    assert Purchase.objects.filter(external_id="DUP").count() == 1
    assert LedgerEntry.objects.filter(member=member).count() == entries
    # the refusal is kept for the key and replayed
    record = IdempotencyRecord.objects.get(partner=api.partner, key="second")
    assert record.response_status == 409
    replay = buy(api, member, external_id="DUP", amount=amount, key="second")
    assert replay.status_code == 409 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()


def test_a_refusal_before_writing_needs_no_second_pass(api, member):
    with CaptureQueriesContext(connection) as queries:
        response = buy(api, member, external_id="X", amount="12.50", currency="USD")
    assert response.status_code == 422, response.content
    assert len(claims(statements(queries))) == 1
    assert IdempotencyRecord.objects.get(partner=api.partner).response_status == 422


def test_a_member_in_the_top_tier_costs_no_tier_query(api, member, tiers):
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    assert buy(api, member, external_id="warm").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert buy(api, member, external_id="counted").status_code == 201
    assert not any("SUM(" in sql.upper() for sql in statements(queries))


# --- refusals after the purchase's INSERT: rolled back, then stored for the key -------------------


def test_a_refusal_after_the_insert_rolls_back_and_is_stored(api, member, monkeypatch):
    # given: the view finds the member before the membership is closed
    stale = member_for_purchase(member.member_number)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    monkeypatch.setattr("loyalty.core.api.purchases.member_for_purchase", lambda number: stale)
    # when
    first = buy(api, member, external_id="X-1", key="k-closed")
    second = buy(api, member, external_id="X-1", key="k-closed")
    # then
    assert first.status_code == MemberNotActive.status and first["Content-Type"] == PROBLEM
    assert first.json()["code"] == "member_not_active"
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second["Idempotent-Replayed"] == "true"
    assert not Purchase.objects.exists()
    record = IdempotencyRecord.objects.get(key="k-closed")
    assert (record.response_status, record.response_content_type) == (first.status_code, PROBLEM)


def test_a_duplicate_under_another_key_is_a_stored_409(api, member):
    assert buy(api, member, external_id="X-1", key="k-1").status_code == 201
    first = buy(api, member, external_id="X-1", key="k-2")
    second = buy(api, member, external_id="X-1", key="k-2")
    assert first.status_code == 409 and first.json()["code"] == "duplicate_purchase"
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 12
