"""The partner API contract: shapes, errors, authorization and idempotency."""

import base64
from decimal import Decimal

import pytest
from django.utils import translation

from accounts.models import Member
from accounts.services import api_key_create, api_key_revoke
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from rewards.models import Redemption, Voucher
from tests import factories
from tests.caching import cache_empty

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert (body["status"], body["code"]) == (status, code)
    return body


def purchase(api, member, external_id="T-1", amount="12.50", **extra):
    body = {
        "member_number": member.member_number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
        **extra,
    }
    return api.post("/api/v1/purchases/", body, idempotency_key=extra.pop("key", None))


# --- members -----------------------------------------------------------------------------------


def test_enrol_a_member_and_read_it_back(api):
    # when
    response = api.post(
        "/api/v1/members/",
        {
            "email": "Jonas@Example.com",
            "first_name": "Jonas",
            "language": "lt",
            "birthday": "03-01",
        },
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "jonas@example.com"
    assert (body["language"], body["points_balance"], body["tier"]) == (
        "lt",
        0,
        {"code": "bronze", "name": "Bronze"},
    )
    assert body["next_tier"] == {"code": "silver", "name": "Silver", "points_needed": 500}
    again = api.get(f"/api/v1/members/{body['member_number']}/")
    assert again.status_code == 200 and again.json() == body


def test_an_enrolled_email_is_a_conflict_with_the_existing_number(api, member):
    response = api.post("/api/v1/members/", {"email": "ONA@example.com"})
    body = assert_problem(response, 409, "member_exists")
    assert body["member_number"] == member.member_number
    assert Member.objects.count() == 1


def test_a_staff_address_is_not_enrolled_and_its_names_are_not_told(api, staff_user):
    response = api.post("/api/v1/members/", {"email": "staff@example.com"})
    body = assert_problem(response, 409, "email_unavailable")
    assert "member_number" not in body and Member.objects.count() == 0


def test_member_lookup_shows_expiring_points_and_unknown_numbers_are_404(api, member):
    factories.give_points(member, 10)
    purchase(api, member, amount="40")
    body = api.get(f"/api/v1/members/{member.member_number}/").json()
    assert body["points_balance"] == 50
    assert sum(p["points"] for p in body["points_expiring"]) == 40
    assert_problem(api.get("/api/v1/members/123456789/"), 404, "member_not_found")
    assert_problem(api.get("/api/v1/members/abc/"), 404, "member_not_found")


def test_the_ledger_is_cursor_paginated_newest_first(api, member):
    for i in range(5):
        purchase(api, member, external_id=f"L{i}", amount=str(i + 1))
    first = api.get(f"/api/v1/members/{member.member_number}/ledger/?page_size=2").json()
    assert [line["points"] for line in first["results"]] == [5, 4]
    assert set(first["results"][0]) == {
        "id",
        "created_at",
        "kind",
        "points",
        "balance_after",
        "description",
    }
    second = api.get(first["next"]).json()
    assert [line["points"] for line in second["results"]] == [3, 2]
    assert_problem(
        api.get(f"/api/v1/members/{member.member_number}/ledger/?cursor=bogus"),
        404,
        "not_found",
    )


def test_the_ledger_names_only_the_partner_of_another_partners_purchases(api, other_api, member):
    # given: a purchase and a refund at this partner and at another one
    purchase(api, member, external_id="OURS-1", amount="10")
    purchase(other_api, member, external_id="THEIRS-1", amount="20")
    other_api.post("/api/v1/purchases/THEIRS-1/refunds/", {"external_id": "THEIR-REFUND-7"})
    ledger = f"/api/v1/members/{member.member_number}/ledger/?language=en"
    # when
    ours = api.get(ledger).json()["results"]
    theirs = other_api.get(ledger).json()["results"]
    # then: each partner reads its own ids, and only the other's name
    assert [line["description"] for line in ours] == [
        "Taken back because a purchase at Other Shop was refunded",
        "Purchase at Other Shop",
        "Purchase OURS-1 of €10.00 at Corner Shop",
    ]
    assert [line["description"] for line in theirs] == [
        "Taken back because of refund THEIR-REFUND-7 of purchase THEIRS-1 at Other Shop",
        "Purchase THEIRS-1 of €20.00 at Other Shop",
        "Purchase at Corner Shop",
    ]


def test_the_ledger_is_worded_in_the_language_asked_for_or_the_members(api, settings):
    # given: a member who reads Lithuanian, with the welcome gift of enrolment
    settings.LOYALTY_WELCOME_POINTS = 50
    enrolled = api.post("/api/v1/members/", {"email": "jonas@example.com", "language": "lt"})
    number = enrolled.json()["member_number"]
    ledger = f"/api/v1/members/{number}/ledger/"
    # when
    english = api.get(f"{ledger}?language=en").json()["results"]
    theirs = api.get(ledger).json()["results"]
    # then: the words are rendered when asked for, not stored
    assert [line["description"] for line in english] == ["Welcome gift"]
    with translation.override("lt"):
        assert [line["description"] for line in theirs] == [translation.gettext("Welcome gift")]
    # and a language the program does not speak is a clear 400
    assert_problem(api.get(f"{ledger}?language=xx"), 400, "invalid_request")


@pytest.mark.parametrize("position", ["abc", "", "1.5", "1e5", "NaN", "%00", "-1", "٣", "9" * 30])
@pytest.mark.parametrize("listing", ["ledger", "referrals"])
def test_a_cursor_made_by_hand_with_a_position_that_is_no_id_is_a_404(
    api, member, position, listing
):
    # given: a cursor that decodes, with a position no list of ours ever wrote
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    # when
    response = api.get(f"/api/v1/members/{member.member_number}/{listing}/", {"cursor": cursor})
    # then
    assert_problem(response, 404, "not_found")


# --- purchases and refunds ----------------------------------------------------------------------


def test_a_purchase_earns_points_and_explains_them(api, member):
    response = purchase(api, member, amount="12.50")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["external_id"], body["points_earned"]) == ("T-1", 12)
    assert "One point per euro" in body["explanation"]
    assert body["member"] == {
        "member_number": member.member_number,
        "points_balance": 12,
        "tier": {"code": "bronze", "name": "Bronze"},
    }


