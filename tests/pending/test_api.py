"""Pending points over the partner API: the purchase and refund answers, the member answer, the
ledger, a refused redemption, the webhook payloads and the schema."""

from datetime import timedelta

import pytest

from tests import factories
from tests.api.conftest import make_client
from tests.api.test_partner_api import assert_problem
from tests.jobs.conftest import travel
from tests.ledger import assert_ledger_invariants
from tests.pending.conftest import DAY_0, DAY_14, night
from webhooks.models import WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(shop, rules, tiers):
    return make_client(shop)


def _buy(api, member, amount="120", external_id="P-1"):
    with travel(DAY_0):
        return api.post(
            "/api/v1/purchases/",
            {
                "member_number": member.member_number,
                "external_id": external_id,
                "amount": amount,
                "currency": "EUR",
            },
        )


def test_the_purchase_answer_says_what_is_pending_and_until_when(api, member):
    # when
    response = _buy(api, member)
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_earned"], body["points_pending"], body["available_on"]) == (
        120,
        120,
        "2026-12-15",
    )
    assert body["member"]["points_balance"] == 0


def _batch(api, member, *purchases, day):
    """POST /api/v1/purchases/batch/ on `day`: (external_id, amount) each; the results."""
    body = {
        "purchases": [
            {
                "member_number": member.member_number,
                "external_id": external_id,
                "amount": amount,
                "currency": "EUR",
            }
            for external_id, amount in purchases
        ]
    }
    with travel(day):
        response = api.post("/api/v1/purchases/batch/", body)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _pending(result) -> tuple:
    purchase = result["purchase"]
    return (
        result["status"],
        purchase["external_id"],
        purchase["points_earned"],
        purchase["points_pending"],
        purchase["available_on"],
        purchase["member"]["points_balance"],
    )


def test_a_batch_answers_pending_points_per_purchase_and_the_same_when_sent_again(api, member):
    # given: a purchase sent alone on day 0
    alone = _buy(api, member, "120", "P-1").json()
    # when: a batch on day 1 sends it again with a new one, and a later batch sends both again
    first = _batch(api, member, ("P-1", "120"), ("B-1", "30"), day=DAY_0 + timedelta(days=1))
    again = _batch(api, member, ("B-1", "30"), ("P-1", "120"), day=DAY_0 + timedelta(days=2))
    # then: each answers its own return window, and one recorded before exactly what it was
    # answered when recorded
    assert [_pending(r) for r in first] == [
        (200, "P-1", 120, 120, "2026-12-15", 0),
        (201, "B-1", 30, 30, "2026-12-16", 0),
    ]
    assert [_pending(r) for r in again] == [
        (200, "B-1", 30, 30, "2026-12-16", 0),
        (200, "P-1", 120, 120, "2026-12-15", 0),
    ]
    assert first[0]["purchase"] == alone
    assert again[0]["purchase"] == first[1]["purchase"]
    assert_ledger_invariants()


def test_the_member_answer_and_the_ledger_show_pending_points(api, member):
    # given: two purchases pending, one released
    _buy(api, member, "120", "P-1")
    with travel(DAY_0 + timedelta(days=3)):
        api.post(
            "/api/v1/purchases/",
            {
                "member_number": member.member_number,
                "external_id": "P-2",
                "amount": "30",
                "currency": "EUR",
            },
        )
    night(DAY_14)
    # when
    with travel(DAY_14):
        found = api.get(f"/api/v1/members/{member.member_number}/").json()
        ledger = api.get(f"/api/v1/members/{member.member_number}/ledger/?language=en").json()
    # then: 120 spendable, 30 pending until 18 December
    assert (found["points_balance"], found["pending_points"]) == (120, 30)
    assert found["pending_available_on"] == "2026-12-18"
    assert found["pending"] == [{"points": 30, "available_on": "2026-12-18"}]
    assert ledger["pending"] == [
        {
            "earned_at": ledger["pending"][0]["earned_at"],
            "points": 30,
            "available_on": "2026-12-18",
            "description": "Purchase P-2 of €30.00 at Weekly Market",
        }
    ]
    assert [(line["kind"], line["points"]) for line in ledger["results"]] == [("earn", 120)]


def test_a_member_with_nothing_pending_answers_zero(api, member):
    body = api.get(f"/api/v1/members/{member.member_number}/").json()
    assert (body["pending_points"], body["pending_available_on"], body["pending"]) == (0, None, [])
    ledger = api.get(f"/api/v1/members/{member.member_number}/ledger/").json()
    assert ledger["pending"] == []


def test_a_redemption_of_pending_points_is_refused_with_insufficient_points(api, member):
    # given
    _buy(api, member)
    reward = factories.make_reward(slug="coffee", points_cost=100)
    # when
    with travel(DAY_0 + timedelta(days=1)):
        response = api.post(
            "/api/v1/redemptions/", {"member_number": member.member_number, "reward": reward.slug}
        )
    # then
    body = assert_problem(response, 422, "insufficient_points")
    assert body["points_pending"] == 120


def test_a_refund_inside_the_window_answers_what_it_cancelled(api, member):
    # given
    _buy(api, member)
    # when
    with travel(DAY_0 + timedelta(days=5)):
        response = api.post("/api/v1/purchases/P-1/refunds/", {"external_id": "R-1"})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_reversed"], body["points_unrecovered"], body["points_cancelled"]) == (
        0,
        0,
        120,
    )
    assert body["explanation"].endswith(
        "120 of them still pending, cancelled; 120 points taken back (whole points)."
    )
    assert body["member"]["points_balance"] == 0


def test_webhook_payloads_carry_the_pending_points(api, member, shop):
    # given
    endpoint_create(partner=shop, url="http://127.0.0.1:9/hook", secret="a-secret-of-enough-length")
    # when
    _buy(api, member)
    with travel(DAY_0 + timedelta(days=5)):
        api.post("/api/v1/purchases/P-1/refunds/", {"external_id": "R-1", "amount": "20.00"})
    # then
    earned = WebhookEvent.objects.get(type="points.earned").payload["data"]
    assert (earned["points"], earned["balance"]) == (120, 0)
    assert (earned["points_pending"], earned["available_on"]) == (120, "2026-12-15")
    reversed_ = WebhookEvent.objects.get(type="points.reversed").payload["data"]
    assert (reversed_["points"], reversed_["points_cancelled"], reversed_["points_pending"]) == (
        0,
        20,
        100,
    )


def test_the_schema_documents_pending_points(api):
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert {"pending_points", "pending_available_on", "pending"} <= set(
        schema["Member"]["properties"]
    )
    assert "pending" in schema["LedgerPage"]["properties"]
    assert {"points_pending", "available_on"} <= set(schema["PurchaseOutput"]["properties"])
    assert "points_cancelled" in schema["RefundOutput"]["properties"]
    assert "points_pending" in schema["Problem"]["properties"]
