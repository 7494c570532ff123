"""A purchase, its ledger entry and its lot written in one statement, as the ORM would."""

from decimal import Decimal

import pytest

from accounts.errors import MemberNotActive
from accounts.models import Member
from loyalty.core.errors import DuplicatePurchase
from loyalty.core.ledger import default_expiry
from loyalty.core.models import LedgerEntry, PointLot, Purchase
from loyalty.core.purchases import _PURCHASE_CREDIT, purchase_record
from tests import factories
from tests.api.purchase_helpers import buy

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


def test_too_many_points_are_refused_as_before(partner, member):
    from loyalty.core.errors import InvalidPoints

    factories.make_rule(name="Huge", points_per_unit=Decimal("99999.999"))
    # (a partner whose sanity limits staff set as high as they go: the ledger's own bound holds)
    partner.max_purchase_amount = Decimal("9999999999.99")
    partner.max_points_per_purchase = 10**15
    partner.save()
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