def test_the_same_purchase_id_under_a_new_key_is_a_duplicate(api, member):
    purchase(api, member)
    assert_problem(purchase(api, member, amount="99"), 409, "duplicate_purchase")
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member.pk).points_balance == 12


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "-1"),
        ("amount", "0"),
        ("amount", "1.999"),
        ("amount", "1e400"),
        ("amount", "12345678901234"),
        ("amount", ["1"]),
        ("amount", None),
        ("currency", "EURO"),
        ("external_id", ""),
        ("external_id", "x" * 101),
        ("occurred_at", "yesterday"),
        ("lines", "nope"),
        ("lines", [{"sku": "A"}]),
        ("member_number", 5),
    ],
)
def test_bad_purchase_input_is_a_clear_400_and_changes_nothing(api, member, field, value):
    body = {"member_number": member.member_number, "external_id": "B", "amount": "5"}
    body["currency"] = "EUR"
    body[field] = value
    response = api.post("/api/v1/purchases/", body)
    assert response.status_code in (400, 404, 422), response.content
    assert response["Content-Type"] == PROBLEM
    assert Purchase.objects.count() == 0
    assert Member.objects.get(pk=member.pk).points_balance == 0


def test_unknown_or_other_currency_is_refused(api, member):
    # an unknown code is outside the schema's list of currencies; another known one is refused
    unknown = assert_problem(purchase(api, member, currency="XYZ"), 400, "invalid_request")
    assert list(unknown["errors"]) == ["currency"]
    assert_problem(purchase(api, member, currency="USD"), 422, "currency_mismatch")


