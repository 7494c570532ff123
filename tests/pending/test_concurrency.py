"""Releases under real concurrency (PostgreSQL): threads, each with its own connection."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Member
from accounts.services import partner_update
from loyalty.core.models import LedgerEntry, Refund
from loyalty.core.pending import Released, pending_release_many
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from tests import factories
from tests.concurrency import run_at_once
from tests.ledger import assert_ledger_invariants

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pending_purchase():
    """120 points pending at a shop with a 14-day window; (member, purchase)."""
    factories.make_tiers()
    factories.make_rule(name="Base")
    shop = partner_update(
        partner=factories.make_partner("Till"), changes={"return_window_days": 14}
    )
    member = factories.make_member()
    result = purchase_record(
        partner=shop, member=member, external_id="P-1", amount="120", currency="EUR"
    )
    return member, result.purchase


def test_releases_run_at_once_release_once(pending_purchase):
    # given
    member, _purchase = pending_purchase
    day = timezone.localdate() + timedelta(days=14)
    # when: five batches (a redelivered task, two runs) release the same member at once
    results = run_at_once([lambda: pending_release_many(member_ids=[member.pk], today=day)] * 5)
    # then: one of them released the 120 points, the others found nothing
    assert all(isinstance(r, list) for r in results), results
    released = [item for r in results for item in r]
    assert [(r.points, r.balance, r.pending) for r in released if isinstance(r, Released)] == [
        (120, 120, 0)
    ]
    assert LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EARN).count() == 1
    assert_ledger_invariants()


def test_a_refund_after_the_window_racing_the_release_takes_back_once(pending_purchase):
    # given: day 16, the job not yet run
    member, purchase = pending_purchase
    day = timezone.localdate() + timedelta(days=16)
    later = timezone.now() + timedelta(days=16)

    def refund():
        return purchase_refund(purchase=purchase, external_id="R-1", amount="40.00", at=later)

    # when: the refund and the job at once
    results = run_at_once([refund, lambda: pending_release_many(member_ids=[member.pk], today=day)])
    # then: whichever came first released the points once; the refund took back 40
    assert not [r for r in results if isinstance(r, Exception)], results
    assert LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EARN).count() == 1
    done = Refund.objects.get()
    assert (done.points_cancelled, done.points_reversed) == (0, 40)
    assert Member.objects.get(pk=member.pk).points_balance == 80
    assert_ledger_invariants()
