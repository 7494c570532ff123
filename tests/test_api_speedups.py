"""The fast path of POST /api/v1/purchases/: what it caches, what it skips, and that the answers,
the ledger and the idempotency rules stay what they were."""

import threading
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from accounts.errors import MemberNotActive, MemberNotFound
from accounts.models import Member, PartnerApiKey
from loyalty.base.prepared import PreparedSQL
from loyalty.core import selectors
from loyalty.core.errors import DuplicatePurchase
from loyalty.core.ledger import default_expiry
from loyalty.core.models import IdempotencyRecord, LedgerEntry, PointLot, Purchase, Tier, TierChange
from loyalty.core.purchases import (
    _PURCHASE_CREDIT,
    member_for_purchase,
    purchase_record,
    purchase_record_without_savepoint,
)
from loyalty.core.refunds import purchase_refund
from loyalty.core.selectors import qualifying_points, qualifying_points_many
from referrals.models import Referral
from referrals.services import referral_code_ensure
from tests import factories
from tests.api.conftest import make_client
from tests.concurrency import run_at_once
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create, endpoint_update

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)


@pytest.fixture
def other_api(db):
    return make_client(factories.make_partner("Other Shop"))


def buy(api, member, external_id="T-1", amount="12.50", key=None, **extra):
    body = {
        "member_number": member.member_number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
        **extra,
    }
    return api.post("/api/v1/purchases/", body, idempotency_key=key)


def statements(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries]


def claims(sql: list[str]) -> list[str]:
    """The Idempotency-Key claims among the statements (prepared on PostgreSQL)."""
    return [
        s
        for s in sql
        if "loyalty_idempotency_claim" in s
        or s.startswith('INSERT INTO "loyalty_idempotencyrecord"')
    ]


def till_and_member():
    """A till's API client and a member, with the tiers and a point per euro (for the tests
    that commit, which cannot use the fixtures' rows)."""
    factories.make_tiers()
    factories.make_rule(name="Base")
    return make_client(factories.make_partner("Till")), factories.make_member()