def test_money_in_json_numbers_is_read_exactly(api, member):
    response = api.post(
        "/api/v1/purchases/",
        data=b'{"member_number": "%s", "external_id": "N", "amount": 10.10, "currency": "EUR"}'
        % member.member_number.encode(),
        format=None,
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert Purchase.objects.get().amount == Decimal("10.10")


def test_malformed_json_unicode_and_oversized_bodies_get_problems(api, member, settings):
    bad = api.post("/api/v1/purchases/", data=b"{not json", content_type="application/json")
    assert_problem(bad, 400, "malformed_json")
    latin = api.post("/api/v1/purchases/", data=b'{"a": "\xff"}', content_type="application/json")
    assert_problem(latin, 400, "malformed_json")
    nan = api.post("/api/v1/purchases/", data=b'{"amount": NaN}', content_type="application/json")
    assert_problem(nan, 400, "malformed_json")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    huge = api.post("/api/v1/purchases/", {"external_id": "x" * 2000})
    assert_problem(huge, 413, "body_too_large")
    emoji = purchase(api, member, external_id="🧾-ünïcødé")
    assert emoji.status_code == 201 and emoji.json()["external_id"] == "🧾-ünïcødé"
    form = api.post("/api/v1/purchases/", {"a": "b"}, format="multipart")
    assert_problem(form, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", ["/api/v1/purchases/", "/api/v1/members/"])
def test_a_body_nested_too_deep_is_a_400_and_writes_nothing(api, member, path):
    # given: a valid purchase, with an extra field 400 arrays deep (brackets in strings are text)
    deep = "[" * 400 + "]" * 400
    text = (
        f'{{"member_number": "{member.member_number}", "external_id": "D-1", "amount": "1.00", '
        f'"currency": "EUR", "email": "deep@example.com", "note": "[[[[", "x": {deep}}}'
    )
    # when
    response = api.post(path, data=text.encode(), content_type="application/json")
    # then
    body = assert_problem(response, 400, "malformed_json")
    assert "32 levels" in body["detail"]
    assert not Purchase.objects.exists() and Member.objects.count() == 1


def test_brackets_inside_strings_do_not_count_as_nesting(api, member):
    response = purchase(api, member, external_id="[" * 50 + "{" * 40)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "charset",
    ["zlib", "zlib_codec", "bz2", "rot13", "base64", "utf-7", "unicode_escape", "undefined"],
)
def test_a_charset_that_is_no_text_encoding_is_a_415(api, member, charset):
    response = api.post(
        "/api/v1/members/",
        data=b'{"email": "z@example.com"}',
        content_type=f"application/json; charset={charset}",
    )
    assert_problem(response, 415, "unsupported_media_type")
    assert Member.objects.count() == 1


def test_a_body_in_a_declared_text_charset_is_read_in_it(api):
    text = '{"email": "zoe@example.com", "first_name": "Zoë"}'
    response = api.post(
        "/api/v1/members/",
        data=text.encode("latin-1"),
        content_type="application/json; charset=ISO-8859-1",
    )
    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == "Zoë"


def test_a_refund_takes_back_points_and_reports_the_unrecovered(api, member):
    purchase(api, member, external_id="P", amount="100")
    api.post(
        "/api/v1/redemptions/",
        {
            "member_number": member.member_number,
            "reward": factories.make_reward(slug="coffee", points_cost=60).slug,
        },
    )
    response = api.post("/api/v1/purchases/P/refunds/", {"external_id": "R1"})
    assert response.status_code == 201, response.content
    assert response.json() == {
        "external_id": "R1",
        "amount": "100.00",
        "points_reversed": 40,
        "points_unrecovered": 60,
        "explanation": "100 of the purchase's 100 points for 100.00 of 100.00 refunded, "
        "less 0 before; 100 points taken back (whole points).",
        "rules": [
            {
                "type": "money",
                "refunded": "100.00",
                "of": "100.00",
                "purchase_points": 100,
                "target": 100,
                "before": 0,
            }
        ],
        "member": {
            "member_number": member.member_number,
            "points_balance": 0,
            "tier": {"code": "bronze", "name": "Bronze"},
        },
    }


def test_refund_by_lines_and_too_much_is_422(api, member):
    purchase(
        api,
        member,
        external_id="P",
        amount="30.00",
        lines=[
            {"sku": "A", "quantity": 3, "amount": "10.00"},
            {"sku": "B", "quantity": 1, "amount": "20.00"},
        ],
    )
    one = api.post(
        "/api/v1/purchases/P/refunds/",
        {"external_id": "R1", "lines": [{"sku": "A", "quantity": 1}]},
    )
    assert one.status_code == 201, one.content
    assert one.json()["amount"] == "3.33"
    rest = api.post(
        "/api/v1/purchases/P/refunds/",
        {"external_id": "R2", "lines": [{"sku": "A", "quantity": 2}]},
    )
    assert rest.json()["amount"] == "6.67"
    too_many = api.post(
        "/api/v1/purchases/P/refunds/",
        {"external_id": "R3", "lines": [{"sku": "A", "quantity": 1}]},
    )
    assert_problem(too_many, 422, "refund_exceeds_purchase")
    too_much = api.post("/api/v1/purchases/P/refunds/", {"external_id": "R4", "amount": "20.01"})
    assert_problem(too_much, 422, "refund_exceeds_purchase")
    assert Member.objects.get(pk=member.pk).points_balance == 20


# --- rewards, redemptions and vouchers ----------------------------------------------------------


def test_rewards_list_shows_the_members_own_cost_and_language(api, member, tiers):
    factories.make_reward(slug="coffee", name_en="Free coffee", name_lt="Kava", points_cost=100)
    factories.make_reward(slug="gone", points_cost=5, is_active=False)
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    body = api.get(f"/api/v1/rewards/?member_number={member.member_number}&language=lt").json()
    assert [(r["code"], r["name"], r["points_cost"], r["member_points_cost"]) for r in body] == [
        ("coffee", "Kava", 100, 90)
    ]


def test_redeem_cancel_and_use_a_voucher(api, member):
    # given
    factories.give_points(member, 200)
    reward = factories.make_reward(slug="coffee", points_cost=150, stock=1)
    # when
    redeemed = api.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "coffee"}
    )
    # then
    assert redeemed.status_code == 201, redeemed.content
    body = redeemed.json()
    assert (body["points_spent"], body["member"]["points_balance"]) == (150, 50)
    assert_problem(
        api.post(
            "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "coffee"}
        ),
        409,
        "out_of_stock",
    )
    cancelled = api.post(f"/api/v1/redemptions/{body['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["member"]["points_balance"] == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": reward.slug}
    ).json()
    used = api.post(f"/api/v1/vouchers/{again['voucher_code']}/use/")
    assert used.status_code == 200 and used.json()["status"] == "used"
    assert_problem(
        api.post(f"/api/v1/vouchers/{again['voucher_code']}/use/"), 409, "voucher_already_used"
    )
    assert_problem(api.post("/api/v1/vouchers/NOPE/use/"), 404, "voucher_not_found")


