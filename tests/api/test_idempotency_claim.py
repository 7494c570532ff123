"""The Idempotency-Key claim on PostgreSQL (INSERT ... ON CONFLICT DO NOTHING) under concurrency."""

import threading

import pytest
from django.db import connection

from accounts.errors import MemberNotActive
from accounts.models import Member
from loyalty.core.models import IdempotencyRecord, LedgerEntry, PointLot, Purchase
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import _held_purchase
from tests.concurrency import run_at_once

# --- the idempotency claim on PostgreSQL: INSERT ... ON CONFLICT DO NOTHING -----------------------


def _first_and_second(partner, member, key, entered, release):
    body = {
        "member_number": member.member_number,
        "external_id": "SAME",
        "amount": "25.00",
        "currency": "EUR",
    }
    answers = {}
    second_done = threading.Event()

    def request(name, done=None):
        try:
            client = make_client(partner)
            client.raise_request_exception = False
            response = client.post("/api/v1/purchases/", body, idempotency_key=key)
            answers[name] = (
                response.status_code,
                response.json(),
                response.get("Idempotent-Replayed"),
            )
        finally:
            connection.close()
            if done is not None:
                done.set()

    first = threading.Thread(target=request, args=("first",))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=request, args=("second", second_done))
    second.start()
    # the second request waits on the first one's uncommitted key
    assert not second_done.wait(0.5)
    release.set()
    first.join(20)
    second.join(20)
    return answers["first"], answers["second"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_claim_waits_for_the_first_and_replays_it(monkeypatch):
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    entered, release = _held_purchase(monkeypatch, fail=False)
    # when
    first, second = _first_and_second(partner, member, "one-key", entered, release)
    # then
    assert first[0] == 201 and first[2] is None
    assert second == (201, first[1], "true")
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 25
    assert IdempotencyRecord.objects.get(key="one-key").response_status == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_claim_owns_the_key_when_the_first_rolls_back(monkeypatch):
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    entered, release = _held_purchase(monkeypatch, fail=True)
    # when
    first, second = _first_and_second(partner, member, "one-key", entered, release)
    # then: the first died with everything it wrote, key included; the second ran afresh
    assert first[0] == 500
    assert second[0] == 201 and second[2] is None
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 25
    assert IdempotencyRecord.objects.get(key="one-key").response_status == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refusals_under_one_key_are_one_stored_refusal():
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    body = {
        "member_number": member.member_number,
        "external_id": "SAME",
        "amount": "25.00",
        "currency": "EUR",
    }

    def post():
        response = make_client(partner).post("/api/v1/purchases/", body, idempotency_key="k")
        return response.status_code, response.json(), response.get("Idempotent-Replayed")

    results = run_at_once([post] * 6)
    assert all(not isinstance(r, Exception) for r in results), results
    assert {(status, body["code"]) for status, body, _ in results} == {
        (MemberNotActive.status, "member_not_active")
    }
    assert sorted(replayed or "" for _, _, replayed in results) == [""] + ["true"] * 5
    assert IdempotencyRecord.objects.filter(key="k").count() == 1
    assert not Purchase.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_purchases_of_one_member_keep_the_ledger_whole():
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()

    def post(i):
        return lambda: (
            make_client(partner)
            .post(
                "/api/v1/purchases/",
                {
                    "member_number": member.member_number,
                    "external_id": f"P-{i}",
                    "amount": "50.00",
                    "currency": "EUR",
                },
                idempotency_key=f"key-{i}",
            )
            .status_code
        )

    results = run_at_once([post(i) for i in range(8)])
    assert results == [201] * 8
    assert Member.objects.get(pk=member.pk).points_balance == 400
    balances = sorted(LedgerEntry.objects.values_list("balance_after", flat=True))
    assert balances == [50 * i for i in range(1, 9)]
    assert PointLot.objects.filter(member=member).count() == 8
