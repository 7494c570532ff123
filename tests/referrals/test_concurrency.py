"""Real concurrency on PostgreSQL: a referral qualifies exactly once."""

import threading
from datetime import timedelta

import pytest

from accounts.models import Member
from loyalty.core.models import LedgerEntry, Purchase
from loyalty.core.purchases import PurchaseResult
from referrals import services
from referrals.models import Referral
from tests import factories
from tests.concurrency import run_at_once
from tests.referrals.conftest import FRIEND_BONUS, REFERRER_BONUS, buy, join

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REFERRAL = LedgerEntry.Kind.REFERRAL


@pytest.fixture
def world():
    factories.make_tiers()
    factories.make_rule(name="Base")
    shop = factories.make_partner("Till")
    ona = factories.make_member(email="ona@example.com", first_name="Ona", device_hash="phone")
    return shop, ona


def purchase_job(shop, member_id, external_id, amount="25"):
    def job():
        return buy(shop, Member.objects.get(pk=member_id), amount=amount, external_id=external_id)

    return job


@pytest.mark.parametrize("purchases", [2, 8])
def test_purchases_at_the_same_time_qualify_once(world, purchases):
    # given
    shop, ona = world
    friend = join(ona.referral_code.code)
    # when
    results = run_at_once([purchase_job(shop, friend.pk, f"P{i}") for i in range(purchases)])
    # then
    assert all(isinstance(r, PurchaseResult) for r in results), results
    assert Purchase.objects.filter(member=friend).count() == purchases
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    bonuses = LedgerEntry.objects.filter(kind=REFERRAL)
    assert sorted(bonuses.values_list("member_id", "points")) == sorted(
        [(ona.pk, REFERRER_BONUS), (friend.pk, FRIEND_BONUS)]
    )
    assert Member.objects.get(pk=ona.pk).points_balance == REFERRER_BONUS
    assert Member.objects.get(pk=friend.pk).points_balance == 25 * purchases + FRIEND_BONUS
    assert ona.messages.filter(kind="referral_qualified_referrer").count() == 1


def test_staff_approval_and_the_purchase_at_the_same_time_pay_once(world):
    # given
    shop, ona = world
    staff = factories.make_member(email="staff@example.com").user
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    friend = join(ona.referral_code.code, device_hash="phone")
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.FLAGGED

    def approve():
        return services.referral_approve(
            referral=Referral.objects.get(pk=referral.pk), staff_user=staff
        )

    # when
    results = run_at_once([approve, purchase_job(shop, friend.pk, "P1")])
    # then
    assert not any(isinstance(r, Exception) for r in results), results
    referral.refresh_from_db()
    assert referral.status == Referral.Status.QUALIFIED
    assert LedgerEntry.objects.filter(kind=REFERRAL).count() == 2


def test_friends_and_the_referrer_buying_at_once_do_not_deadlock(world):
    # given
    shop, ona = world
    friends = [join(ona.referral_code.code) for _ in range(4)]
    # when
    results = run_at_once(
        [purchase_job(shop, f.pk, f"F{i}") for i, f in enumerate(friends)]
        + [purchase_job(shop, ona.pk, f"O{i}") for i in range(4)]
    )
    # then
    assert all(isinstance(r, PurchaseResult) for r in results), results
    assert Referral.objects.filter(status=Referral.Status.QUALIFIED).count() == 4
    assert Member.objects.get(pk=ona.pk).points_balance == 4 * REFERRER_BONUS + 4 * 25


@pytest.mark.parametrize("order", ["at once", "expiry first", "purchase first"])
def test_expiry_and_a_last_minute_purchase_never_both_win(world, monkeypatch, order):
    # given: the daily expiry (run as if a day late) and the friend's qualifying purchase
    shop, ona = world
    friend = join(ona.referral_code.code)
    referral = Referral.objects.get()
    day_after = referral.expires_on + timedelta(days=1)
    # "expiry first": the expiry commits after the purchase read the referral as pending and
    # before its conditional UPDATE; "purchase first": the expiry starts right after that
    # UPDATE, before the purchase commits (it waits on the row lock). "at once": no steering.
    read, updated, expired = threading.Event(), threading.Event(), threading.Event()
    open_update = services._open_update

    def steered_open_update(referral, **changes):
        read.set()
        if order == "expiry first":
            expired.wait(timeout=20)
        try:
            return open_update(referral, **changes)
        finally:
            updated.set()

    monkeypatch.setattr(services, "_open_update", steered_open_update)

    def expire():
        if order != "at once":
            (read if order == "expiry first" else updated).wait(timeout=20)
        try:
            return services.referrals_expire_due(today=day_after)
        finally:
            expired.set()

    # when
    expired_count, bought = run_at_once([expire, purchase_job(shop, friend.pk, "P1")])
    # then: exactly one of the two took effect
    assert expired_count in (0, 1), expired_count
    assert isinstance(bought, PurchaseResult), bought
    referral.refresh_from_db()
    paid = LedgerEntry.objects.filter(kind=REFERRAL).count()
    assert (referral.status, paid) in {("qualified", 2), ("expired", 0)}
    purchase_won = referral.qualifying_purchase_id == bought.purchase.pk
    assert expired_count + purchase_won == 1, (
        f"expiry expired {expired_count}, the purchase qualified it: {purchase_won} "
        f"(status {referral.status}, {paid} bonus entries)"
    )
    if order != "at once":
        assert purchase_won == (order == "purchase first")
    # and the end state is the winner's, and only the winner's
    bonuses = sorted(LedgerEntry.objects.filter(kind=REFERRAL).values_list("member_id", "points"))
    balances = dict(Member.objects.values_list("pk", "points_balance"))
    qualified_messages = ona.messages.filter(kind="referral_qualified_referrer").count()
    assert Purchase.objects.filter(member=friend).count() == 1
    if purchase_won:
        assert referral.status == Referral.Status.QUALIFIED
        assert referral.qualified_at is not None
        assert bonuses == sorted([(ona.pk, REFERRER_BONUS), (friend.pk, FRIEND_BONUS)])
        assert referral.referrer_entry_id is not None and referral.friend_entry_id is not None
        assert (balances[ona.pk], balances[friend.pk]) == (REFERRER_BONUS, 25 + FRIEND_BONUS)
        assert qualified_messages == 1
    else:
        assert referral.status == Referral.Status.EXPIRED
        assert referral.qualifying_purchase_id is None and referral.qualified_at is None
        assert bonuses == []
        assert referral.referrer_entry_id is None and referral.friend_entry_id is None
        assert (balances[ona.pk], balances[friend.pk]) == (0, 25)
        assert qualified_messages == 0