def test_a_short_balance_is_422_insufficient_points(api, member):
    factories.make_reward(slug="tv", points_cost=10_000)
    response = api.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "tv"}
    )
    assert_problem(response, 422, "insufficient_points")
    assert_problem(
        api.post("/api/v1/redemptions/", {"member_number": member.member_number, "reward": "x"}),
        404,
        "reward_not_found",
    )
    assert Redemption.objects.count() == 0


# --- authentication and authorization -----------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Api-Key nope", "Bearer something", "Api-Key ", "Basic dXNlcjpwYXNz"]
)
def test_missing_unknown_or_malformed_keys_are_401_problems(client, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/api/v1/rewards/", **extra)
    assert_problem(response, 401, "not_authenticated" if header is None else "invalid_api_key")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_revoked_key_is_401(api):
    key, raw = api_key_create(partner=api.partner)
    api_key_revoke(key=key)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert_problem(api.get("/api/v1/rewards/"), 401, "invalid_api_key")


def test_a_partner_cannot_touch_another_partners_purchases_or_redemptions(api, other_api, member):
    # given
    purchase(api, member, external_id="MINE", amount="50")
    factories.make_reward(slug="coffee", points_cost=10)
    redemption = api.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "coffee"}
    ).json()
    # when / then
    assert_problem(
        other_api.post("/api/v1/purchases/MINE/refunds/", {"external_id": "R"}),
        404,
        "purchase_not_found",
    )
    assert_problem(
        other_api.post(f"/api/v1/redemptions/{redemption['id']}/cancel/"),
        404,
        "redemption_not_found",
    )
    assert Member.objects.get(pk=member.pk).points_balance == 40
    # the other partner may record its own purchase with the same id
    assert purchase(other_api, member, external_id="MINE").status_code == 201


def test_no_request_field_sets_a_balance_tier_or_partner(api, member, other_api, tiers):
    response = purchase(
        api,
        member,
        external_id="X",
        amount="1",
        points_balance=10**6,
        tier="gold",
        partner=other_api.partner.pk,
        points_earned=999,
    )
    assert response.status_code == 201
    member.refresh_from_db()
    assert (member.points_balance, member.tier) == (1, tiers["bronze"])
    assert Purchase.objects.get().partner == api.partner
    enrolled = api.post(
        "/api/v1/members/", {"email": "new@example.com", "points_balance": 500, "tier": "gold"}
    ).json()
    assert (enrolled["points_balance"], enrolled["tier"]["code"]) == (0, "bronze")


def test_unknown_endpoints_and_methods_answer_in_problem_json(api):
    assert_problem(api.get("/api/v1/nothing/"), 404, "not_found")
    assert_problem(api.delete("/api/v1/purchases/"), 405, "method_not_allowed")


def test_throttling_per_key_answers_429_with_retry_after(api, member, settings, other_api):
    settings.LOYALTY_API_RATE = "3/minute"
    cache_empty()
    for _ in range(3):
        assert api.get("/api/v1/rewards/").status_code == 200
    limited = api.get("/api/v1/rewards/")
    assert_problem(limited, 429, "throttled")
    assert int(limited["Retry-After"]) > 0
    assert other_api.get("/api/v1/rewards/").status_code == 200  # per key


# --- idempotency --------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_stored_response(api, member):
    first = purchase(api, member, key="k-1")
    second = purchase(api, member, key="k-1")
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1


