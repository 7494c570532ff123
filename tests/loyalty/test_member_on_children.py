"""Rows that hang off a member carry the member's id (docs/SCALING.md, "Cheap now"): purchase
lines, refunds and refund lines their purchase's, lot movements their entry's. Written by the
services, and filled by `manage.py member_ids_fill` for rows without it."""

from datetime import date, timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from loyalty.base.backfill import append_only_lifted, fill_in_batches
from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_credit, points_debit
from loyalty.core.models import LedgerEntry, LotMovement, PurchaseLine, Refund, RefundLine
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from tests import factories
from tests.member_copies import fill

LINE_SOURCE = "SELECT p.member_id FROM loyalty_purchase p WHERE p.id = t.purchase_id"
LINES = [
    {"sku": "COFFEE", "quantity": 2, "amount": "5.00", "category": "coffee"},
    {"sku": "BREAD", "quantity": 1, "amount": "15.00", "category": "bakery"},
]


def bought_and_refunded(partner, member):
    purchase = purchase_record(
        partner=partner,
        member=member,
        external_id="P-1",
        amount="20.00",
        currency="EUR",
        lines=LINES,
    ).purchase
    purchase_refund(purchase=purchase, external_id="R-1", lines=[{"sku": "COFFEE", "quantity": 1}])
    purchase_refund(purchase=purchase, external_id="R-2", amount="3.00")
    return purchase


def members_of_children(purchase) -> set:
    return {
        *PurchaseLine.objects.filter(purchase=purchase).values_list("member_id", flat=True),
        *Refund.objects.filter(purchase=purchase).values_list("member_id", flat=True),
        *RefundLine.objects.filter(refund__purchase=purchase).values_list("member_id", flat=True),
    }


def test_the_services_write_the_purchases_member_on_its_lines_refunds_and_refund_lines(
    partner, member, base_rule
):
    purchase = bought_and_refunded(partner, member)
    assert RefundLine.objects.filter(refund__purchase=purchase).count() == 1
    assert members_of_children(purchase) == {member.pk}


def test_the_fill_fills_the_rows_written_before_it(partner, member, base_rule):
    # given: rows as they were before the column (other members' rows stay as they are)
    purchase = bought_and_refunded(partner, member)
    for model in (PurchaseLine, Refund, RefundLine):
        model.objects.update(member=None)
    # when
    fill()
    # then
    assert members_of_children(purchase) == {member.pk}


def spent_and_expired(member) -> None:
    """Lot movements both ways: a spend (ledger.points_debit) and an expiry (the daily job's)."""
    points_credit(member=member, points=30, kind=LedgerEntry.Kind.GIFT, cause=member)
    points_credit(
        member=member,
        points=20,
        kind=LedgerEntry.Kind.GIFT,
        cause=member,
        expires_on=date.today() - timedelta(days=1),
    )
    points_debit(member=member, points=25, cause=member)
    points_expire(member=member, today=date.today())


def test_lot_movements_carry_their_entrys_member(member):
    other_member = factories.make_member()
    spent_and_expired(member)
    spent_and_expired(other_member)
    rows = set(LotMovement.objects.values_list("entry__member_id", "member_id"))
    assert len(LotMovement.objects.all()) >= 4
    assert rows == {(member.pk, member.pk), (other_member.pk, other_member.pk)}


def test_the_fill_fills_lot_movements_written_before_it(member):
    # given: movements without the member, as before the column (an append-only table: its
    # trigger lifted for this test's own update only)
    spent_and_expired(member)
    if connection.vendor == "postgresql":  # (the rows' deferred key checks, before the ALTER)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with transaction.atomic(), append_only_lifted(connection, "loyalty_lotmovement"):
        LotMovement.objects.update(member=None)
    # when
    fill()
    # then: filled, and the table append-only again
    assert set(LotMovement.objects.values_list("member_id", flat=True)) == {member.pk}
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LotMovement.objects.update(points=1)


def test_the_fill_goes_batch_by_batch_to_the_last_row(partner, member, base_rule):
    # given: two lines without their member
    purchase = bought_and_refunded(partner, member)
    PurchaseLine.objects.update(member=None)
    # when: one row a batch
    filled = fill_in_batches(connection, "loyalty_purchaseline", "member_id", LINE_SOURCE, batch=1)
    # then
    assert filled == 2
    assert set(PurchaseLine.objects.values_list("member_id", flat=True)) == {purchase.member_id}
    assert fill_in_batches(connection, "loyalty_purchaseline", "member_id", LINE_SOURCE) == 0


def test_the_ledger_entries_stay_append_only_for_the_fill():
    lifted = append_only_lifted(connection, "loyalty_ledgerentry")
    with pytest.raises(ValueError, match="stays append-only"), lifted:
        pass  # pragma: no cover
