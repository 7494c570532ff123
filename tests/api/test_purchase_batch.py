"""POST /api/v1/purchases/batch/: up to 1,000 purchases in one request, each answered for itself
exactly as POST /api/v1/purchases/ would answer it, one Idempotency-Key for the whole batch."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Member
from loyalty.core.models import Anomaly, IdempotencyRecord, LedgerEntry, Purchase
from loyalty.core.purchase_batch import BATCH_MAX, BatchPurchase, purchases_record_batch
from loyalty.core.purchases import purchase_record
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy, statements
from tests.api.test_key_scopes import assert_insufficient_scope, scoped_client
from tests.concurrency import run_at_once
from tests.ledger import assert_ledger_invariants
from webhooks.models import WebhookEvent
from webhooks.services import endpoint_create

BATCH = "/api/v1/purchases/batch/"
PROBLEM = "application/problem+json"
MONEY_ERROR = (
    'Give an amount as a string like "12.50" or a number, with at most two decimals, from 0.01 '
    "to 9999999999.99."
)


def item(member, external_id: str, amount: str = "10.00", **extra) -> dict:
    number = member if isinstance(member, str) else member.member_number
    return {
        "member_number": number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
        **extra,
    }


def send(api, purchases, key=None):
    return api.post(BATCH, {"purchases": purchases}, idempotency_key=key)


def outcomes(response) -> list[tuple]:
    """(status, code or points) of each result, in order."""
    return [
        (r["status"], r["problem"]["code"] if "problem" in r else r["purchase"]["points_earned"])
        for r in response.json()["results"]
    ]


def counts() -> dict:
    return {
        "purchases": Purchase.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "keys": IdempotencyRecord.objects.count(),
        "events": WebhookEvent.objects.count(),
        "anomalies": Anomaly.objects.count(),
    }


@pytest.fixture
def closed(tiers):
    member = factories.make_member(email="gone@example.com")
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    return member


# --- a result per purchase ----------------------------------------------------------------------


def test_each_purchase_is_answered_for_itself_and_refusals_spoil_nothing(
    api, partner, member, closed
):
    # given: a partner that hears of points earned, and a largest amount of 500
    endpoint_create(partner=partner, url="https://example.com/h", secret="s" * 20)
    partner.max_purchase_amount = Decimal("500.00")
    partner.save()
    purchases = [
        item(member, "A-1", "12.50"),
        item("000000000", "A-2"),  # no such member
        item(member, "A-3", "5.00", lines=[{"sku": "X", "amount": "4.00"}]),  # do not add up
        item(member, "A-4", currency="USD"),
        item(closed, "A-5"),
        item(member, "A-6", "600.00"),  # above the partner's largest amount
        item(member, "A-1", "12.50"),  # the same id again in this batch
        item(member, "A-8", occurred_at="2000-01-01T00:00:00Z"),  # outside the reporting window
        item(member, "A-7", "7.00", lines=[{"sku": "X", "amount": "7.00"}]),
    ]
    # when
    response = send(api, purchases)
    # then
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert outcomes(response) == [
        (201, 12),
        (404, "member_not_found"),
        (422, "invalid_purchase"),
        (422, "currency_mismatch"),
        (422, "member_not_active"),
        (422, "purchase_amount_over_limit"),
        (409, "duplicate_in_batch"),
        (422, "invalid_purchase"),
        (201, 7),
    ]
    assert [r["index"] for r in body["results"]] == list(range(9))
    assert (body["recorded"], body["existing"], body["refused"]) == (2, 0, 7)
    first, last = body["results"][0], body["results"][8]
    assert first["existing"] is False
    assert first["purchase"]["member"]["points_balance"] == 12
    assert last["purchase"]["member"]["points_balance"] == 19
    # only the two good purchases were written, each with its own event, and the refusal over
    # the limit is an anomaly for staff, as alone
    assert sorted(Purchase.objects.values_list("external_id", flat=True)) == ["A-1", "A-7"]
    assert Member.objects.get(pk=member.pk).points_balance == 19
    assert Member.objects.get(pk=closed.pk).points_balance == 0
    earned = WebhookEvent.objects.filter(type="points.earned").order_by("created_at")
    assert [e.payload["data"]["purchase"] for e in earned] == ["A-1", "A-7"]
    assert Anomaly.objects.get().kind == Anomaly.Kind.OVER_LIMIT
    assert_ledger_invariants()
    # and each refusal is the problem the purchase alone is answered with
    for index in (1, 2, 3, 4, 5, 7):
        alone = api.post("/api/v1/purchases/", purchases[index])
        assert body["results"][index]["problem"] == alone.json(), index


def test_a_purchase_that_breaks_the_schema_refuses_the_whole_batch(api, partner, member):
    # given: good purchases, and five that break the purchase's schema
    endpoint_create(partner=partner, url="https://example.com/h", secret="s" * 20)
    purchases = [
        item(member, "B-1", "12.50"),
        item(member, "B-2", "1.999"),  # three decimals
        item(member, "B-3", currency="XYZ"),  # no such currency
        {"external_id": "B-4", "amount": "1.00", "currency": "EUR"},  # no member number
        item(member, "B-5", lines=[{"sku": "X", "quantity": "2", "amount": "10.00"}]),
        "not an object",
        item(member, "B-7", "7.00"),
    ]
    before = counts()
    # when
    response = send(api, purchases, key="malformed")
    # then: a 400 that names each bad purchase by its index, then its fields
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["errors"] == {
        "purchases": {
            "1": {"amount": [MONEY_ERROR]},
            "2": {"currency": ['"XYZ" is not a valid choice.']},
            "3": {"member_number": ["This field is required."]},
            "4": {"lines": [{"quantity": ["A valid integer is required."]}]},
            "5": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        }
    }
    # nothing was recorded: no purchase, entry, event or anomaly; the refusal is kept for the key
    assert counts() == {**before, "keys": before["keys"] + 1}
    assert Member.objects.get(pk=member.pk).points_balance == 0
    again = send(api, purchases, key="malformed")
    assert (again.status_code, again.content) == (400, response.content)
    assert again["Idempotent-Replayed"] == "true"
    assert_ledger_invariants()


def test_a_purchase_answers_in_the_batch_as_it_would_alone(api, other_api, member):
    # given: the same purchase sent alone by another partner (its own purchase ids)
    lines = [{"sku": "LATTE", "quantity": 2, "amount": "7.00", "category": "coffee"}]
    alone = buy(other_api, member, external_id="S-1", amount="7.00", lines=lines)
    assert alone.status_code == 201
    # when
    response = send(api, [item(member, "S-1", "7.00", lines=lines)])
    # then: the same body, but for the balance, which now counts both
    result = response.json()["results"][0]
    assert result["status"] == 201
    expected = alone.json()
    expected["member"]["points_balance"] = 14
    assert result["purchase"] == expected


def test_purchases_earn_in_the_order_sent_and_a_tier_earned_applies_to_the_next(
    api, partner, member, tiers
):
    # given: Silver (x1.25) from 500 qualifying points; a partner that hears of tier changes
    endpoint_create(partner=partner, url="https://example.com/h", secret="s" * 20)
    # when
    response = send(api, [item(member, "T-1", "100.00"), item(member, "T-2", "450.00"),
                          item(member, "T-3", "100.00")])  # fmt: skip
    # then
    assert outcomes(response) == [(201, 100), (201, 450), (201, 125)]
    tiers_seen = [r["purchase"]["member"]["tier"]["code"] for r in response.json()["results"]]
    assert tiers_seen == ["bronze", "silver", "silver"]
    assert WebhookEvent.objects.filter(type="tier.changed").count() == 1


# --- idempotent: the whole batch by its key, each purchase by its id ----------------------------


def test_the_same_batch_under_the_same_key_replays_and_writes_nothing(api, member):
    # given
    purchases = [item(member, "R-1"), item("000000000", "R-2"), item(member, "R-3", "5.00")]
    first = send(api, purchases, key="batch-1")
    before = counts()
    # when
    again = send(api, purchases, key="batch-1")
    reused = send(api, [*purchases, item(member, "R-4")], key="batch-1")
    # then
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert counts() == before
    assert Member.objects.get(pk=member.pk).points_balance == 15


def test_purchases_recorded_before_answer_what_was_recorded_and_are_not_recorded_again(api, member):
    # given: one purchase sent alone, two in an earlier batch
    alone = buy(api, member, external_id="E-1", amount="20.00")
    earlier = send(api, [item(member, "E-2", "5.00"), item(member, "E-3", "3.00")])
    before = counts()
    # when: a new batch (another key) sends them again, with a new one and an id reused
    response = send(
        api,
        [
            item(member, "E-1", "20.00"),
            item(member, "E-4", "4.00"),
            item(member, "E-2", "5.00"),
            item(member, "E-3", "30.00"),  # the same id with another amount: a conflict
        ],
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert outcomes(response) == [(200, 20), (201, 4), (200, 5), (409, "duplicate_purchase")]
    assert (body["recorded"], body["existing"], body["refused"]) == (1, 2, 1)
    again = body["results"][0]
    assert again["existing"] is True
    assert {k: again["purchase"][k] for k in ("explanation", "rules", "external_id")} == {
        k: alone.json()[k] for k in ("explanation", "rules", "external_id")
    }
    # each answers the member as the batch left them at that point
    assert again["purchase"]["member"]["points_balance"] == 28
    assert body["results"][2]["purchase"]["member"]["points_balance"] == 32
    assert (
        earlier.json()["results"][0]["purchase"]["rules"] == body["results"][2]["purchase"]["rules"]
    )
    after = counts()
    assert after["purchases"] == before["purchases"] + 1
    assert after["entries"] == before["entries"] + 1
    assert Member.objects.get(pk=member.pk).points_balance == 32


# --- the envelope -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"purchases": []}, "invalid_batch_size"),
        ({"purchases": "none"}, "invalid_request"),
        ({}, "invalid_request"),
        ([{"member_number": "1"}], "invalid_request"),
    ],
    ids=["empty", "not a list", "no purchases", "not an object"],
)
def test_a_batch_that_is_no_list_of_1_to_1000_purchases_is_a_400(api, member, body, code):
    before = counts()
    response = api.post(BATCH, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == code
    assert counts() == {**before, "keys": before["keys"] + 1}  # the refusal is kept for the key


def test_more_than_1000_purchases_is_a_400_and_1000_are_recorded(api, member, tiers):
    # given
    others = [factories.make_member(email=f"m{i}@example.com") for i in range(3)]
    buyers = [member, *others]
    too_many = [item(member, f"N-{i}", "1.00") for i in range(BATCH_MAX + 1)]
    full = [item(buyers[i % 4], f"F-{i}", "1.00") for i in range(BATCH_MAX)]
    # when
    refused = send(api, too_many)
    recorded = send(api, full)
    # then
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_batch_size"
    assert refused.json()["max_purchases"] == BATCH_MAX
    assert recorded.status_code == 200
    assert recorded.json()["recorded"] == BATCH_MAX
    assert Purchase.objects.count() == BATCH_MAX
    assert Member.objects.get(pk=member.pk).points_balance == BATCH_MAX // 4
    assert_ledger_invariants()


def test_a_key_without_the_purchases_scope_is_refused_and_writes_nothing(partner, member):
    before = counts()
    response = send(scoped_client(partner, "read"), [item(member, "K-1")])
    assert_insufficient_scope(response, "purchases")
    assert counts() == before


# --- the statements: no savepoints unless a purchase is refused after writing -------------------


def test_a_batch_takes_one_statement_a_purchase(api, member, tiers):
    # given: the key, the rules and the tiers are cached
    others = [factories.make_member(email=f"s{i}@example.com") for i in range(4)]
    assert send(api, [item(member, "warm")]).status_code == 200
    # when
    with CaptureQueriesContext(connection) as queries:
        response = send(api, [item(others[i % 4], f"Q-{i}") for i in range(20)])
    # then
    assert response.json()["recorded"] == 20
    sql = statements(queries)
    if connection.vendor == "postgresql":
        # the request's transaction (a savepoint in the test's), the claim, the buyers (found
        # and locked), the purchases recorded before, a statement per purchase, the answer
        assert len(sql) == 20 + 6, sql
        assert sum("loyalty_purchase_credit" in s for s in sql) == 20
        assert not any("SAVEPOINT" in s.upper() for s in sql[1:-1]), sql


def test_a_refusal_after_writing_runs_the_batch_again_with_savepoints(api, partner, member):
    # given: at most 500 points a purchase (600.00 earns 600: refused once the rules counted)
    partner.max_points_per_purchase = 500
    partner.save()
    purchases = [item(member, "P-1"), item(member, "P-2", "600.00"), item(member, "P-3")]
    # when
    with CaptureQueriesContext(connection) as queries:
        response = send(api, purchases, key="points")
    # then: the same answers as if each were sent alone
    assert outcomes(response) == [(201, 10), (422, "purchase_points_over_limit"), (201, 10)]
    sql = statements(queries)
    if connection.vendor == "postgresql":
        claims = [s for s in sql if "loyalty_idempotency_claim" in s]
        assert len(claims) == 2, sql  # the first try was rolled back, key and all
    assert sorted(Purchase.objects.values_list("external_id", flat=True)) == ["P-1", "P-3"]
    assert Member.objects.get(pk=member.pk).points_balance == 20
    assert Anomaly.objects.get().kind == Anomaly.Kind.OVER_LIMIT
    assert IdempotencyRecord.objects.get(key="points").response_status == 200


# --- two batches at once --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batches_for_the_same_members_in_opposite_orders_both_complete(settings):
    # given: two tills of one partner sending purchases of the same members, in opposite orders
    settings.LOYALTY_API_RATE = None
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    members = [factories.make_member(email=f"c{i}@example.com") for i in range(6)]

    def batch(name, order):
        purchases = [item(members[i], f"{name}-{i}-{n}") for n in range(5) for i in order]
        return lambda: send(make_client(partner), purchases).json()["recorded"]

    # when: their buyers are locked in id order, so neither waits for the other in a cycle
    results = run_at_once([batch("a", range(6)), batch("b", range(5, -1, -1))])
    # then
    assert results == [30, 30]
    assert {m.points_balance for m in Member.objects.filter(pk__in=[m.pk for m in members])} == {
        100
    }


# --- the first try (one statement a purchase) and the plain path give the same -------------------


def _summary(outcomes) -> list[tuple]:
    return [
        (
            o.result.points if o.result else None,
            o.existing.external_id if o.existing else None,
            o.error.code if o.error else None,
            (o.member.points_balance, o.member.tier.code) if o.member else None,
        )
        for o in outcomes
    ]


def test_the_first_try_records_exactly_what_the_path_with_savepoints_records(
    partner, base_rule, member, tiers
):
    # given: purchases of two members, one of them crossing into Silver, refusals before
    # writing, and one recorded before
    friend = factories.make_member(email="friend@example.com")
    purchase_record(partner=partner, member=friend, external_id="old", amount="2", currency="EUR")
    purchases = [
        BatchPurchase(member.member_number, "F-1", Decimal("300"), "EUR"),
        BatchPurchase(friend.member_number, "F-2", Decimal("5"), "EUR"),
        BatchPurchase("000000000", "F-3", Decimal("5"), "EUR"),
        BatchPurchase(member.member_number, "F-4", Decimal("250"), "EUR"),
        BatchPurchase(member.member_number, "F-5", Decimal("5"), "USD"),
        BatchPurchase(friend.member_number, "old", Decimal("2"), "EUR"),
        BatchPurchase(member.member_number, "F-1", Decimal("300"), "EUR"),
        BatchPurchase(member.member_number, "F-6", Decimal("100"), "EUR"),
    ]

    def run(savepoint: bool):
        mark = transaction.savepoint()
        with transaction.atomic():
            outcomes = purchases_record_batch(
                partner=partner, purchases=purchases, savepoint=savepoint
            )
        rows = list(
            LedgerEntry.objects.order_by("id").values_list("member_id", "points", "balance_after")
        )
        transaction.savepoint_rollback(mark)
        return _summary(outcomes), rows

    # when
    first_try, plain = run(savepoint=False), run(savepoint=True)
    # then
    assert first_try == plain
    assert first_try[0] == [
        (300, None, None, (300, "bronze")),
        (5, None, None, (7, "bronze")),
        (None, None, "member_not_found", None),
        (250, None, None, (550, "silver")),
        (None, None, "currency_mismatch", None),
        (None, "old", None, (7, "bronze")),
        (None, None, "duplicate_in_batch", None),
        (125, None, None, (675, "silver")),
    ]
