"""The rules the schema publishes, each held exactly: what it calls valid is taken, what it calls
invalid is a 400, and a well-formed request the program's rules refuse is a 422 with its code.
(tests/api/test_contract_cli.py has schemathesis look for any disagreement; these pin the
cases the issue named and the published schema's shape.)"""

import re

import pytest

from accounts.models import Member
from loyalty.core.models import Purchase
from tests.api.test_partner_api import assert_problem, purchase

SCHEMA = "/api/schema/?format=json"
# Formats the server checks itself: an e-mail address (Django's validator), an RFC 3339 date-time.
FORMATS = {"email", "date-time"}


@pytest.fixture
def schema(client, db):
    return client.get(SCHEMA).json()


@pytest.mark.parametrize(
    "amount, status",
    [
        ("12.50", 201),
        ("0.01", 201),
        (12.5, 201),
        (7, 201),
        ("", 400),
        ("0", 400),
        ("0.00", 400),
        ("1e3", 400),
        (" 12.50", 400),
        ("012.50", 400),
        ("12.505", 400),
        ("12.", 400),
        (12.505, 400),
        (True, 400),
        ("10000000000.00", 400),
    ],
)
def test_money_is_a_decimal_string_or_a_number_on_the_cents_grid(api, member, amount, status):
    # when
    response = purchase(api, member, amount=amount)
    # then
    assert response.status_code == status, response.content
    assert Purchase.objects.count() == (1 if status == 201 else 0)


MALFORMED = [
    {"external_id": 12},
    {"external_id": "   "},
    {"member_number": 123456789},
    {"lines": [{"sku": "X", "quantity": "2", "amount": "12.50"}]},
    {"lines": [{"sku": "X", "quantity": 2.0, "amount": "12.50"}]},
    {"occurred_at": "2026-01-01"},
    {"occurred_at": "2026-01-01T10:00:00"},
    {"occurred_at": "2026-01-01T10:00:00+00:60"},
    {"currency": "eur"},
]


@pytest.mark.parametrize("change", MALFORMED)
def test_a_value_of_another_type_or_form_is_a_400_not_coerced(api, member, change):
    # when
    response = purchase(api, member, **change)
    # then
    body = assert_problem(response, 400, "invalid_request")
    assert set(body["errors"]) == {next(iter(change))}
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("change", MALFORMED)
def test_a_batch_with_one_such_purchase_is_a_400_naming_it_and_records_none(api, member, change):
    # given: a good purchase, then one that breaks the schema
    good = {
        "member_number": member.member_number,
        "external_id": "B-0",
        "amount": "12.50",
        "currency": "EUR",
    }
    bad = {**good, "external_id": "B-1", **change}
    # when
    response = api.post("/api/v1/purchases/batch/", {"purchases": [good, bad]})
    # then: refused whole, the bad purchase named by its index and field
    body = assert_problem(response, 400, "invalid_request")
    assert {key: set(errors) for key, errors in body["errors"]["purchases"].items()} == {
        "1": {next(iter(change))}
    }
    assert set(body["errors"]) == {"purchases"}
    assert not Purchase.objects.exists()


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2000-01-01T00:00:00Z"],
)
def test_a_day_outside_the_reporting_window_is_a_422(api, member, occurred_at):
    # when: a well-formed date-time, however far off
    response = purchase(api, member, occurred_at=occurred_at)
    # then
    assert_problem(response, 422, "invalid_purchase")


def test_lines_that_do_not_add_up_are_a_422(api, member):
    lines = [{"sku": "X", "amount": "1.00"}]
    assert_problem(purchase(api, member, lines=lines), 422, "invalid_purchase")


@pytest.mark.parametrize(
    "birthday, status, code",
    [
        ("02-29", 201, None),
        ("2024-02-29", 201, None),
        ("", 201, None),
        ("00-00", 400, "invalid_request"),
        ("02-30", 400, "invalid_request"),
        ("2023-02-29", 400, "invalid_request"),
        ("1900-02-29", 400, "invalid_request"),
        ("12-01\n", 400, "invalid_request"),
        ("2999-01-01", 422, "implausible_birthday"),
        ("1800-01-01", 422, "implausible_birthday"),
    ],
)
def test_a_birthday_is_a_day_that_exists_and_could_be_one(api, birthday, status, code):
    # when
    response = api.post("/api/v1/members/", {"email": "mia@example.com", "birthday": birthday})
    # then
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    assert Member.objects.exists() == (status == 201)


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "tab\tkey"])
def test_an_idempotency_key_outside_its_pattern_is_a_400(api, member, key):
    response = purchase(api, member, key=key)
    assert_problem(response, 400, "idempotency_key_required")


@pytest.mark.parametrize("key", ["k", "till 42 / 0001", "x" * 255])
def test_an_idempotency_key_inside_its_pattern_is_taken(api, member, key):
    assert purchase(api, member, key=key).status_code == 201


@pytest.mark.parametrize(
    "query", ["language=AAA", "language=", "language=EN", "member_number=nope&language=xx"]
)
def test_a_rewards_query_outside_the_schema_is_a_400(api, member, query):
    assert_problem(api.get(f"/api/v1/rewards/?{query}"), 400, "invalid_request")


