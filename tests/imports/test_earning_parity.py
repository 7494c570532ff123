"""The set-based way (imports.earning_sql, imports.purchases_sql) earns exactly what the row by
row way earns through loyalty.core.earning.calculate: on a varied file (categories, offers,
date windows, minimum amounts, tier multipliers by the tier of the purchase's day, points
given), the same points, explanations, line earnings, entries and lots; and, for a partner with
a return window, the same purchases held pending (and until the same day) or credited."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction

from accounts.models import Member
from accounts.services import partner_update
from loyalty.core.models import PendingPoints, Purchase, TierChange
from tests import factories
from tests.jobs.conftest import travel

from .conftest import errors_of

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

UTC = ZoneInfo("UTC")


@pytest.fixture
def world(tiers, importer):
    shop = factories.make_partner("Parity Shop")
    other = factories.make_partner("Elsewhere")
    rule = factories.make_rule
    rule(name="Everything 1/€")
    rule(name="Coffee 2/€", category="coffee", points_per_unit=Decimal(2))
    rule(name="Cake 0.5/€", category="cake", points_per_unit=Decimal("0.5"))
    rule(name="Bread 1/€", category="bread")  # ties with the general rate: named instead
    rule(
        name="March at the shop 1.5/€",
        partner=shop,
        points_per_unit=Decimal("1.5"),
        valid_from=date(2025, 3, 1),
        valid_until=date(2025, 3, 31),
    )
    rule(name="Tea over 30 3/€", category="tea", points_per_unit=Decimal(3), min_amount=30)
    april = {"valid_from": date(2025, 4, 1), "valid_until": date(2025, 4, 30)}
    rule(
        name="April coffee ×2", category="coffee", multiplier=Decimal(2), points_per_unit=0, **april
    )
    rule(name="Big baskets ×1.5", multiplier=Decimal("1.5"), points_per_unit=0, min_amount=50)
    rule(name="Elsewhere 10/€", partner=other, points_per_unit=Decimal(10))
    rule(name="Retired 20/€", points_per_unit=Decimal(20), is_active=False)
    plain = factories.make_member(email="plain@example.com")
    climber = factories.make_member(email="climber@example.com")
    # the climber: Bronze until 1 February, Silver until 1 June, Gold since
    for when, old, new in [
        (datetime(2025, 2, 1, tzinfo=UTC), tiers["bronze"], tiers["silver"]),
        (datetime(2025, 6, 1, tzinfo=UTC), tiers["silver"], tiers["gold"]),
    ]:
        TierChange.objects.create(
            member=climber, from_tier=old, to_tier=new, qualifying_points=0, reason="upgrade",
            created_at=when,
        )  # fmt: skip
    climber.tier = tiers["gold"]
    climber.save(update_fields=["tier"])
    factories.give_points(plain, 7)  # a balance to run on from
    return shop, plain, climber


def _rows(plain, climber):
    p, c = plain.member_number, climber.member_number
    lines = [
        # no lines: the whole amount; in and out of March's window; tier by the day
        [p, "N-1", "2025-02-28 23:59", "10.10", "", "", "", "", ""],
        [p, "N-2", "2025-03-01 00:00", "10.10", "", "", "", "", ""],
        [c, "N-3", "2025-01-15 12:00", "33.33", "", "", "", "", ""],
        [c, "N-4", "2025-03-15 12:00", "33.33", "", "", "", "", ""],
        [c, "N-5", "2025-07-01 12:00", "33.33", "", "", "", "", ""],
        # lines with categories, a zero line, an unknown category; April coffee, big basket
        [c, "L-1", "2025-04-10T08:00:00Z", "61.37", "", "cof", "3", "7.25", "coffee"],
        [c, "L-1", "2025-04-10T08:00:00Z", "61.37", "", "cake", "1", "4.10", "cake"],
        [c, "L-1", "2025-04-10T08:00:00Z", "61.37", "", "tea", "2", "40.01", "tea"],
        [c, "L-1", "2025-04-10T08:00:00Z", "61.37", "", "bag", "1", "0", "bags"],
        [c, "L-1", "2025-04-10T08:00:00Z", "61.37", "", "loaf", "1", "10.01", "bread"],
        [p, "L-2", "2025-05-05 18:30", "29.99", "", "tea", "1", "29.99", "tea"],
        [p, "L-3", "2025-04-30 23:30", "3.33", "", "cof", "1", "3.33", "coffee"],
        [p, "L-4", "2025-03-20", "12.00", "", "x", "1", "5.00", "coffee"],
        [p, "L-4", "2025-03-20", "12.00", "", "y", "1", "7.00", "cake"],
        # points given (history), with and without lines
        [p, "G-1", "2024-12-24 10:00", "99.00", "123", "", "", "", ""],
        [c, "G-2", "2024-12-24 10:00", "20.00", "0", "a", "1", "20.00", "coffee"],
    ]
    return lines


def _capture():
    rows = []
    for purchase in Purchase.objects.order_by("external_id").prefetch_related("lines"):
        entry = purchase.ledger_entries.first()
        rows.append(
            (
                purchase.external_id,
                purchase.member_id,
                purchase.amount,
                purchase.occurred_at,
                purchase.points_earned,
                purchase.explanation,
                [
                    (
                        line.sku,
                        line.quantity,
                        line.amount,
                        line.category,
                        line.points_earned,
                        line.earning,
                    )  # fmt: skip
                    for line in purchase.lines.order_by("pk")
                ],
                entry and (entry.points, entry.balance_after, entry.created_at, entry.description),
                entry and (entry.lot.points, entry.lot.earned_at, entry.lot.expires_on),
                PendingPoints.objects.filter(purchase=purchase)
                .values_list("member_id", "points", "available_on", "status", "created_at")
                .first(),
            )
        )
    return rows


def _balances():
    return list(Member.objects.order_by("pk").values_list("points_balance", "points_pending"))


def _run(way, path, shop, run_import):
    with transaction.atomic():
        job = run_import(path, partner=shop, way=way)
        found = (
            _capture(),
            errors_of(job),
            (job.total, job.bad, job.done, job.points),
            _balances(),
        )
        transaction.set_rollback(True)
    return found


def test_both_ways_earn_the_same_to_the_digit(world, write_csv, run_import):
    # given
    assert connection.vendor == "postgresql"
    shop, plain, climber = world
    header = ["member_number", "external_id", "purchased_at", "amount", "points", "sku",
              "quantity", "line_amount", "category"]  # fmt: skip
    path = write_csv(_rows(plain, climber), header=header)

    # when
    by_rows = _run("rows", path, shop, run_import)
    by_sql = _run("sql", path, shop, run_import)

    # then
    assert by_sql == by_rows
    purchases, errors, counts, _balances = by_rows
    assert errors == [] and counts[:3] == (11, 0, 11)
    points = {row[0]: row[4] for row in purchases}
    # hand-checked: the climber's tier by the day (×1, ×1.25, ×1.5), March's window, the offers
    assert points["N-1"] == 10 and points["N-2"] == 15
    assert (points["N-3"], points["N-4"], points["N-5"]) == (33, 62, 49)
    assert points["G-1"] == 123 and points["G-2"] == 0
    explanation = {row[0]: row[5] for row in purchases}
    assert [part["type"] for part in explanation["L-1"]] == [
        "rate", "rate", "rate", "rate", "promotion", "promotion", "tier", "rounding"
    ]  # fmt: skip
    # the bread rule ties with the general rate and is named; cake's lower rate loses
    assert [part["rule"] for part in explanation["L-1"][:4]] == [
        "Coffee 2/€", "Everything 1/€", "Tea over 30 3/€", "Bread 1/€"
    ]  # fmt: skip


TIMES = [
    "2025-03-01", "2025-03-01 10:00", "2025-03-01T10:00:59", "2025-03-01 10:00:00.5",
    "2025-03-01T23:59:59.999999-05:30", "2025-03-01 10:00:00 +0200", "2025-03-01 10:00+02",
    "2025-03-01Z", "2025-03-01 +02:00", "2025-03-01T10:00Z", "2024-02-29 12:00",
    "2025-03-30 03:30", "2025-10-26 03:30",  # a gap and a fold of the program's clocks
    "2025-02-29", "2025-13-01", "2025-00-10", "2025-03-00", "2025-03-01 24:00",
    "2025-03-01 10:60", "2025-03-01 10:00:60", "0000-01-01", "2025-03-01 10:00+16:00",
    "2025-03-01 10:00+02:60", "2025-3-1", "01.03.2025", "2025-03-01 10", "", "2025-03-01 10:00 Z",
]  # fmt: skip


def test_both_ways_read_every_form_of_time_alike(world, write_csv, run_import):
    # given
    shop, plain, _climber = world
    header = ["member_number", "external_id", "purchased_at", "amount"]
    path = write_csv(
        [[plain.member_number, f"T-{i}", when, "1"] for i, when in enumerate(TIMES)], header=header
    )

    # when
    by_rows = _run("rows", path, shop, run_import)
    by_sql = _run("sql", path, shop, run_import)

    # then
    assert by_sql == by_rows
    times = {row[0]: row[3] for row in by_rows[0]}
    assert times["T-0"] == datetime(2025, 2, 28, 22, 0, tzinfo=UTC)  # midnight in Vilnius
    assert times["T-4"] == datetime(2025, 3, 2, 5, 29, 59, 999999, tzinfo=UTC)
    assert [row for row, *_rest in by_rows[1]] == list(range(15, 29))
    # a time the clocks skip counts as before the change; one they repeat, as after it
    assert times["T-11"] == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert times["T-12"] == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_both_ways_hold_what_is_inside_a_return_window_alike(world, write_csv, run_import):
    # given: the shop's points wait 14 days; the import runs on 10 December 2026 (Vilnius)
    shop, plain, climber = world
    shop = partner_update(partner=shop, changes={"return_window_days": 14})
    p, c = plain.member_number, climber.member_number
    header = ["member_number", "external_id", "purchased_at", "amount", "points", "sku",
              "quantity", "line_amount", "category"]  # fmt: skip
    rows = [
        [p, "OLD-1", "2026-11-01 10:00", "20.00", "", "", "", "", ""],  # available 15 Nov
        [p, "EDGE-1", "2026-11-26 23:59", "11.00", "", "", "", "", ""],  # available today
        [p, "NEW-1", "2026-11-27 00:00", "12.00", "", "", "", "", ""],  # tomorrow: pending
        [c, "EDGE-2", "2026-11-26T22:30:00Z", "13.00", "", "", "", "", ""],  # 27 Nov in Vilnius
        [c, "NEW-2", "2026-12-09 18:00", "30.00", "", "a", "2", "10.00", "coffee"],
        [c, "NEW-2", "2026-12-09 18:00", "30.00", "", "b", "1", "20.00", "cake"],
        [c, "NEW-3", "2026-12-10 08:00", "0.50", "", "", "", "", ""],  # earns 0: nothing held
        [p, "GIVEN-1", "2026-12-01", "40.00", "77", "", "", "", ""],  # given: held too
        [c, "OLD-2", "2025-06-01 12:00", "10.00", "", "", "", "", ""],
    ]
    path = write_csv(rows, header=header)

    # when
    with travel(date(2026, 12, 10)):
        by_rows = _run("rows", path, shop, run_import)
        by_sql = _run("sql", path, shop, run_import)

    # then
    assert by_sql == by_rows
    purchases, errors, counts, _balances = by_rows
    assert errors == [] and counts[:3] == (8, 0, 8)
    held = {row[0]: (row[9][1], row[9][2], row[9][3]) for row in purchases if row[9]}
    assert held == {
        "NEW-1": (12, date(2026, 12, 11), "pending"),
        "EDGE-2": (19, date(2026, 12, 11), "pending"),  # 13 × 1.5 (Gold), rounded down
        "NEW-2": (60, date(2026, 12, 23), "pending"),  # (2 × 10 + 1 × 20) × 1.5
        "GIVEN-1": (77, date(2026, 12, 15), "pending"),
    }
    credited = {row[0] for row in purchases if row[7]}
    assert credited == {"OLD-1", "EDGE-1", "OLD-2"}
    # (balance, pending): plain 7 + 20 + 11 with 12 + 77 pending; the climber 15 with 19 + 60
    assert by_rows[3] == [(38, 89), (15, 79)]
