"""Real concurrency on PostgreSQL: threads, each with its own connection and transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Member
from loyalty.core.errors import InsufficientPoints
from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_credit, points_debit
from loyalty.core.models import LedgerEntry, PointLot
from loyalty.core.purchases import PurchaseResult, purchase_record
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GIFT = LedgerEntry.Kind.GIFT


def test_twenty_concurrent_debits_against_a_balance_for_seven():
    # given
    factories.make_tiers()
    member = factories.make_member()
    today = timezone.localdate()
    for days in (30, 10, 20):
        points_credit(
            member=member,
            points=35,
            kind=GIFT,
            cause=member,
            expires_on=today + timedelta(days=days),
        )  # 105 points = 7 debits of 15

    def debit():
        m = Member.objects.get(pk=member.pk)
        return points_debit(member=m, points=15, cause=m)

    # when
    results = run_at_once([debit] * 20)
    # then
    succeeded = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert (len(succeeded), len(refused)) == (7, 13)
    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert sorted(e.balance_after for e in succeeded) == [0, 15, 30, 45, 60, 75, 90]
    assert list(PointLot.objects.values_list("remaining", flat=True)) == [0, 0, 0]


def test_concurrent_earn_spend_and_expire_on_one_member():
    # given
    factories.make_tiers()
    partner = factories.make_partner("Till")
    factories.make_rule(name="Base")
    member = factories.make_member()
    today = timezone.localdate()
    points_credit(
        member=member, points=100, kind=GIFT, cause=member, expires_on=today - timedelta(days=1)
    )
    points_credit(member=member, points=100, kind=GIFT, cause=member, expires_on=None)

    def fresh():
        return Member.objects.get(pk=member.pk)

    jobs = []
    for i in range(6):
        jobs.append(
            lambda i=i: purchase_record(
                partner=partner, member=fresh(), external_id=f"p{i}", amount="10", currency="EUR"
            )
        )
        jobs.append(lambda: points_debit(member=fresh(), points=30, cause=member))
    jobs.append(lambda: points_expire(member=fresh(), today=today))
    jobs.append(lambda: points_expire(member=fresh(), today=today))
    # when
    results = run_at_once(jobs)
    # then: nothing but refusals for lack of points went wrong
    unexpected = [
        r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientPoints)
    ]
    assert unexpected == []
    member.refresh_from_db()
    earned = 6 * 10
    spent = 30 * sum(
        1 for r in results if isinstance(r, LedgerEntry) and r.kind == LedgerEntry.Kind.SPEND
    )
    expired = -sum(e.points for e in LedgerEntry.objects.filter(kind="expire"))
    assert member.points_balance == 200 + earned - spent - expired >= 0
    # the expired lot is expired once, whatever its share was spent first
    assert LedgerEntry.objects.filter(kind="expire").count() <= 1


def test_concurrent_purchases_with_the_same_id_record_once():
    # given
    factories.make_tiers()
    partner = factories.make_partner("Till")
    factories.make_rule(name="Base")
    member = factories.make_member()

    def buy():
        return purchase_record(
            partner=partner,
            member=Member.objects.get(pk=member.pk),
            external_id="same",
            amount="10",
            currency="EUR",
        )

    # when
    results = run_at_once([buy] * 8)
    # then
    assert sum(1 for r in results if isinstance(r, PurchaseResult)) == 1
    assert all(
        type(r).__name__ == "DuplicatePurchase"
        for r in results
        if not isinstance(r, PurchaseResult)
    )
    assert Member.objects.get(pk=member.pk).points_balance == 10
