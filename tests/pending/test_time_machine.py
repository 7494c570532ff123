"""Pending points through time (issue 18): earned inside a 14-day return window, released by the
nightly job on their day exactly once, cancelled by a refund inside the window without debt,
taken back as before after it. The ledger invariants hold after every test (tests/ledger.py,
pending ones included), and are also checked at each step here."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from loyalty.core.closing import member_close
from loyalty.core.errors import InsufficientPoints
from loyalty.core.models import LedgerEntry, PendingPoints, PointLot, Refund, TierChange
from loyalty.core.pending import Hold, pending_hold_many, pending_release_many
from loyalty.core.refunds import purchase_refund
from loyalty.core.selectors import qualifying_points
from rewards.models import Redemption
from rewards.services import reward_redeem
from tests import factories
from tests.jobs.conftest import at, travel
from tests.ledger import assert_ledger_invariants
from tests.pending.conftest import DAY_0, DAY_14, buy, fresh, night

pytestmark = pytest.mark.django_db


def refund(purchase, on: date, external_id="R-1", **kwargs) -> Refund:
    with travel(on):
        return purchase_refund(purchase=purchase, external_id=external_id, **kwargs)


def earns(member) -> list[int]:
    return list(
        LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EARN)
        .order_by("id")
        .values_list("points", flat=True)
    )


def test_points_earned_inside_the_window_are_pending_with_their_day(shop, member, rules):
    # when: 120.00 on day 0 at a shop with a 14-day window
    result = buy(shop, member, "120")
    # then: nothing in the balance, no entry, no lot; 120 pending until day 14
    ona = fresh(member)
    assert (result.points, result.entry, ona.points_balance, ona.points_pending) == (
        120,
        None,
        0,
        120,
    )
    held = PendingPoints.objects.get(purchase=result.purchase)
    assert (held.points, held.available_on, held.status) == (120, DAY_14, "pending")
    assert result.pending == held
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert not PointLot.objects.filter(member=member).exists()
    assert qualifying_points(member_id=member.pk) == 0  # the tier counts them on release
    assert_ledger_invariants()


def test_pending_points_cannot_be_spent(shop, member, rules):
    # given: 120 pending, and 30 spendable from a gift
    buy(shop, member, "120")
    factories.give_points(member, 30)
    reward = factories.make_reward(points_cost=100)
    # when: a redemption on day 5
    with travel(DAY_0 + timedelta(days=5)), pytest.raises(InsufficientPoints) as refused:
        reward_redeem(member=fresh(member), reward=reward)
    # then: refused with the stable code, naming what is pending; nothing changed
    assert refused.value.code == "insufficient_points"
    assert refused.value.extra == {"points_pending": 120}
    ona = fresh(member)
    assert (ona.points_balance, ona.points_pending) == (30, 120)
    assert not Redemption.objects.exists()


def test_the_nightly_job_releases_them_on_day_14_exactly_once(shop, member, rules, settings):
    # given
    settings.LOYALTY_POINTS_EXPIRY_MONTHS = 24
    purchase = buy(shop, member, "120").purchase
    # when: every night from day 0 to day 13
    for offset in range(14):
        run = night(DAY_0 + timedelta(days=offset))
        assert run.errors == 0
        # then: still pending
        assert (fresh(member).points_balance, fresh(member).points_pending) == (0, 120)
    # when: day 14, twice
    first = night(DAY_14)
    second = night(DAY_14)
    # then: released once: one earn entry naming the purchase, dated the release, and its lot,
    # whose expiry counts from day 14 (the member gets the whole period to spend them)
    assert (first.errors, second.errors) == (0, 0)
    assert first.details["points_released"] == 120
    assert second.details.get("points_released", 0) == 0
    ona = fresh(member)
    assert (ona.points_balance, ona.points_pending) == (120, 0)
    entry = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.EARN)
    assert (entry.points, entry.purchase_id, entry.balance_after) == (120, purchase.pk, 120)
    assert entry.created_at.date() == DAY_14
    assert entry.lot.expires_on == date(2028, 12, 15)
    held = PendingPoints.objects.get(purchase=purchase)
    assert (held.status, held.entry_id) == ("released", entry.pk)
    assert qualifying_points(member_id=member.pk, at=entry.created_at) == 120
    assert_ledger_invariants()
    # and: now they can be spent
    with travel(DAY_14):
        reward_redeem(member=fresh(member), reward=factories.make_reward(points_cost=100))
    assert fresh(member).points_balance == 20


def test_a_refund_on_day_5_cancels_them_without_debt(shop, member, rules):
    # given: 120 pending; the member spent every spendable point they had (a 50-point gift)
    purchase = buy(shop, member, "120").purchase
    factories.give_points(member, 50)
    with travel(DAY_0 + timedelta(days=2)):
        reward_redeem(member=fresh(member), reward=factories.make_reward(points_cost=50))
    assert fresh(member).points_balance == 0
    # when: the whole purchase comes back on day 5
    done = refund(purchase, DAY_0 + timedelta(days=5))
    # then: the pending points are cancelled; nothing taken from the balance, nothing owed
    assert (done.points_cancelled, done.points_reversed, done.points_unrecovered) == (120, 0, 0)
    assert done.explanation[-1] == {"type": "pending", "points": 120}
    ona = fresh(member)
    assert (ona.points_balance, ona.points_pending) == (0, 0)
    assert PendingPoints.objects.get(purchase=purchase).status == "cancelled"
    assert not LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.REVERSAL).exists()
    assert_ledger_invariants()
    # and: day 14 releases nothing
    assert night(DAY_14).details.get("points_released", 0) == 0
    assert earns(member) == []  # (the gift is not an earn)
    assert fresh(member).points_balance == 0


def test_a_partial_refund_cancels_its_share_and_the_rest_is_released(shop, member, rules):
    # given: 120 pending
    purchase = buy(shop, member, "120").purchase
    # when: 30.00 of it comes back on day 5
    first = refund(purchase, DAY_0 + timedelta(days=5), amount="30.00")
    # then: 30 cancelled, 90 still pending
    assert (first.points_cancelled, first.points_reversed) == (30, 0)
    assert (fresh(member).points_balance, fresh(member).points_pending) == (0, 90)
    assert_ledger_invariants()
    # when: day 14
    night(DAY_14)
    # then: 90 released, in one earn entry
    assert earns(member) == [90]
    assert (fresh(member).points_balance, fresh(member).points_pending) == (90, 0)
    # when: the rest comes back on day 20, after the window
    rest = refund(purchase, DAY_0 + timedelta(days=20), external_id="R-2")
    # then: taken back from the balance as refunds always were; 120 settled in all
    assert (rest.points_cancelled, rest.points_reversed, rest.points_unrecovered) == (0, 90, 0)
    assert fresh(member).points_balance == 0
    assert_ledger_invariants()


def test_a_line_refund_cancels_what_that_line_earned(shop, member, rules):
    # given: coffee 10.00 at 2/€ (20 points) and bread 15.00 at 1/€ (15): 35 pending
    lines = [
        {"sku": "COFFEE", "quantity": 2, "amount": "10.00", "category": "coffee"},
        {"sku": "BREAD", "quantity": 1, "amount": "15.00", "category": "bakery"},
    ]
    purchase = buy(shop, member, "25.00", lines=lines).purchase
    assert fresh(member).points_pending == 35
    # when: one coffee comes back on day 3, then the bread on day 13
    coffee = refund(purchase, DAY_0 + timedelta(days=3), lines=[{"sku": "COFFEE", "quantity": 1}])
    bread = refund(
        purchase, DAY_0 + timedelta(days=13), "R-2", lines=[{"sku": "BREAD", "quantity": 1}]
    )
    # then: each cancels what it earned, no more
    assert (coffee.points_cancelled, bread.points_cancelled) == (10, 15)
    assert (fresh(member).points_balance, fresh(member).points_pending) == (0, 10)
    assert_ledger_invariants()
    # and: the other coffee's 10 points are released on day 14
    night(DAY_14)
    assert earns(member) == [10]
    assert (fresh(member).points_balance, fresh(member).points_pending) == (10, 0)


def test_a_refund_after_the_release_behaves_as_before(shop, member, rules):
    # given: 120 released on day 14, 100 of them spent
    purchase = buy(shop, member, "120").purchase
    night(DAY_14)
    with travel(DAY_14 + timedelta(days=1)):
        reward_redeem(member=fresh(member), reward=factories.make_reward(points_cost=100))
    # when: the purchase comes back on day 20
    done = refund(purchase, DAY_0 + timedelta(days=20))
    # then: what is left is taken back, the spent part is unrecovered; never below zero
    assert (done.points_cancelled, done.points_reversed, done.points_unrecovered) == (0, 20, 100)
    assert fresh(member).points_balance == 0
    assert_ledger_invariants()


def test_a_refund_after_the_window_the_job_missed_releases_first(shop, member, rules):
    # given: 120 pending, the job never ran
    purchase = buy(shop, member, "120").purchase
    # when: 40.00 comes back on day 16
    done = refund(purchase, DAY_0 + timedelta(days=16), amount="40.00")
    # then: the window had passed: released (120), then 40 taken back as usual
    assert (done.points_cancelled, done.points_reversed) == (0, 40)
    assert earns(member) == [120]
    assert (fresh(member).points_balance, fresh(member).points_pending) == (80, 0)
    # and: the job finds nothing left to release
    assert night(DAY_0 + timedelta(days=17)).details.get("points_released", 0) == 0
    assert_ledger_invariants()


def test_no_window_and_a_window_already_passed_earn_at_once(shop, partner, member, rules):
    # when: a shop without a window; and the windowed shop reporting a purchase 20 days late
    plain = buy(partner, member, "10", external_id="A")
    late = buy(
        shop,
        member,
        "20",
        external_id="B",
        on=DAY_0 + timedelta(days=20),
        occurred_at=at(DAY_0.year, DAY_0.month, DAY_0.day),
    )
    # then: both earned at once, as before
    assert (plain.pending, late.pending) == (None, None)
    assert earns(member) == [10, 20]
    assert (fresh(member).points_balance, fresh(member).points_pending) == (30, 0)


def test_the_tier_counts_pending_points_when_they_are_released(shop, member, rules):
    # given: 600.00 pending (Silver needs 500)
    buy(shop, member, "600")
    assert fresh(member).tier.code == "bronze"
    # when
    night(DAY_14)
    # then: the upgrade comes with the release
    ona = fresh(member)
    assert (ona.tier.code, ona.points_balance) == ("silver", 600)
    change = TierChange.objects.get(member=member)
    assert (change.qualifying_points, change.created_at.date()) == (600, DAY_14)


def test_closing_the_membership_cancels_what_is_pending(shop, member, rules):
    # given
    purchase = buy(shop, member, "120").purchase
    # when
    with travel(DAY_0 + timedelta(days=3)):
        member_close(member=fresh(member), notify=False)
    # then
    held = PendingPoints.objects.get(purchase=purchase)
    assert (held.status, held.cancelled) == ("cancelled", 120)
    assert fresh(member).points_pending == 0
    assert night(DAY_14).details.get("points_released", 0) == 0
    assert_ledger_invariants()


def test_set_based_holds_and_releases_keep_the_invariants(shop, member, rules):
    # given: two purchases recorded without points (as a bulk import would), held set-based
    other = factories.make_member(email="jonas@example.com")
    rules["base"].is_active = False
    rules["base"].save()
    rules["coffee"].is_active = False
    rules["coffee"].save()
    first = buy(shop, member, "10", external_id="X-1").purchase
    second = buy(shop, other, "10", external_id="X-2").purchase
    for purchase in (first, second):
        purchase.points_earned = 10
        purchase.save(update_fields=["points_earned"])
    with travel(DAY_0):
        pending_hold_many(
            holds=[
                Hold(member.pk, first.pk, 10, DAY_14),
                Hold(other.pk, second.pk, 10, DAY_14 + timedelta(days=1)),
            ]
        )
    assert (fresh(member).points_pending, fresh(other).points_pending) == (10, 10)
    assert_ledger_invariants()
    # when: released for day 14 for both members
    with travel(DAY_14):
        released = pending_release_many(member_ids=[member.pk, other.pk], today=DAY_14)
    # then: only what is due
    assert [(r.member_id, r.points, r.balance, r.pending) for r in released] == [
        (member.pk, 10, 10, 0)
    ]
    assert fresh(other).points_pending == 10
    assert_ledger_invariants()


def test_a_refund_never_cancels_more_than_was_left(shop, member, rules):
    # given: 120 pending, 100.00 refunded on day 2
    purchase = buy(shop, member, "120").purchase
    refund(purchase, DAY_0 + timedelta(days=2), amount="100.00")
    # when: the last 20.00 on day 4
    last = refund(purchase, DAY_0 + timedelta(days=4), "R-2")
    # then: 100 + 20 = everything, cancelled
    assert last.points_cancelled == 20
    assert PendingPoints.objects.get(purchase=purchase).cancelled == 120
    assert sum(Refund.objects.values_list("points_cancelled", flat=True)) == 120
    assert Decimal(sum(Refund.objects.values_list("amount", flat=True))) == Decimal("120.00")
    assert_ledger_invariants()