@contextmanager
def column_retyped(table: str, column: str, to: str, back: str):
    """As a migration would: the column of another type, then its own again whatever happens."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {to}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {back}")


# --- the API key: cached per process, revocation at once in this process -----------------------


def test_a_cached_key_authenticates_without_a_query_and_records_its_use_once_a_minute(db):
    partner = factories.make_partner("Till")
    key, raw = account_services.api_key_create(partner=partner)
    # when: the first use reads the key and records its use
    with CaptureQueriesContext(connection) as first:
        found = account_services.api_key_authenticate_cached(raw)
    # then
    assert found == key and found.partner == partner
    assert len(first) == 2
    recorded = PartnerApiKey.objects.get(pk=key.pk).last_used_at
    assert recorded is not None
    # when: used again within the minute, no query at all
    with CaptureQueriesContext(connection) as second:
        again = account_services.api_key_authenticate_cached(raw)
    assert len(second) == 0
    assert again == key and again is not found and again.partner is not found.partner
    # when: two minutes later, the use is recorded again (one UPDATE, the key still cached)
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=2)),
        CaptureQueriesContext(connection) as later,
    ):
        account_services.api_key_authenticate_cached(raw)
    assert [sql.split()[0] for sql in statements(later)] == ["UPDATE"]
    assert PartnerApiKey.objects.get(pk=key.pk).last_used_at > recorded


def test_the_last_use_is_written_at_most_once_a_minute_whoever_knows_what(db):
    partner = factories.make_partner("Till")
    key, raw = account_services.api_key_create(partner=partner)
    account_services.api_key_authenticate_cached(raw)
    recorded = PartnerApiKey.objects.get(pk=key.pk).last_used_at
    # when: another process's cache does not know of that use (here: a cleared cache)
    account_services.api_key_cache_clear()
    account_services.api_key_authenticate_cached(raw)
    # then: its conditional UPDATE wrote nothing
    assert PartnerApiKey.objects.get(pk=key.pk).last_used_at == recorded


def test_a_revoked_key_is_refused_at_once_although_it_was_cached(api, member):
    # given: the key is cached
    assert buy(api, member, external_id="A").status_code == 201
    key = PartnerApiKey.objects.get(partner=api.partner)
    # when
    account_services.api_key_revoke(key=key)
    # then
    response = buy(api, member, external_id="B")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert Purchase.objects.filter(external_id="B").count() == 0


def test_a_deactivated_partner_is_refused_at_once_although_its_key_was_cached(api, member):
    assert buy(api, member, external_id="A").status_code == 201
    partner = api.partner
    partner.is_active = False
    partner.save(update_fields=["is_active"])
    assert buy(api, member, external_id="B").status_code == 401


def test_without_a_signal_a_revocation_takes_effect_within_the_cache_time(api, member):
    # given: the key is cached, then revoked behind the cache's back (as another process would)
    assert buy(api, member, external_id="A").status_code == 201
    PartnerApiKey.objects.filter(partner=api.partner).update(revoked_at=timezone.now())
    # then: still cached for now, refused once the cache time is over
    assert buy(api, member, external_id="B").status_code == 201
    account_services._api_keys.expire()  # what the passing of API_KEY_CACHE_SECONDS does
    assert buy(api, member, external_id="C").status_code == 401


def test_unknown_keys_are_never_cached(db):
    assert account_services.api_key_authenticate_cached("nope.nope-nope-nope-nope") is None
    assert account_services._api_keys.entries == {}


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


def test_a_member_in_grace_in_the_top_tier_ends_the_grace_by_earning(partner, member, tiers):
    # given: gold (×1.5), in grace, 1,350 qualifying points
    factories.make_rule(name="Base")
    Member.objects.filter(pk=member.pk).update(
        tier=tiers["gold"], tier_grace_until=timezone.localdate() + timedelta(days=30)
    )
    member.refresh_from_db()
    purchase_record(partner=partner, member=member, external_id="1", amount="900", currency="EUR")
    assert Member.objects.get(pk=member.pk).tier_grace_until is not None
    # when: 150 more points make the gold tier's 1,500
    purchase_record(partner=partner, member=member, external_id="2", amount="100", currency="EUR")
    # then
    assert Member.objects.get(pk=member.pk).tier_grace_until is None


def test_the_upgrade_still_happens_over_the_api(api, member, tiers):
    assert buy(api, member, external_id="A", amount="499").json()["member"]["tier"]["code"] == (
        "bronze"
    )
    body = buy(api, member, external_id="B", amount="1").json()
    assert body["member"]["tier"] == {"code": "silver", "name": "Silver"}
    change = TierChange.objects.get()
    assert (change.from_tier, change.to_tier, change.qualifying_points) == (
        tiers["bronze"],
        tiers["silver"],
        500,
    )


def test_a_new_tier_is_seen_at_once_in_this_process(api, member, tiers):
    assert buy(api, member, external_id="A", amount="10").status_code == 201  # tiers cached
    Tier.objects.filter(code="gold").update(rank=3)
    Tier.objects.create(code="copper", name="Copper", rank=2, qualifying_points=15)
    # the update sent no signal, the create did: the cache was emptied
    body = buy(api, member, external_id="B", amount="10").json()
    assert body["member"]["tier"]["code"] == "copper"


# --- the purchase and its credit in one statement ---------------------------------------------


def test_the_purchase_entry_and_lot_are_what_the_orm_would_write(partner, member, base_rule):
    result = purchase_record(
        partner=partner,
        member=member,
        external_id="X-1",
        amount="12.34",
        currency="EUR",
        payment_fingerprint="card-1",
    )
    purchase = Purchase.objects.get()
    assert purchase == result.purchase
    assert (purchase.amount, purchase.points_earned, purchase.payment_fingerprint) == (
        Decimal("12.34"),
        12,
        "card-1",
    )
    assert purchase.explanation == result.explanation
    entry = LedgerEntry.objects.get()
    assert entry == result.entry
    assert (entry.kind, entry.points, entry.balance_after, entry.purchase_id) == (
        "earn",
        12,
        12,
        purchase.pk,
    )
    assert entry.description == f"{partner.name} X-1"
    assert entry.created_at == purchase.created_at
    lot = PointLot.objects.get()
    assert (lot.entry_id, lot.points, lot.remaining) == (entry.pk, 12, 12)
    assert lot.expires_on == default_expiry(entry.created_at)
    assert result.entry.lot == lot
    assert Member.objects.get(pk=member.pk).points_balance == member.points_balance == 12


def test_a_duplicate_purchase_writes_nothing(partner, member, base_rule):
    purchase_record(partner=partner, member=member, external_id="X-1", amount="10", currency="EUR")
    with pytest.raises(DuplicatePurchase):
        purchase_record(
            partner=partner, member=member, external_id="X-1", amount="20", currency="EUR"
        )
    assert Member.objects.get(pk=member.pk).points_balance == 10
    assert LedgerEntry.objects.count() == PointLot.objects.count() == 1


def test_a_member_closed_meanwhile_leaves_no_purchase(partner, member, base_rule):
    # given: a member object that does not know yet that the membership was closed
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    # when / then
    with pytest.raises(MemberNotActive):
        purchase_record(
            partner=partner, member=member, external_id="X-1", amount="10", currency="EUR"
        )
    assert not Purchase.objects.exists()
    assert Member.objects.get(pk=member.pk).points_balance == 0


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


def test_a_purchase_with_lines_and_no_points(api, member, partner):
    factories.make_rule(name="Books only", category="books", points_per_unit=Decimal(2))
    body = {
        "lines": [
            {"sku": "B1", "amount": "4.00", "category": "books"},
            {"sku": "F1", "amount": "6.00", "category": "food", "quantity": 2},
        ]
    }
    response = buy(api, member, external_id="L-1", amount="10.00", **body)
    assert response.status_code == 201, response.content
    purchase = Purchase.objects.get()
    assert [(line.sku, line.quantity) for line in purchase.lines.order_by("sku")] == [
        ("B1", 1),
        ("F1", 2),
    ]
    # 4 × 2 (books) + 6 × 1 (the base rule)
    assert response.json()["points_earned"] == 14


def test_a_purchase_that_earns_nothing_still_checks_the_member(partner, member):
    result = purchase_record(
        partner=partner, member=member, external_id="Z", amount="10", currency="EUR"
    )
    assert result.points == 0 and result.entry is None
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    with pytest.raises(MemberNotActive):
        purchase_record(
            partner=partner, member=member, external_id="Z2", amount="10", currency="EUR"
        )
    assert Purchase.objects.count() == 1


# --- earning rules: cached, changes seen at once in this process -------------------------------


def test_a_changed_rule_applies_to_the_next_purchase(api, member, base_rule):
    assert buy(api, member, external_id="A", amount="10").json()["points_earned"] == 10
    base_rule.points_per_unit = Decimal(3)
    base_rule.save()
    assert buy(api, member, external_id="B", amount="10").json()["points_earned"] == 30
    base_rule.delete()
    assert buy(api, member, external_id="C", amount="10").json()["points_earned"] == 0


def test_another_partners_rule_does_not_apply(api, member, other_api):
    factories.make_rule(name="Theirs", partner=other_api.partner, points_per_unit=Decimal(5))
    assert buy(api, member, external_id="A", amount="10").json()["points_earned"] == 10
    assert buy(other_api, member, external_id="A", amount="10").json()["points_earned"] == 50


def test_cached_rules_are_read_again_after_the_cache_time(db):
    factories.make_rule(name="One")
    assert [rule.name for rule in selectors.earning_rules_active(partner_id=1)] == ["One"]
    from loyalty.core.models import EarningRule

    EarningRule.objects.filter(name="One").update(is_active=False)  # no signal
    assert [rule.name for rule in selectors.earning_rules_active(partner_id=1)] == ["One"]
    selectors._earning_rules.expire()  # the cache time passed
    assert selectors.earning_rules_active(partner_id=1) == []


def test_a_settings_change_empties_the_caches(db, settings):
    factories.make_rule(name="One")
    assert selectors.earning_rules_active(partner_id=1)
    from loyalty.core.models import EarningRule

    EarningRule.objects.update(is_active=False)
    settings.LOYALTY_TIER_WINDOW_DAYS = 300
    assert selectors.earning_rules_active(partner_id=1) == []


# --- referrals: skipped only for members who were never referred -------------------------------


def test_the_member_lookup_says_whether_the_member_was_referred(api, member):
    assert "referrals" not in member_for_purchase(member.member_number).hooks
    code = referral_code_ensure(member=member).code
    friend = factories.make_member(email="friend@example.com", referral_code=code)
    found = member_for_purchase(friend.member_number)
    assert "referrals" in found.hooks
    assert found.member == friend and found.member.tier == friend.tier


def test_a_referred_friends_purchase_over_the_api_qualifies_the_referral(api, member):
    code = referral_code_ensure(member=member).code
    friend = factories.make_member(email="friend@example.com", referral_code=code)
    assert Referral.objects.get().status == Referral.Status.PENDING
    # when
    response = buy(api, friend, external_id="F-1", amount="100")
    # then
    assert response.status_code == 201, response.content
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.qualifying_purchase.external_id == "F-1"


def test_a_member_never_referred_costs_no_referral_query(api, member):
    assert buy(api, member, external_id="warm").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert buy(api, member, external_id="counted").status_code == 201
    assert not any(sql.startswith('SELECT "referrals_referral"') for sql in statements(queries))


# --- webhooks: events recorded whenever an endpoint wants them (nothing cached) -----------------


def test_an_endpoint_made_after_a_purchase_gets_the_next_ones_events(api, member):
    # given: no endpoint
    assert buy(api, member, external_id="A").status_code == 201
    assert not WebhookEvent.objects.exists()
    # when
    endpoint = endpoint_create(
        partner=api.partner, url="https://shop.example/hook", secret="s" * 20
    )
    assert buy(api, member, external_id="B").status_code == 201
    # then
    event = WebhookEvent.objects.get()
    assert (event.type, event.partner_id) == ("points.earned", api.partner.pk)
    assert WebhookDelivery.objects.get().endpoint == endpoint
    # and an endpoint switched off gets nothing more
    endpoint_update(endpoint=endpoint, is_active=False)
    assert buy(api, member, external_id="C").status_code == 201
    assert WebhookEvent.objects.count() == 1


def test_endpoints_of_other_partners_or_other_events_get_nothing(api, other_api, member):
    endpoint_create(partner=other_api.partner, url="https://other.example/h", secret="s" * 20)
    endpoint_create(
        partner=api.partner,
        url="https://shop.example/h",
        secret="s" * 20,
        event_types=["voucher.used"],
    )
    assert buy(api, member, external_id="A").status_code == 201
    assert not WebhookEvent.objects.exists()


def test_a_program_wide_tier_change_reaches_any_endpoint(api, other_api, member):
    endpoint_create(
        partner=other_api.partner,
        url="https://other.example/h",
        secret="s" * 20,
        event_types=["tier.changed"],
    )
    assert buy(api, member, external_id="A", amount="500").status_code == 201
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["tier.changed"]


def test_endpoints_changed_without_signals_are_seen_at_once(api, member):
    endpoint = endpoint_create(partner=api.partner, url="https://shop.example/h", secret="s" * 20)
    assert buy(api, member, external_id="A").status_code == 201
    assert WebhookEvent.objects.count() == 1
    type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=False)
    assert buy(api, member, external_id="B").status_code == 201
    assert WebhookEvent.objects.count() == 1
    type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=True)
    assert buy(api, member, external_id="C").status_code == 201
    assert WebhookEvent.objects.count() == 2


# --- the idempotency claim on PostgreSQL: INSERT ... ON CONFLICT DO NOTHING --------------------


def _held_purchase(monkeypatch, *, fail: bool):
    """The purchase (as the API records it first, without a savepoint) for the first caller only
    waits for `release` (its transaction open, holding the key) and then returns, or raises an
    unexpected error."""
    entered, release = threading.Event(), threading.Event()
    real = purchase_record_without_savepoint
    first = threading.Lock()

    def held(**kwargs):
        if not first.acquire(blocking=False):
            return real(**kwargs)
        result = real(**kwargs)
        entered.set()
        release.wait(10)
        if fail:
            raise RuntimeError("the first request dies")
        return result

    monkeypatch.setattr("loyalty.core.api.purchases.purchase_record_without_savepoint", held)
    return entered, release


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


# --- plain SQL where the ORM compiled the same query on every request --------------------------


def _values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_member_for_a_purchase_is_what_the_orm_reads(db, tiers):
    # given: one member with everything set, one without a tier
    full = factories.make_member(
        email="full@example.com", first_name="Full", birthday="1990-02-03", language="lt"
    )
    Member.objects.filter(pk=full.pk).update(
        tier=tiers["silver"], tier_grace_until=timezone.localdate(), points_balance=0
    )
    bare = factories.make_member(email="bare@example.com")
    Member.objects.filter(pk=bare.pk).update(tier=None, tier_since=None)
    for member in (full, bare):
        # when
        with CaptureQueriesContext(connection) as queries:
            found = member_for_purchase(member.member_number)
            tier = found.member.tier
        # then: one query, the same values and types as the ORM's
        assert len(queries) <= 3  # (looked up and PREPAREd once per connection, then EXECUTE)
        expected = Member.objects.select_related("tier").get(pk=member.pk)
        assert _values(found.member) == _values(expected)
        assert [type(v) for v in _values(found.member).values()] == [
            type(v) for v in _values(expected).values()
        ]
        if expected.tier is None:
            assert tier is None
        else:
            assert _values(tier) == _values(expected.tier)
        assert found.member._state.adding is False and found.member._state.db == "default"
        assert "referrals" not in found.hooks
    with pytest.raises(MemberNotFound):
        member_for_purchase("123456782")


def test_qualifying_points_are_what_the_orm_sums(partner, base_rule, tiers):
    from django.db.models import Sum

    members = [factories.make_member(email=f"q{i}@example.com") for i in range(3)]
    for i, member in enumerate(members):
        for j in range(i + 1):
            purchase_record(
                partner=partner,
                member=member,
                external_id=f"{i}-{j}",
                amount="10",
                currency="EUR",
            )
    purchase = Purchase.objects.filter(member=members[2]).first()
    purchase_refund(purchase=purchase, external_id="R")
    factories.give_points(members[0], 7)  # not from a purchase: does not count
    at = timezone.now()
    since = at - timedelta(days=365)
    expected = {
        row["member_id"]: row["total"]
        for row in LedgerEntry.objects.filter(
            purchase__isnull=False,
            kind__in=["earn", "reversal"],
            created_at__gt=since,
            created_at__lte=at,
        )
        .values("member_id")
        .annotate(total=Sum("points"))
        .order_by()
        if row["total"] > 0
    }
    ids = [m.pk for m in members]
    assert qualifying_points_many(member_ids=ids, at=at) == expected
    assert expected == {ids[0]: 10, ids[1]: 20, ids[2]: 20}
    for member_id in ids:
        assert qualifying_points(member_id=member_id, at=at) == expected[member_id]
    assert qualifying_points_many(member_ids=[], at=at) == {}
    # the window: nothing counts from before it
    later = at + timedelta(days=366)
    assert qualifying_points_many(member_ids=ids, at=later) == {}


@pytest.mark.postgres
def test_a_hot_statement_is_prepared_once_per_connection(api, member, settings):
    def heads():
        with CaptureQueriesContext(connection) as queries:
            assert buy(api, member, external_id=f"P-{len(seen)}").status_code == 201
        seen.append(1)
        return [sql.split()[0] + " " + sql.split()[1] for sql in statements(queries)]

    seen = []
    heads()  # whatever this connection had prepared before
    # when: the same connection again
    again = heads()
    # then: executed, not prepared
    assert any(head.startswith("EXECUTE loyalty_purchase_credit_") for head in again)
    assert not any(head.startswith("PREPARE") for head in again)
    # when: a pooler in transaction mode is configured, plain SQL
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
    try:
        plain = heads()
    finally:
        del connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"]
    assert not any(head.split()[0] in {"PREPARE", "EXECUTE"} for head in plain)
    assert any(head.startswith("WITH") for head in plain)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "table, column, wider, narrower",
    [
        ("accounts_member", "member_number", "varchar(13)", "varchar(12)"),  # the member lookup
        ("loyalty_tier", "qualifying_points", "bigint", "integer"),  # the lookup's tier
        ("loyalty_ledgerentry", "balance_after", "numeric(20)", "bigint"),  # the purchase's own
    ],
)
def test_a_migration_under_prepared_statements_costs_no_purchase(table, column, wider, narrower):
    # given: a connection that prepared the purchase's statements
    client, member = till_and_member()

    def buy_one(external_id):
        return buy(client, member, external_id, amount="10.00", key=external_id)

    assert buy_one("BEFORE").status_code == 201
    # when: a migration changes the type of a column a prepared statement returns
    with column_retyped(table, column, wider, narrower):
        after = buy_one("AFTER")
    # then: the purchase is recorded once, on the statements prepared afresh
    assert after.status_code == 201, after.content
    assert after.json()["points_earned"] == 10
    assert buy_one("BACK").status_code == 201  # and again after the change back
    assert buy_one("AFTER").status_code == 201  # a replay
    assert Purchase.objects.filter(member=member).count() == 3
    assert Member.objects.get(pk=member.pk).points_balance == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_migration_under_a_prepared_read_outside_a_transaction_costs_no_answer():
    # given: a member read once (the qualifying points for next_tier are a prepared statement)
    client, member = till_and_member()
    assert buy(client, member, "P-1", amount="10.00").status_code == 201
    path = f"/api/v1/members/{member.member_number}/"
    assert client.get(path).json()["next_tier"]["points_needed"] == 490
    # when: the SUM it returns changes type (bigint points summed are numeric, integer points
    # bigint)
    with column_retyped("loyalty_ledgerentry", "points", "integer", "bigint"):
        after = client.get(path)
    # then: answered at once, on the statement prepared afresh
    assert after.status_code == 200, after.content
    assert after.json()["next_tier"]["points_needed"] == 490
    assert client.get(path).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_a_server_connection_kept_are_used_as_they_are():
    # given: statements prepared on the server connection, which a pooler in session mode
    # hands to a new connection of ours (ours knows nothing of them)
    client, member = till_and_member()
    assert buy(client, member, "FIRST", amount="10.00").status_code == 201
    PreparedSQL._prepared.pop(connection.connection)
    # when
    with CaptureQueriesContext(connection) as queries:
        again = buy(client, member, "SECOND", amount="10.00")
    # then: found, not prepared again ("already exists" would fail every request)
    assert again.status_code == 201, again.content
    assert not any(sql.startswith("PREPARE") for sql in statements(queries))
    assert Member.objects.get(pk=member.pk).points_balance == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_the_statements_again():
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    client = make_client(partner)

    def heads(external_id):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/v1/purchases/",
                {
                    "member_number": member.member_number,
                    "external_id": external_id,
                    "amount": "10.00",
                    "currency": "EUR",
                },
            )
            assert response.status_code == 201, response.content
        return [sql.split()[0] for sql in statements(queries)]

    heads("A")
    assert "PREPARE" not in heads("B")
    connection.close()
    first = heads("C")
    assert first.count("PREPARE") == first.count("EXECUTE") >= 4
    assert Member.objects.get(pk=member.pk).points_balance == 30


def test_too_many_points_are_refused_as_before(partner, member):
    from loyalty.core.errors import InvalidPoints

    factories.make_rule(name="Huge", points_per_unit=Decimal("99999.999"))
    with pytest.raises(InvalidPoints):
        purchase_record(
            partner=partner,
            member=member,
            external_id="BIG",
            amount="9999999999.99",
            currency="EUR",
        )
    assert not Purchase.objects.exists() and not LedgerEntry.objects.exists()


def test_the_one_statement_writes_every_column_the_orm_would():
    # Every column of the three tables is written, or deliberately left NULL: a new field
    # must be added to the statement too.
    sql = _PURCHASE_CREDIT.sql
    left_null = {"id", "cause_type_id", "cause_id", "staff_user_id", "reverses_id"}
    for model in (Purchase, LedgerEntry, PointLot):
        for field in model._meta.concrete_fields:
            if field.column in left_null:
                assert field.null or field.primary_key
                continue
            assert field.column in sql, (model.__name__, field.column)


# --- the purchase's input: one serializer per thread, DRF's answers ------------------------------

PURCHASE_BODIES = [
    {"member_number": "1", "external_id": "A", "amount": "12.50", "currency": "EUR"},
    None,
    [],
    "text",
    {},
    {"member_number": "1", "external_id": " ", "amount": "-1", "currency": "EURO"},
    {"member_number": "1", "external_id": "B", "amount": "1e9", "currency": "EUR"},
    {
        "member_number": "1",
        "external_id": "C",
        "amount": "3.00",
        "currency": "EUR",
        "occurred_at": "2026-01-01T10:00:00Z",
        "lines": [{"sku": "X", "amount": "3.00"}, {"sku": "", "amount": "x"}],
    },
    {
        "member_number": "1",
        "external_id": " D ",
        "amount": 3,
        "currency": "EUR",
        "lines": [{"sku": "X", "quantity": 2, "amount": "3.00", "category": "food"}],
        "payment_fingerprint": "",
    },
]


def fresh_answer(data):
    from rest_framework.exceptions import ValidationError

    from loyalty.core.api.purchases import PurchaseInput

    serializer = PurchaseInput(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as exc:
        return "invalid", exc.detail
    return "valid", serializer.validated_data


def reused_answer(data):
    from rest_framework.exceptions import ValidationError

    from loyalty.base.api.serializers import validated_input
    from loyalty.core.api.purchases import PurchaseInput

    try:
        return "valid", validated_input(PurchaseInput, data)
    except ValidationError as exc:
        return "invalid", exc.detail


def test_the_reused_serializer_answers_as_a_fresh_one_in_any_order():
    # twice over, forwards then backwards: no answer leaks into the next
    kinds = []
    for data in PURCHASE_BODIES + PURCHASE_BODIES[::-1]:
        fresh, reused = fresh_answer(data), reused_answer(data)
        assert reused == fresh, data
        kinds.append(reused[0])
    assert kinds.count("valid") == 6 and kinds.count("invalid") == 12
    assert reused_answer(PURCHASE_BODIES[0])[0] == "valid"
    assert reused_answer(PURCHASE_BODIES[-1])[1]["external_id"] == "D"
    assert reused_answer(None)[1] == {"non_field_errors": ["No data provided"]}


def test_each_thread_has_its_own_serializer():
    from loyalty.base.api import serializers
    from loyalty.core.api.purchases import PurchaseInput

    reused_answer(PURCHASE_BODIES[0])
    seen = []
    both_alive = threading.Barrier(2)

    def validate():
        assert reused_answer(PURCHASE_BODIES[0])[0] == "valid"
        seen.append(serializers._serializers.__dict__[PurchaseInput])
        both_alive.wait(timeout=10)

    threads = [threading.Thread(target=validate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mine = serializers._serializers.__dict__[PurchaseInput]
    assert len({id(serializer) for serializer in [mine, *seen]}) == 3


# --- the tier points counted in the purchase's statement ----------------------------------------


def test_a_purchase_that_reaches_a_tier_upgrades_with_the_points_counted(api, member, tiers):
    assert buy(api, member, external_id="A", amount="300.00").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = buy(api, member, external_id="B", amount="250.00")
    assert response.status_code == 201, response.content
    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    change = TierChange.objects.get(member=member)
    assert change.qualifying_points == 550 == qualifying_points(member_id=member.pk)
    if connection.vendor == "postgresql":
        assert not any(s.startswith("SELECT") and "SUM(" in s.upper() for s in statements(queries))


def test_the_counted_points_leave_out_what_is_outside_the_window(api, member, tiers):
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        assert buy(api, member, external_id="OLD", amount="400.00").status_code == 201
    assert buy(api, member, external_id="NEW", amount="200.00").status_code == 201
    member.refresh_from_db()
    assert member.tier == tiers["bronze"]
    assert not TierChange.objects.filter(member=member).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_purchase_waiting_for_another_counts_its_points_too(monkeypatch):
    tiers = factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    entered, release = _held_purchase(monkeypatch, fail=False)
    answers = {}

    def post(name, amount):
        try:
            client = make_client(partner)
            response = client.post(
                "/api/v1/purchases/",
                {
                    "member_number": member.member_number,
                    "external_id": name,
                    "amount": amount,
                    "currency": "EUR",
                },
            )
            answers[name] = response.status_code
        finally:
            connection.close()

    # when: the first purchase is written and not yet committed, the second starts
    first = threading.Thread(target=post, args=("first", "300.00"))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=post, args=("second", "250.00"))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the member's row
    release.set()
    first.join(20)
    second.join(20)
    # then: the second counted the first's points, and the two together reach Silver
    assert answers == {"first": 201, "second": 201}
    assert Member.objects.get(pk=member.pk).tier_id == tiers["silver"].pk
    assert TierChange.objects.get(member=member).qualifying_points == 550
