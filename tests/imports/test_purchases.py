"""Importing purchases: a dry run lists every bad row and changes nothing; the real run imports
exactly the good rows, dated as history; a re-run adds nothing. Both ways (set-based on
PostgreSQL, row by row) give the same answers."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import member_set_status
from loyalty.core.models import LedgerEntry, PointLot, Purchase, PurchaseLine
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from tests import factories
from webhooks.models import WebhookEvent

from .conftest import WAYS, errors_of

pytestmark = pytest.mark.django_db

VILNIUS = ZoneInfo("Europe/Vilnius")


def _way(way):
    if way == "sql" and connection.vendor != "postgresql":
        pytest.skip("the set-based way is PostgreSQL's")
    return way


@pytest.fixture
def shop(db):
    partner = factories.make_partner("History Shop")
    partner.max_purchase_amount = Decimal("1000.00")
    partner.max_points_per_purchase = 500
    partner.save()
    return partner


@pytest.fixture
def people(tiers, importer):
    ona = factories.make_member(email="ona@example.com")
    jonas = factories.make_member(email="jonas@example.com")
    gone = factories.make_member(email="gone@example.com")
    member_set_status(member=gone, status="closed", reason="left", staff_user=importer)
    return ona, jonas, gone


def _file(write_csv, ona, jonas, gone):
    """Two good purchases (one of two lines), and one bad row of each kind."""
    o, j, g = ona.member_number, jonas.member_number, gone.member_number
    header = ["member_number", "external_id", "purchased_at", "amount", "currency", "points",
              "sku", "quantity", "line_amount", "category"]  # fmt: skip
    rows = [
        [o, "A-1", "2025-03-01 10:00", "20.00", "EUR", "", "", "", "", ""],  # row 2: good
        [j, "A-2", "2025-03-02T11:30:00+02:00", "15.50", "", "", "cof", "2", "5.50", "coffee"],
        [j, "A-2", "2025-03-02T11:30:00+02:00", "15.50", "", "", "cake", "", "10.00", ""],
        ["123456789", "B-1", "2025-03-01", "5", "", "", "", "", "", ""],  # 5 no such member
        [g, "B-2", "2025-03-01", "5", "", "", "", "", "", ""],  # 6 closed
        [o, "B-3", "2025-02-30", "5", "", "", "", "", "", ""],  # 7 no such day
        [o, "B-4", "2999-01-01", "5", "", "", "", "", "", ""],  # 8 future
        [o, "B-5", "2025-03-01", "5,00", "", "", "", "", "", ""],  # 9 comma
        [o, "B-6", "2025-03-01", "5000", "", "", "", "", "", ""],  # 10 over the partner's limit
        [o, "B-7", "2025-03-01", "5", "USD", "", "", "", "", ""],  # 11 not the partner's
        [o, "B-8", "2025-03-01", "5", "XXY", "", "", "", "", ""],  # 12 no such currency
        [o, "B-9", "2025-03-01", "5", "", "1.5", "", "", "", ""],  # 13 points not whole
        [o, "", "2025-03-01", "5", "", "", "", "", "", ""],  # 14 no id
        [o, "C-1", "2025-03-01", "9.00", "", "", "x", "", "4.00", ""],  # 15-16 lines 4+4 != 9
        [o, "C-1", "2025-03-01", "9.00", "", "", "y", "", "4.00", ""],
        [o, "C-2", "2025-03-01", "9.00", "", "", "", "", "", ""],  # 17-18 twice, no lines
        [o, "C-2", "2025-03-01", "9.00", "", "", "", "", "", ""],
        [o, "C-3", "2025-03-01", "4.00", "", "", "x", "0", "4.00", ""],  # 19 quantity 0
        [o, "C-3", "2025-03-01", "4.00", "", "", "y", "", "0", ""],  # 20 refused with it
        [o, "C-4", "2025-03-01", "600", "", "", "", "", "", ""],  # 21 earns 600 > 500
    ]
    return write_csv(rows, header=header)


EXPECTED_ERRORS = [
    (5, "member_number", "member_not_found", {}),
    (6, "member_number", "member_not_active", {}),
    (7, "purchased_at", "invalid_datetime", {}),
    (8, "purchased_at", "purchased_in_future", {}),
    (9, "amount", "invalid_amount", {}),
    (10, "amount", "purchase_amount_over_limit", {"limit": "1000.00"}),
    (11, "currency", "currency_mismatch", {"currency": "EUR"}),
    (12, "currency", "unknown_currency", {}),
    (13, "points", "invalid_points", {}),
    (14, "external_id", "invalid_external_id", {}),
    (15, "line_amount", "lines_do_not_add_up", {"lines": "8.00", "amount": "9.00"}),
    (16, "line_amount", "lines_do_not_add_up", {"lines": "8.00", "amount": "9.00"}),
    (17, "external_id", "duplicate_in_file", {}),
    (18, "external_id", "duplicate_in_file", {}),
    (19, "quantity", "invalid_quantity", {}),
    (20, "external_id", "purchase_refused", {"row": 19}),
    (21, "points", "purchase_points_over_limit", {"points": 600, "limit": 500}),
]


def _state():
    return (
        Purchase.objects.count(),
        PurchaseLine.objects.count(),
        LedgerEntry.objects.count(),
        PointLot.objects.count(),
        list(Purchase.objects.order_by("pk").values_list("external_id", "points_earned")),
    )


@pytest.mark.parametrize("way", WAYS)
def test_a_dry_run_lists_every_bad_row_and_changes_nothing(
    way, shop, people, base_rule, write_csv, run_import
):
    # given
    path = _file(write_csv, *people)
    before = _state()
    balances = [m.points_balance for m in people]

    # when
    job = run_import(path, partner=shop, dry_run=True, way=_way(way))

    # then
    assert errors_of(job) == EXPECTED_ERRORS
    assert (job.status, job.dry_run) == ("checked", True)
    assert (job.rows, job.total, job.bad, job.skipped, job.to_import) == (20, 16, 14, 0, 2)
    assert job.points == 20 + 15  # one point per euro
    assert _state() == before
    for member, balance in zip(people, balances, strict=True):
        member.refresh_from_db()
        assert member.points_balance == balance


@pytest.mark.parametrize("way", WAYS)
def test_the_real_run_imports_exactly_the_good_rows_and_a_rerun_adds_nothing(
    way, shop, people, base_rule, write_csv, run_import
):
    # given
    ona, jonas, _gone = people
    path = _file(write_csv, *people)
    events, messages = WebhookEvent.objects.count(), Message.objects.count()

    # when
    job = run_import(path, partner=shop, way=_way(way))
    again = run_import(path, partner=shop, way=way)

    # then
    assert errors_of(job) == EXPECTED_ERRORS
    assert (job.status, job.dry_run, job.done, job.bad, job.points) == ("done", False, 2, 14, 35)
    assert sorted(Purchase.objects.values_list("external_id", "points_earned")) == [
        ("A-1", 20),
        ("A-2", 15),
    ]
    a2 = Purchase.objects.get(external_id="A-2")
    assert a2.occurred_at == datetime(2025, 3, 2, 9, 30, tzinfo=ZoneInfo("UTC"))
    assert list(a2.lines.order_by("pk").values_list("sku", "quantity", "amount", "category")) == [
        ("cof", 2, Decimal("5.50"), "coffee"),
        ("cake", 1, Decimal("10.00"), ""),
    ]
    assert set(a2.lines.values_list("member_id", flat=True)) == {a2.member_id}  # (its shard's)
    entry = LedgerEntry.objects.get(purchase=a2)
    assert (entry.kind, entry.points, entry.created_at) == ("earn", 15, a2.occurred_at)
    assert entry.lot.earned_at == a2.occurred_at
    assert entry.lot.expires_on == datetime(2027, 3, 2).date()  # 24 months from that day
    a1 = Purchase.objects.get(external_id="A-1")
    assert a1.occurred_at == datetime(2025, 3, 1, 10, 0, tzinfo=VILNIUS)
    assert a1.created_at >= timezone.now() - timedelta(minutes=5)
    ona.refresh_from_db()
    jonas.refresh_from_db()
    assert (ona.points_balance, jonas.points_balance) == (20, 15)
    # history: no webhook event or message per purchase
    assert (WebhookEvent.objects.count(), Message.objects.count()) == (events, messages)
    # a re-run adds nothing: the good purchases are there already
    assert (again.done, again.skipped, again.bad, again.points) == (0, 2, 14, 0)
    assert Purchase.objects.count() == 2


@pytest.mark.parametrize("way", WAYS)
def test_what_changed_between_the_check_and_the_writes_is_seen_by_the_writes(
    way, shop, people, base_rule, write_csv, importer
):
    # given: the file is checked, then Ona closes her membership and the till reports Z-2
    from imports.purchases_rows import RowPurchases
    from imports.purchases_sql import SqlPurchases
    from imports.sources import Source

    ona, jonas, _gone = people
    header = ["member_number", "external_id", "purchased_at", "amount"]
    path = write_csv(
        [
            [ona.member_number, "Z-1", "2025-03-01", "10"],
            [jonas.member_number, "Z-2", "2025-03-01", "10"],
            [jonas.member_number, "Z-3", "2025-03-01", "10"],
        ],
        header=header,
    )
    cls = SqlPurchases if _way(way) == "sql" else RowPurchases
    runner = cls(Source(path), partner=shop, now=timezone.now())
    checked = runner.check()
    member_set_status(member=ona, status="closed", reason="left", staff_user=importer)
    purchase_record(partner=shop, member=jonas, external_id="Z-2", amount="5", currency="EUR")

    # when
    written = runner.write(at=timezone.now())
    runner.close()

    # then
    assert (checked.to_import, written.imported, written.refused, written.skipped) == (3, 1, 1, 1)
    assert [e.as_tuple() for e in written.errors] == [(2, "member_number", "member_not_active", {})]
    assert sorted(Purchase.objects.values_list("external_id", "amount")) == [
        ("Z-2", Decimal("5.00")),
        ("Z-3", Decimal("10.00")),
    ]


def test_points_given_are_worded_for_the_member():
    # given
    from django.template.loader import render_to_string

    # when
    words = render_to_string(
        "members/_explanation_part.html", {"part": {"type": "given", "points": "1234"}}
    )

    # then
    assert words.strip() == "1,234 brought over from your previous loyalty programme"
