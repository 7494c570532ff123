"""The partner API: referral codes on enrolment and lookup, a member's referrals, fingerprints."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Member
from loyalty.core.errors import InvalidPurchase
from loyalty.core.ledger import points_debit
from loyalty.core.models import Purchase
from loyalty.core.refunds import purchase_refund
from referrals import services
from referrals.models import Referral
from tests.api.conftest import make_client
from tests.referrals.conftest import REFERRER_BONUS, buy, join

PROBLEM = "application/problem+json"


@pytest.fixture
def api(shop):
    return make_client(shop)


def referrals_of(api, member, query=""):
    return api.get(f"/api/v1/members/{member.member_number}/referrals/{query}")


def test_member_detail_includes_the_referral_code(api, referrer, code):
    # when
    body = api.get(f"/api/v1/members/{referrer.member_number}/").json()
    # then
    assert body["referral_code"] == code


def test_enrol_with_a_referral_code(api, referrer, code):
    # when
    response = api.post(
        "/api/v1/members/", {"email": "rasa@example.com", "referral_code": code.lower()}
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    friend = Member.objects.get(member_number=body["member_number"])
    assert body["referral_code"] == friend.referral_code.code != code
    assert Referral.objects.get().referee == friend


def test_enrol_with_an_unknown_code_is_a_422_and_creates_nothing(api, referrer):
    # given
    members = Member.objects.count()
    # when
    response = api.post("/api/v1/members/", {"email": "rasa@example.com", "referral_code": "NOPE"})
    # then: a well-formed code no member has (a 400 is for a request the schema refuses)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_referral_code", "referral_code")
    assert Member.objects.count() == members
    assert not Referral.objects.exists()


def test_a_purchase_may_carry_a_payment_fingerprint(api, referrer):
    # when
    response = api.post(
        "/api/v1/purchases/",
        {
            "member_number": referrer.member_number,
            "external_id": "FP-1",
            "amount": "10.00",
            "currency": "EUR",
            "payment_fingerprint": "tok_visa_4242",
        },
    )
    # then
    assert response.status_code == 201, response.content
    assert Purchase.objects.get(external_id="FP-1").payment_fingerprint == "tok_visa_4242"


def test_a_payment_fingerprint_is_at_most_128_characters(api, referrer, shop):
    response = api.post(
        "/api/v1/purchases/",
        {
            "member_number": referrer.member_number,
            "external_id": "FP-2",
            "amount": "10.00",
            "currency": "EUR",
            "payment_fingerprint": "x" * 129,
        },
    )
    assert response.status_code == 400
    assert not Purchase.objects.exists()
    with pytest.raises(InvalidPurchase):
        buy(shop, referrer, payment_fingerprint="y" * 129)


def test_a_members_referrals_with_status_and_points(api, referrer, code, shop):
    # given
    pending = join(code, email="rasa.m@example.com", first_name="Rasa")
    qualified = join(code, email="jonas@example.com", first_name="Jonas")
    buy(shop, qualified)
    expired = join(code, email="egle@example.com", first_name="")
    Referral.objects.filter(referee=expired).update(status=Referral.Status.EXPIRED)
    # when
    response = referrals_of(api, referrer)
    # then
    assert response.status_code == 200, response.content
    lines = response.json()["results"]
    assert [
        (line["friend_first_name"], line["friend_email"], line["status"], line["points_earned"])
        for line in lines
    ] == [
        ("", "e***@e***.com", "expired", 0),
        ("Jonas", "j***@e***.com", "qualified", REFERRER_BONUS),
        ("Rasa", "r***@e***.com", "pending", 0),
    ]
    assert lines[1]["qualified_at"] is not None and lines[2]["qualified_at"] is None
    assert set(lines[0]) == {
        "friend_first_name",
        "friend_email",
        "status",
        "points_earned",
        "created_at",
        "qualified_at",
        "qualify_by",
    }
    assert pending.member_number not in response.content.decode()


def test_points_earned_is_net_of_what_was_taken_back(api, referrer, code, shop):
    # given
    friend = join(code)
    purchase = buy(shop, friend, amount="40").purchase
    points_debit(member=referrer, points=50, cause=referrer)
    purchase_refund(purchase=purchase, external_id="R1")
    # when
    [line] = referrals_of(api, referrer).json()["results"]
    # then: 150 of the 200 were taken back, 50 had been spent
    assert (line["status"], line["points_earned"]) == ("reversed", 50)


def test_flagged_and_rejected_referrals_show_simply(api, referrer, code):
    # given
    join(code, email="onakaz+me@gmail.com")  # rejected: self-referral
    flagged = join(code)
    Referral.objects.filter(referee=flagged).update(status=Referral.Status.FLAGGED)
    # when
    statuses = [line["status"] for line in referrals_of(api, referrer).json()["results"]]
    # then
    assert statuses == ["pending", "not_eligible"]


def test_the_referral_list_is_paginated_and_unknown_members_are_404(api, referrer, code):
    # given
    for _ in range(3):
        join(code)
    # when
    first = referrals_of(api, referrer, "?page_size=2").json()
    second = api.get(first["next"]).json()
    # then
    assert (len(first["results"]), len(second["results"])) == (2, 1)
    missing = api.get("/api/v1/members/123456789/referrals/")
    assert (missing.status_code, missing.json()["code"]) == (404, "member_not_found")
    assert referrals_of(api, referrer, "?cursor=bogus").status_code == 404


def test_the_referral_list_takes_a_constant_number_of_queries(api, referrer, code, shop):
    # given
    friend = join(code)
    buy(shop, friend)
    referrals_of(api, referrer)  # records the key's use, once a minute
    with CaptureQueriesContext(connection) as few:
        assert referrals_of(api, referrer).status_code == 200
    for _ in range(5):
        buy(shop, join(code))
    # when
    with CaptureQueriesContext(connection) as many:
        response = referrals_of(api, referrer)
    # then
    assert len(response.json()["results"]) == 6
    assert len(many) == len(few)


def test_the_member_page_selector_takes_a_constant_number_of_queries(
    referrer, code, shop, django_assert_max_num_queries
):
    from referrals.selectors import referral_page

    # given
    for _ in range(5):
        buy(shop, join(code))
    # when
    with django_assert_max_num_queries(3):
        page = referral_page(member=referrer)
    # then
    assert page["code"] == code
    assert page["join_url"] == f"https://loyalty.example/join/{code}"
    assert page["points_earned"] == 5 * REFERRER_BONUS
    assert page["invitations_left_today"] == 5
    assert [friend["status"] for friend in page["friends"]] == ["qualified"] * 5


def test_the_qr_code_is_an_inline_svg(referrer, code):
    pytest.importorskip("segno")
    from referrals.selectors import referral_qr_svg

    svg = referral_qr_svg(url=services.join_url(code))
    assert svg.startswith("<svg") and "</svg>" in svg
