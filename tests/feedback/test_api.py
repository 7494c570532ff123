"""POST /api/v1/feedback/ and GET /api/v1/feedback/<id>/: a partner files for a member."""

import pytest

from feedback.models import FeedbackItem
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from tests import factories
from tests.api.conftest import make_client

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, tiers):
    return make_client(partner)


@pytest.fixture
def other_partner(db):
    return factories.make_partner("Other Shop")


def body(member, **extra):
    return {
        "member_number": member.member_number,
        "kind": "complaint",
        "category": "products",
        "text": "The bread I bought was stale.",
        **extra,
    }


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    return problem


def assert_nothing_stored():
    assert FeedbackItem.objects.count() == 0
    assert not Message.objects.filter(kind="feedback_received").exists()


def test_a_partner_files_a_complaint_about_its_purchase(api, partner, member):
    # given
    purchase_record(
        member=member, partner=partner, external_id="T-9", amount="4.20", currency="EUR"
    )
    # when
    response = api.post("/api/v1/feedback/", body(member, purchase_external_id="T-9"))
    # then
    assert response.status_code == 201, response.content
    data = response.json()
    item = FeedbackItem.objects.get()
    assert data["id"] == item.pk
    assert (data["kind"], data["category"], data["status"], data["severity"]) == (
        "complaint",
        "products",
        "new",
        "normal",
    )
    assert data["purchase_external_id"] == "T-9"
    assert data["member_number"] == member.member_number
    assert (item.channel, item.partner, item.purchase.external_id) == ("partner", partner, "T-9")
    # the member hears about it, in their language
    message = Message.objects.get(member=member, kind="feedback_received")
    assert message.language == "en"
    assert "We have your message" in message.subject


def test_the_same_idempotency_key_files_once(api, member):
    first = api.post("/api/v1/feedback/", body(member), idempotency_key="fb-1")
    again = api.post("/api/v1/feedback/", body(member), idempotency_key="fb-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert FeedbackItem.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n  "}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"kind": "rant"}, "kind"),
        ({"category": "weather"}, "category"),
        ({"member_number": None}, "member_number"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(api, member, change, field):
    response = api.post("/api/v1/feedback/", body(member, **change))
    problem = assert_problem(response, 400, "invalid_request")
    assert field in problem["errors"]
    assert_nothing_stored()


def test_an_unknown_purchase_is_not_found(api, member):
    response = api.post("/api/v1/feedback/", body(member, purchase_external_id="NOPE"))
    assert_problem(response, 404, "purchase_not_found")
    assert_nothing_stored()


def test_another_partners_purchase_is_not_found(api, member, other_partner):
    # given: the member bought at another shop
    purchase_record(
        member=member, partner=other_partner, external_id="O-1", amount="10.00", currency="EUR"
    )
    # when this partner names that purchase
    response = api.post("/api/v1/feedback/", body(member, purchase_external_id="O-1"))
    # then it does not exist for this partner
    assert_problem(response, 404, "purchase_not_found")
    assert_nothing_stored()


def test_another_members_purchase_is_not_found(api, partner, member, other_member):
    purchase_record(
        member=other_member, partner=partner, external_id="X-1", amount="10.00", currency="EUR"
    )
    response = api.post("/api/v1/feedback/", body(member, purchase_external_id="X-1"))
    assert_problem(response, 404, "purchase_not_found")
    assert_nothing_stored()


def test_an_unknown_member_is_not_found(api, member):
    response = api.post("/api/v1/feedback/", body(member, member_number="123456789"))
    assert_problem(response, 404, "member_not_found")
    assert_nothing_stored()


def test_a_partner_reads_only_its_own_items(api, member, other_partner, staff):
    # given: an item filed by this partner and one by another partner
    from feedback import services

    mine = api.post("/api/v1/feedback/", body(member)).json()["id"]
    theirs = make_client(other_partner).post("/api/v1/feedback/", body(member)).json()["id"]
    web = services.feedback_file(member=member, kind="question", category="points", text="Why?")
    services.feedback_answer(
        item=FeedbackItem.objects.get(pk=mine), author=staff, what_was_done="We replaced it."
    )
    # when / then
    response = api.get(f"/api/v1/feedback/{mine}/")
    assert response.status_code == 200
    assert response.json()["status"] == "answered"
    assert response.json()["answers"][0]["what_was_done"] == "We replaced it."
    assert_problem(api.get(f"/api/v1/feedback/{theirs}/"), 404, "feedback_not_found")
    assert_problem(api.get(f"/api/v1/feedback/{web.pk}/"), 404, "feedback_not_found")