def test_the_answer_and_its_replay_are_the_same_bytes_whatever_indent_is_asked(api, member):
    body = {
        "member_number": member.member_number,
        "external_id": "INDENT-1",
        "amount": "5.00",
        "currency": "EUR",
    }
    first, again = (
        api.post(
            "/api/v1/purchases/",
            body,
            idempotency_key="k-indent",
            HTTP_ACCEPT=f"application/json; indent={indent}",
        )
        for indent in (4, 2)
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content and b"\n" not in first.content


def test_a_refusal_is_replayed_too_and_changes_nothing(api, member):
    factories.make_reward(slug="tv", points_cost=10_000)
    body = {"member_number": member.member_number, "reward": "tv"}
    first = api.post("/api/v1/redemptions/", body, idempotency_key="r-1")
    second = api.post("/api/v1/redemptions/", body, idempotency_key="r-1")
    assert first.status_code == second.status_code == 422
    assert second.content == first.content  # byte for byte, keys in their order
    assert list(second.json())[:5] == ["type", "title", "status", "detail", "code"]
    assert second["Content-Type"] == PROBLEM


def test_same_key_other_body_is_422(api, member):
    purchase(api, member, key="k-2")
    assert_problem(purchase(api, member, key="k-2", amount="99"), 422, "idempotency_key_reused")
    assert_problem(
        api.post("/api/v1/members/", {"email": "x@example.com"}, idempotency_key="k-2"),
        422,
        "idempotency_key_reused",
    )


def test_a_post_without_a_key_is_400(api, member):
    assert_problem(purchase(api, member, key=False), 400, "idempotency_key_required")
    assert_problem(purchase(api, member, key="x" * 256), 400, "idempotency_key_required")
    assert Purchase.objects.count() == 0


def test_keys_are_scoped_per_partner(api, other_api, member):
    assert purchase(api, member, external_id="A", key="shared").status_code == 201
    assert purchase(other_api, member, external_id="B", key="shared").status_code == 201
    assert IdempotencyRecord.objects.filter(key="shared").count() == 2


def test_the_key_and_its_effects_commit_together(api, member):
    purchase(api, member, key="k-3")
    record = IdempotencyRecord.objects.get(key="k-3")
    assert record.response_status == 201
    assert Voucher.objects.count() == 0


# --- schema and docs ----------------------------------------------------------------------------


def test_schema_and_docs_are_served_without_a_cdn(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in [
        "/api/v1/members/",
        "/api/v1/members/{member_number}/ledger/",
        "/api/v1/purchases/",
        "/api/v1/purchases/{external_id}/refunds/",
        "/api/v1/rewards/",
        "/api/v1/redemptions/{redemption_id}/cancel/",
        "/api/v1/vouchers/{code}/use/",
    ]:
        assert path in text
    assert "Idempotency-Key" in text and "application/problem+json" in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html


def test_a_purchase_id_with_slashes_can_be_refunded(api, member):
    assert purchase(api, member, external_id="INV/2025/0001", amount="10").status_code == 201
    response = api.post("/api/v1/purchases/INV/2025/0001/refunds/", {"external_id": "R/1"})
    assert response.status_code == 201, response.content
    assert response.json()["points_reversed"] == 10


def test_a_refund_by_lines_takes_back_what_the_line_earned_and_says_why(api, member):
    # given: coffee 5.00 at 2/€ = 10, the rest 45.00 at 1/€ = 45; 55 points
    coffee = factories.make_rule(
        name="Two points per euro on coffee", points_per_unit=Decimal(2), category="coffee"
    )
    purchase(
        api,
        member,
        external_id="P",
        amount="50.00",
        lines=[
            {"sku": "COFFEE", "quantity": 1, "amount": "5.00", "category": "coffee"},
            {"sku": "WINE", "quantity": 1, "amount": "45.00"},
        ],
    )
    # when
    response = api.post(
        "/api/v1/purchases/P/refunds/",
        {"external_id": "R1", "lines": [{"sku": "COFFEE", "quantity": 1}]},
    )
    # then: the 10 points the coffee earned, not 55 × 5/50 = 5.5 → 6
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["points_reversed"], body["member"]["points_balance"]) == (
        "5.00",
        10,
        45,
    )
    assert body["rules"] == [
        {
            "type": "line",
            "sku": "COFFEE",
            "quantity": 1,
            "of": 1,
            "line_points": "10",
            "points": "10",
            "rule_id": coffee.pk,
            "rule": "Two points per euro on coffee",
            "points_per_unit": "2",
            "tier": "Bronze",
            "tier_multiplier": "1",
        }
    ]
    assert body["explanation"] == (
        "10 of the 10 points line COFFEE earned at “Two points per euro on coffee” "
        "(2 per unit) (1 of 1); 10 points taken back (whole points)."
    )
