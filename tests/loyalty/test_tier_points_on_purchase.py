"""Tiers on a purchase: qualifying points counted in its statement, upgrades, grace, new tiers."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Member
from loyalty.core.models import LedgerEntry, Purchase, Tier, TierChange
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from loyalty.core.selectors import qualifying_points, qualifying_points_many
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import _held_purchase, buy, statements

# --- tiers on a purchase: the grace, the upgrade, a new tier --------------------------------------


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


# --- the qualifying points: what the ORM sums -----------------------------------------------------


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