@pytest.mark.parametrize("page_size, status", [("1", 200), ("200", 200), ("0", 400), ("201", 400)])
@pytest.mark.parametrize("listing", ["ledger", "referrals"])
def test_page_size_is_1_to_200(api, member, listing, page_size, status):
    response = api.get(f"/api/v1/members/{member.member_number}/{listing}/?page_size={page_size}")
    assert response.status_code == status, response.content


@pytest.mark.parametrize("page_size", ["abc", "", "1.5", "-1", "٣"])
def test_a_page_size_that_is_no_whole_number_is_a_400(api, member, page_size):
    response = api.get(f"/api/v1/members/{member.member_number}/ledger/?page_size={page_size}")
    assert_problem(response, 400, "invalid_request")


def test_a_refund_takes_an_amount_or_lines_not_both_and_not_no_lines(api, member):
    # given
    purchase(api, member, external_id="R-1", lines=[{"sku": "X", "amount": "12.50"}])
    path = "/api/v1/purchases/R-1/refunds/"
    # when / then
    both = {"external_id": "R-1-1", "amount": "1.00", "lines": [{"sku": "X", "quantity": 1}]}
    assert_problem(api.post(path, both), 400, "invalid_request")
    assert_problem(api.post(path, {"external_id": "R-1-2", "lines": []}), 400, "invalid_request")
    unknown_sku = {"external_id": "R-1-3", "lines": [{"sku": "Y", "quantity": 1}]}
    assert_problem(api.post(path, unknown_sku), 422, "invalid_purchase")


def test_a_nul_in_a_field_the_api_ignores_is_ignored(api, member):
    # a NUL is refused where it would be stored (text), and ignored like the field elsewhere
    stored = purchase(api, member, external_id="N\x00")
    assert_problem(stored, 400, "invalid_request")
    assert purchase(api, member, note="\x00", **{"x\x00": 1}).status_code == 201


def test_the_schema_publishes_the_idempotency_key_and_money_forms(schema):
    # given
    operation = schema["paths"]["/api/v1/purchases/"]["post"]
    # then
    key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    assert re.fullmatch(key["schema"]["pattern"], "till 42")
    assert not re.fullmatch(key["schema"]["pattern"], " till")
    amount = schema["components"]["schemas"]["PurchaseInputRequest"]["properties"]["amount"]
    string, number = amount["anyOf"]
    assert re.fullmatch(string["pattern"], "12.50") and not re.fullmatch(string["pattern"], "0")
    assert (number["minimum"], number["maximum"], number["multipleOf"]) == (
        0.01,
        9999999999.99,
        0.01,
    )


def test_the_batch_publishes_its_bounds_and_each_purchase_as_the_single_endpoint_takes_it(
    schema,
):
    # given
    operation = schema["paths"]["/api/v1/purchases/batch/"]["post"]
    batch = schema["components"]["schemas"]["PurchaseBatchInputRequest"]
    # then
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PurchaseBatchInputRequest"
    }
    assert batch["required"] == ["purchases"]
    purchases = batch["properties"]["purchases"]
    assert (purchases["type"], purchases["minItems"], purchases["maxItems"]) == ("array", 1, 1000)
    assert purchases["items"] == {"$ref": "#/components/schemas/PurchaseInputRequest"}
    assert {"200", "400", "409", "422"} <= set(operation["responses"])
    assert '{"purchases": {"2": {"amount": ' in batch["description"]


def test_every_string_a_request_body_takes_has_its_form_in_the_schema(schema):
    # given: every property of every request body, nested ones too
    loose = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        for field, definition in component.get("properties", {}).items():
            options = definition.get("anyOf", [definition])
            for option in options:
                if option.get("type") == "string" and not (
                    {"pattern", "enum"} & set(option) or option.get("format") in FORMATS
                ):
                    loose.append(f"{name}.{field}")
    # then: a pattern (at least: no NUL) or an enum, as the server's strict fields enforce
    assert loose == []


def test_success_answers_link_to_what_a_partner_does_next(schema):
    def links(path, method, status):
        return schema["paths"][path][method]["responses"][status]["links"]

    enrolled = links("/api/v1/members/", "post", "201")
    assert enrolled["GetMember"] == {
        "operationId": "members_retrieve",
        "description": "The member's balance and tier.",
        "parameters": {"path.member_number": "$response.body#/member_number"},
    }
    assert enrolled["RecordPurchase"]["requestBody"] == {
        "member_number": "$response.body#/member_number"
    }
    assert {"GetLedger", "GetReferrals", "ListRewards", "RedeemReward", "FileFeedback"} <= set(
        enrolled
    )
    assert links("/api/v1/purchases/", "post", "201")["RefundPurchase"]["parameters"] == {
        "path.external_id": "$response.body#/external_id"
    }
    batch = links("/api/v1/purchases/batch/", "post", "200")
    assert batch["RefundFirstPurchase"]["parameters"] == {
        "path.external_id": "$response.body#/results/0/purchase/external_id"
    }
    assert batch["GetFirstBuyer"]["parameters"] == {
        "path.member_number": "$response.body#/results/0/purchase/member/member_number"
    }
    redeemed = links("/api/v1/redemptions/", "post", "201")
    assert redeemed["CancelRedemption"]["operationId"] == "redemptions_cancel"
    assert redeemed["UseVoucher"]["parameters"] == {"path.code": "$response.body#/voucher_code"}
    operation_ids = {
        operation["operationId"] for item in schema["paths"].values() for operation in item.values()
    }
    every_link = [
        link
        for item in schema["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert {link["operationId"] for link in every_link} <= operation_ids
