"""Purchase lines, refunds and refund lines carry their purchase's member (docs/SCALING.md,
"Cheap now"): written by the services, and filled by migration 0020 for rows without it."""

import importlib
from types import SimpleNamespace

from django.apps import apps
from django.db import connection

from loyalty.core.models import PurchaseLine, Refund, RefundLine
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund

fill = importlib.import_module("loyalty.core.migrations.0020_member_on_purchase_children").fill

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


def test_the_migration_fills_the_rows_written_before_it(partner, member, base_rule):
    # given: rows as they were before the column (other members' rows stay as they are)
    purchase = bought_and_refunded(partner, member)
    for model in (PurchaseLine, Refund, RefundLine):
        model.objects.update(member=None)
    # when: the migration's step (it reads only the editor's connection; SQLite refuses a
    # schema editor inside the test's transaction)
    fill(apps, SimpleNamespace(connection=connection))
    # then
    assert members_of_children(purchase) == {member.pk}
