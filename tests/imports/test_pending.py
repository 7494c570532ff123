"""Imported purchases respect the partner's return window as the API does: a purchase whose
points would still be pending at the import's time holds them pending (released by the nightly
step, cancelled by a refund inside the window); older history is credited at once."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Member
from accounts.services import partner_update
from loyalty.core.models import LedgerEntry, PendingPoints, PointLot, Purchase
from loyalty.core.refunds import purchase_refund
from tests import factories
from tests.jobs.conftest import travel
from tests.pending.conftest import night

from .conftest import WAYS
from .test_purchases import _way

pytestmark = pytest.mark.django_db

VILNIUS = ZoneInfo("Europe/Vilnius")
IMPORT_DAY = date(2026, 12, 10)


@pytest.fixture
def market(db):
    """A shop whose purchases' points wait 14 days."""
    partner = factories.make_partner("Weekly Market")
    return partner_update(partner=partner, changes={"return_window_days": 14})


@pytest.fixture
def ona(tiers, importer):
    return factories.make_member(email="ona@example.com")


def _file(write_csv, member):
    number = member.member_number
    return write_csv(
        [
            [number, "RECENT", "2026-12-05 10:00", "30.00"],  # available on 19 December
            [number, "OLD", "2026-10-01 10:00", "20.00"],  # its window passed long ago
        ],
        header=["member_number", "external_id", "purchased_at", "amount"],
    )


def _state():
    return (
        Purchase.objects.count(),
        LedgerEntry.objects.count(),
        PointLot.objects.count(),
        PendingPoints.objects.count(),
        list(Member.objects.order_by("pk").values_list("points_balance", "points_pending")),
    )


@pytest.mark.parametrize("way", WAYS)
def test_a_dry_run_holds_nothing(way, market, ona, base_rule, write_csv, run_import):
    # given
    path = _file(write_csv, ona)
    before = _state()

    # when
    with travel(IMPORT_DAY):
        job = run_import(path, partner=market, dry_run=True, way=_way(way))

    # then
    assert (job.status, job.to_import, job.points) == ("checked", 2, 50)
    assert _state() == before


@pytest.mark.parametrize("way", WAYS)
def test_a_recent_purchase_waits_pending_and_an_old_one_is_credited(
    way, market, ona, base_rule, write_csv, run_import
):
    # given
    path = _file(write_csv, ona)

    # when
    with travel(IMPORT_DAY):
        job = run_import(path, partner=market, way=_way(way))
        again = run_import(path, partner=market, way=way)

    # then: the recent one pending until its day, no entry; the old one earned at once
    assert (job.status, job.done, job.points) == ("done", 2, 50)
    recent = Purchase.objects.get(external_id="RECENT")
    pending = PendingPoints.objects.get()
    assert (pending.purchase_id, pending.member_id, pending.points) == (recent.pk, ona.pk, 30)
    assert (pending.status, pending.available_on, pending.cancelled) == (
        "pending",
        date(2026, 12, 19),
        0,
    )
    assert pending.created_at == datetime(2026, 12, 10, 9, tzinfo=VILNIUS)
    assert not LedgerEntry.objects.filter(purchase=recent).exists()
    old = LedgerEntry.objects.get(purchase__external_id="OLD")
    assert (old.kind, old.points, old.balance_after) == ("earn", 20, 20)
    ona.refresh_from_db()
    assert (ona.points_balance, ona.points_pending) == (20, 30)
    # a re-run adds nothing
    assert (again.done, again.skipped, again.points) == (0, 2, 0)
    assert PendingPoints.objects.count() == 1
    ona.refresh_from_db()
    assert (ona.points_balance, ona.points_pending) == (20, 30)


@pytest.mark.parametrize("way", WAYS)
def test_the_nightly_step_releases_an_imported_purchases_points(
    way, market, ona, base_rule, write_csv, run_import
):
    # given
    with travel(IMPORT_DAY):
        run_import(_file(write_csv, ona), partner=market, way=_way(way))

    # when: the night before its day, then on its day
    night(date(2026, 12, 18))
    ona.refresh_from_db()
    before = (ona.points_balance, ona.points_pending)
    night(date(2026, 12, 19))

    # then
    assert before == (20, 30)
    ona.refresh_from_db()
    assert (ona.points_balance, ona.points_pending) == (50, 0)
    pending = PendingPoints.objects.select_related("entry__lot").get()
    assert pending.status == "released"
    assert (pending.entry.points, pending.entry.purchase.external_id) == (30, "RECENT")
    assert pending.entry.lot.expires_on == date(2028, 12, 19)  # 24 months from its day


@pytest.mark.parametrize("way", WAYS)
def test_a_refund_inside_the_window_cancels_the_imported_pending_points(
    way, market, ona, base_rule, write_csv, run_import
):
    # given
    with travel(IMPORT_DAY):
        run_import(_file(write_csv, ona), partner=market, way=_way(way))
    recent = Purchase.objects.get(external_id="RECENT")

    # when
    with travel(date(2026, 12, 12)):
        purchase_refund(purchase=recent, external_id="R-1")

    # then: nothing taken from the balance, the pending points cancelled
    ona.refresh_from_db()
    assert (ona.points_balance, ona.points_pending) == (20, 0)
    assert PendingPoints.objects.get().status == "cancelled"
