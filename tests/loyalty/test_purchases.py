from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.errors import MemberNotActive, PartnerNotActive
from accounts.models import Member
from accounts.services import member_set_status
from loyalty.base.errors import InvalidAmount, UnknownCurrency
from loyalty.core.errors import (
    CurrencyMismatch,
    DuplicatePurchase,
    DuplicateRefund,
    InvalidPurchase,
    RefundExceedsPurchase,
)
from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_debit
from loyalty.core.models import LedgerEntry, Purchase, PurchaseLine, Refund, TierChange
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from loyalty.core.selectors import qualifying_points
from tests import factories


def record(partner, member, external_id="T-1", amount="10.00", **kwargs):
    kwargs.setdefault("currency", "EUR")
    return purchase_record(
        partner=partner, member=member, external_id=external_id, amount=amount, **kwargs
    )


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def test_a_purchase_earns_by_the_rules_and_explains_why(partner, member, base_rule):
    # given
    factories.make_rule(name="Coffee lovers", category="coffee", points_per_unit=Decimal(3))
    lines = [
        {"sku": "LATTE", "quantity": 2, "amount": "7.00", "category": "coffee"},
        {"sku": "BAGEL", "quantity": 1, "amount": "5.50", "category": "bakery"},
    ]
    # when
    result = record(partner, member, amount="12.50", lines=lines)
    # then: 7.00 × 3 + 5.50 × 1 = 26.5, rounded down once
    assert result.points == 26
    assert balance(member) == 26
    assert result.entry.kind == "earn" and result.entry.purchase == result.purchase
    assert [(p["type"], p.get("rule"), p.get("points")) for p in result.explanation] == [
        ("rate", "Coffee lovers", "21"),
        ("rate", "One point per euro", "5.5"),
        ("rounding", None, "-0.5"),
    ]
    assert result.explanation[-1] == {"type": "rounding", "points": "-0.5"}
    assert "Coffee lovers" in result.explanation_text
    assert PurchaseLine.objects.filter(purchase=result.purchase).count() == 2


def test_the_tier_multiplier_applies_to_the_sum(partner, member, base_rule, tiers):
    # given
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    member.refresh_from_db()
    # when
    result = record(partner, member, amount="15.00")
    # then
    assert result.points == 22  # 15 × 1.5 = 22.5, rounded down
    assert {"type": "tier", "tier": "Gold", "multiplier": "1.5", "points": "7.5"} in (
        result.explanation
    )


def test_a_purchase_no_rule_covers_earns_nothing_but_is_recorded(partner, member):
    result = record(partner, member, amount="9.99")
    assert result.points == 0 and result.entry is None
    assert Purchase.objects.get().points_earned == 0
    assert balance(member) == 0


def test_the_same_purchase_id_twice_is_refused_and_nothing_is_written(partner, member, base_rule):
    # given
    record(partner, member, external_id="R-7", amount="10")
    # when
    with pytest.raises(DuplicatePurchase):
        record(partner, member, external_id="R-7", amount="99")
    # then
    assert Purchase.objects.count() == 1
    assert balance(member) == 10
    assert LedgerEntry.objects.count() == 1


def test_another_partner_may_use_the_same_purchase_id(partner, member, base_rule):
    other = factories.make_partner("Web Shop")
    record(partner, member, external_id="R-7")
    record(other, member, external_id="R-7")
    assert Purchase.objects.count() == 2


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0", InvalidAmount),
        ("-1", InvalidAmount),
        ("1.001", InvalidAmount),
        ("abc", InvalidAmount),
        ("NaN", InvalidAmount),
        ("Infinity", InvalidAmount),
        (1.5, InvalidAmount),
        ("100000000000", InvalidAmount),
    ],
)
def test_bad_amounts_are_refused(partner, member, base_rule, amount, error):
    with pytest.raises(error):
        record(partner, member, amount=amount)
    assert Purchase.objects.count() == 0
    assert balance(member) == 0


