"""API key scopes: a key does only what its scopes allow; a call outside them is 403
insufficient_scope and writes nothing."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiScope, Member, PartnerApiKey
from accounts.services import (
    api_key_authenticate_cached,
    api_key_create,
    api_key_set_scopes,
    hash_api_key,
)
from feedback.models import FeedbackItem
from loyalty.base.errors import InvalidInput
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from loyalty.core.purchases import purchase_record
from rewards.models import Redemption, Voucher
from tests import factories

from .conftest import PartnerClient, make_client

PROBLEM = "application/problem+json"


def scoped_client(partner, *scopes) -> PartnerClient:
    _, raw = api_key_create(partner=partner, name="scoped", scopes=list(scopes))
    return PartnerClient(raw, partner)


def assert_insufficient_scope(response, scope: str):
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["required_scope"]) == ("insufficient_scope", scope)


def _api_v1_views(patterns=None, prefix=""):
    """(route, view class) of every URL pattern under /api/v1/."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_v1_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            yield route, getattr(pattern.callback, "view_class", None)


def test_every_api_v1_endpoint_declares_a_scope():
    views = list(_api_v1_views())
    assert len(views) >= 12
    undeclared = [
        route
        for route, view in views
        if getattr(view, "required_scope", None) not in ApiScope.values
    ]
    assert undeclared == []


def test_the_schema_names_each_operations_scope_and_its_403(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    for operation in operations:
        assert operation["x-required-scope"] in ApiScope.values, operation["operationId"]
        assert "insufficient_scope" in operation["description"]
        assert "403" in operation["responses"], operation["operationId"]


@pytest.fixture
def world(partner, base_rule, tiers, member):
    """A member with points, a purchase, a redemption with its voucher and a feedback item,
    all made with a key that has every scope."""
    full = make_client(partner)
    factories.give_points(member, 500)
    factories.make_reward(slug="coffee", points_cost=100)
    purchase_record(member=member, partner=partner, external_id="P-1", amount="20", currency="EUR")
    redeemed = full.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "coffee"}
    ).json()
    item = full.post(
        "/api/v1/feedback/",
        {
            "member_number": member.member_number,
            "kind": "praise",
            "category": "service",
            "text": "Lovely.",
        },
    ).json()
    return {"redemption": redeemed, "feedback": item}


def _counts() -> dict:
    models = (
        Member,
        Purchase,
        LedgerEntry,
        Redemption,
        Voucher,
        FeedbackItem,
        IdempotencyRecord,
    )
    return {model.__name__: model.objects.count() for model in models} | {
        "used vouchers": Voucher.objects.filter(used_at__isnull=False).count()
    }


def test_a_read_only_key_reads_and_is_refused_every_write(partner, member, world):
    # given
    api = scoped_client(partner, "read")
    number = member.member_number
    before = _counts()

    # when
    reads = [
        api.get(f"/api/v1/members/{number}/"),
        api.get(f"/api/v1/members/{number}/ledger/"),
        api.get(f"/api/v1/members/{number}/referrals/"),
        api.get(f"/api/v1/rewards/?member_number={number}"),
        api.get(f"/api/v1/feedback/{world['feedback']['id']}/"),
    ]
    writes = {
        "members": api.post("/api/v1/members/", {"email": "new@example.com"}),
        "purchases": api.post(
            "/api/v1/purchases/",
            {"member_number": number, "external_id": "P-2", "amount": "5", "currency": "EUR"},
        ),
        "purchases ": api.post("/api/v1/purchases/P-1/refunds/", {"external_id": "R-1"}),
        "redemptions": api.post(
            "/api/v1/redemptions/", {"member_number": number, "reward": "coffee"}
        ),
        "redemptions ": api.post(f"/api/v1/redemptions/{world['redemption']['id']}/cancel/"),
        "vouchers": api.post(f"/api/v1/vouchers/{world['redemption']['voucher_code']}/use/"),
        "feedback": api.post(
            "/api/v1/feedback/",
            {"member_number": number, "kind": "complaint", "category": "products", "text": "x"},
        ),
    }

    # then
    assert [response.status_code for response in reads] == [200] * 5
    for scope, response in writes.items():
        assert_insufficient_scope(response, scope.strip())
    assert _counts() == before


def test_a_purchases_only_key_records_purchases_but_cannot_redeem_or_read(
    partner, base_rule, tiers, member
):
    # given
    factories.give_points(member, 500)
    factories.make_reward(slug="coffee", points_cost=100)
    api = scoped_client(partner, "purchases")

    # when
    bought = api.post(
        "/api/v1/purchases/",
        {
            "member_number": member.member_number,
            "external_id": "P-1",
            "amount": "5",
            "currency": "EUR",
        },
    )
    refunded = api.post("/api/v1/purchases/P-1/refunds/", {"external_id": "R-1"})
    redeem = api.post(
        "/api/v1/redemptions/", {"member_number": member.member_number, "reward": "coffee"}
    )
    read = api.get(f"/api/v1/members/{member.member_number}/")

    # then
    assert (bought.status_code, refunded.status_code) == (201, 201)
    assert_insufficient_scope(redeem, "redemptions")
    assert_insufficient_scope(read, "read")
    assert Redemption.objects.count() == 0


def test_a_scope_change_applies_to_the_next_request(partner, member):
    # given
    key, raw = api_key_create(partner=partner, scopes=["purchases"])
    api = PartnerClient(raw, partner)
    assert_insufficient_scope(api.get(f"/api/v1/members/{member.member_number}/"), "read")

    # when
    api_key_set_scopes(key=key, scopes=["read", "purchases"])

    # then
    assert api.get(f"/api/v1/members/{member.member_number}/").status_code == 200
    assert api_key_authenticate_cached(raw).scopes == ["read", "purchases"]


def test_new_keys_have_every_scope_unless_chosen(partner):
    every, _raw = api_key_create(partner=partner)
    chosen, _raw = api_key_create(partner=partner, scopes=["members", "read", "read"])
    assert every.scopes == list(ApiScope.values)
    assert chosen.scopes == ["read", "members"]


@pytest.mark.parametrize("scopes", [[], ["read", "delete"], "read"], ids=repr)
def test_unknown_or_no_scopes_are_refused(partner, scopes):
    key, _raw = api_key_create(partner=partner)
    with pytest.raises(InvalidInput):
        api_key_create(partner=partner, scopes=scopes)
    with pytest.raises(InvalidInput):
        api_key_set_scopes(key=key, scopes=scopes)
    key.refresh_from_db()
    assert key.scopes == list(ApiScope.values)
    assert PartnerApiKey.objects.count() == 1


def test_keys_from_before_scopes_keep_every_scope(partner):
    # given: the database as it was before 0008, with a key in it
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0007_erasure")])
    old_apps = executor.loader.project_state(("accounts", "0007_erasure")).apps
    old_apps.get_model("accounts", "PartnerApiKey").objects.create(
        partner_id=partner.pk, prefix="old", digest=hash_api_key("an old key of twenty+ chars")
    )

    with connection.cursor() as cursor:  # check the key's foreign key now, before ALTER TABLE
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # when
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0008_partnerapikey_scopes")])
    executor = MigrationExecutor(connection)  # and on to today's schema, which the code reads
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then
    key = PartnerApiKey.objects.get(prefix="old")
    assert key.scopes == ["read", "purchases", "redemptions", "vouchers", "feedback", "members"]
    assert api_key_authenticate_cached("an old key of twenty+ chars").has_scope("vouchers")