def test_an_unknown_currency_or_another_currency_is_refused(partner, member, base_rule):
    with pytest.raises(UnknownCurrency):
        record(partner, member, currency="XYZ")
    with pytest.raises(CurrencyMismatch):
        record(partner, member, currency="USD")
    assert Purchase.objects.count() == 0


def test_lines_must_add_up_and_be_well_formed(partner, member, base_rule):
    with pytest.raises(InvalidPurchase):
        record(partner, member, amount="10", lines=[{"sku": "A", "amount": "9"}])
    with pytest.raises(InvalidPurchase):
        record(partner, member, amount="10", lines=[{"amount": "10"}])
    with pytest.raises(InvalidPurchase):
        record(partner, member, amount="10", lines=[{"sku": "A", "amount": "10", "quantity": 0}])
    with pytest.raises(InvalidPurchase):
        record(partner, member, external_id="")
    with pytest.raises(InvalidPurchase):
        record(partner, member, occurred_at=timezone.now() + timedelta(days=1))
    assert Purchase.objects.count() == 0


def test_a_purchase_reported_too_long_after_it_happened_earns_nothing(
    partner, member, base_rule, settings
):
    # given
    settings.LOYALTY_PURCHASE_MAX_AGE_DAYS = 90
    now = timezone.now()
    # when: one from the oldest day allowed, one from a day before it and one from year 1
    kept = record(
        partner, member, "T-90", occurred_at=now - timedelta(days=90) + timedelta(hours=1)
    )
    for external_id, occurred_at in [
        ("T-91", now - timedelta(days=91)),
        ("T-1AD", datetime(1, 1, 1, tzinfo=UTC)),
    ]:
        with pytest.raises(InvalidPurchase, match="within 90 days"):
            record(partner, member, external_id, occurred_at=occurred_at)
    # then
    assert kept.points == 10
    assert list(Purchase.objects.values_list("external_id", flat=True)) == ["T-90"]
    assert balance(member) == 10
    # and with no limit, any age earns
    settings.LOYALTY_PURCHASE_MAX_AGE_DAYS = 0
    assert record(partner, member, "T-OLD", occurred_at=now - timedelta(days=900)).points == 10


def test_a_purchase_sent_again_after_the_age_limit_is_still_a_duplicate(
    partner, member, base_rule, settings
):
    # given: a purchase recorded in time, 10 days after it happened
    happened = timezone.now() - timedelta(days=10)
    record(partner, member, "T-LATE", occurred_at=happened)
    # when: the till sends it again when the limit has passed it
    settings.LOYALTY_PURCHASE_MAX_AGE_DAYS = 5
    # then: it hears that the purchase is recorded, not that it is too old
    with pytest.raises(DuplicatePurchase):
        record(partner, member, "T-LATE", occurred_at=happened)
    assert Purchase.objects.count() == 1 and balance(member) == 10


def test_closed_members_and_inactive_partners_cannot_record(partner, member, staff_user):
    member_set_status(member=member, status="closed", staff_user=staff_user, reason="Left")
    with pytest.raises(MemberNotActive):
        record(partner, member)
    other = factories.make_partner("Old Till")
    other.is_active = False
    with pytest.raises(PartnerNotActive):
        record(other, Member.objects.get(pk=member.pk))
    assert Purchase.objects.count() == 0


def test_rules_respect_partner_window_and_minimum(partner, member):
    # given
    other = factories.make_partner("Elsewhere")
    today = timezone.localdate()
    factories.make_rule(name="Other partner", partner=other, points_per_unit=Decimal(5))
    factories.make_rule(name="Old", valid_until=today - timedelta(days=1), points_per_unit=9)
    factories.make_rule(name="Big baskets", min_amount=Decimal(50), points_per_unit=4)
    factories.make_rule(name="Base")
    factories.make_rule(name="Weekend", multiplier=Decimal(2), valid_from=today)
    # when
    small = record(partner, member, external_id="a", amount="10")
    big = record(partner, member, external_id="b", amount="50")
    # then
    assert small.points == 20  # base 1 × weekend 2
    assert big.points == 400  # big baskets 4 × weekend 2
    assert {p["rule"] for p in big.explanation} == {"Big baskets", "Weekend"}


def test_a_purchase_lifting_qualifying_points_upgrades_at_once(partner, member, base_rule, tiers):
    # given
    record(partner, member, external_id="1", amount="400")
    assert Member.objects.get(pk=member.pk).tier == tiers["bronze"]
    # when
    result = record(partner, member, external_id="2", amount="150")
    # then
    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    assert result.tier_change.to_tier == tiers["silver"]
    assert TierChange.objects.get().from_tier == tiers["bronze"]


def test_recording_a_purchase_takes_a_constant_number_of_queries(
    partner, member, base_rule, django_assert_max_num_queries
):
    # given: a long history
    for i in range(30):
        record(partner, member, external_id=f"h{i}", amount="3")
    points_debit(member=member, points=50, cause=member)
    lines = [{"sku": f"S{i}", "amount": "1.00", "category": "c"} for i in range(10)]
    # when / then
    with django_assert_max_num_queries(12):
        record(partner, member, external_id="new", amount="10.00", lines=lines)


def test_a_full_refund_takes_back_everything(partner, member, base_rule):
    # given
    purchase = record(partner, member, amount="40").purchase
    # when
    refund = purchase_refund(purchase=purchase, external_id="RF1")
    # then
    assert (refund.amount, refund.points_reversed, refund.points_unrecovered) == (
        Decimal("40.00"),
        40,
        0,
    )
    assert balance(member) == 0
    entry = LedgerEntry.objects.get(kind="reversal")
    assert entry.cause == refund and entry.purchase == purchase


def test_partial_refunds_add_up_to_exactly_what_was_earned(partner, member, base_rule):
    # given: 10 points on 10.00
    purchase = record(partner, member, amount="10.00").purchase
    # when: three refunds of a third each
    refunds = [
        purchase_refund(purchase=purchase, external_id=f"r{i}", amount=amount)
        for i, amount in enumerate(["3.33", "3.33", "3.34"])
    ]
    # then
    assert [r.points_reversed for r in refunds] == [3, 4, 3]
    assert balance(member) == 0


def test_a_refund_of_spent_points_records_what_was_not_recovered(partner, member, base_rule):
    # given
    purchase = record(partner, member, amount="100").purchase
    points_debit(member=member, points=80, cause=member)
    # when
    refund = purchase_refund(purchase=purchase, external_id="RF")
    # then
    assert (refund.points_reversed, refund.points_unrecovered) == (20, 80)
    assert balance(member) == 0
    assert Refund.objects.get().points_unrecovered == 80


def test_refunding_more_than_was_bought_is_refused(partner, member, base_rule):
    purchase = record(partner, member, amount="10").purchase
    purchase_refund(purchase=purchase, external_id="a", amount="6")
    with pytest.raises(RefundExceedsPurchase):
        purchase_refund(purchase=purchase, external_id="b", amount="4.01")
    with pytest.raises(DuplicateRefund):
        purchase_refund(purchase=purchase, external_id="a", amount="1")
    with pytest.raises(CurrencyMismatch):
        purchase_refund(purchase=purchase, external_id="c", amount="1", currency="USD")
    assert Refund.objects.count() == 1
    assert balance(member) == 4


def test_refunds_lower_qualifying_points(partner, member, base_rule):
    purchase = record(partner, member, amount="100").purchase
    purchase_refund(purchase=purchase, external_id="a", amount="25")
    assert qualifying_points(member_id=member.pk) == 75


def test_purchase_points_expire_by_the_policy(partner, member, base_rule, settings):
    # given
    settings.LOYALTY_POINTS_EXPIRY_MONTHS = 24
    at = timezone.make_aware(timezone.datetime(2026, 1, 15, 12))
    record(partner, member, amount="10", at=at, occurred_at=at)
    # when
    points_expire(member=member, today=date(2028, 1, 14))
    assert balance(member) == 10
    points_expire(member=member, today=date(2028, 1, 15))
    # then
    assert balance(member) == 0
