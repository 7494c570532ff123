"""Refunds by lines take back what those lines earned (issue 18), against hand-computed figures."""

from decimal import Decimal

import pytest

from accounts.models import Member
from loyalty.core.ledger import points_debit
from loyalty.core.models import LedgerEntry, PurchaseLine, Refund
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import explain_text, purchase_refund
from tests import factories


@pytest.fixture
def coffee_rule(db):
    return factories.make_rule(
        name="Two points per euro on coffee", points_per_unit=Decimal(2), category="coffee"
    )


@pytest.fixture
def silver(member, tiers):
    Member.objects.filter(pk=member.pk).update(tier=tiers["silver"])  # × 1.25
    member.refresh_from_db()
    return member


def buy(partner, member, amount, lines, external_id="P-1"):
    return purchase_record(
        partner=partner,
        member=member,
        external_id=external_id,
        amount=amount,
        currency="EUR",
        lines=lines,
    ).purchase


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


ISSUE_LINES = [
    {"sku": "COFFEE", "quantity": 1, "amount": "5.00", "category": "coffee"},
    {"sku": "BREAD", "quantity": 1, "amount": "15.00", "category": "bakery"},
    {"sku": "WINE", "quantity": 1, "amount": "30.00", "category": "drinks"},
]


def test_a_purchase_keeps_what_each_line_earned_before_rounding(
    partner, silver, base_rule, coffee_rule
):
    # when: (5 × 2 + 45 × 1) × 1.25 = 68.75, rounded down once to 68
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    # then
    assert purchase.points_earned == 68
    lines = {line.sku: line for line in PurchaseLine.objects.filter(purchase=purchase)}
    assert {sku: line.points_earned for sku, line in lines.items()} == {
        "COFFEE": Decimal("12.5"),  # 5 × 2 × 1.25
        "BREAD": Decimal("18.75"),  # 15 × 1 × 1.25
        "WINE": Decimal("37.5"),  # 30 × 1 × 1.25
    }
    assert lines["COFFEE"].earning == {
        "rule_id": coffee_rule.pk,
        "rule": "Two points per euro on coffee",
        "points_per_unit": "2",
        "tier": "Silver",
        "tier_multiplier": "1.25",
    }


def test_refunding_the_coffee_line_takes_back_what_it_earned_not_its_share_of_money(
    partner, silver, base_rule, coffee_rule
):
    # given: 68 points on 50.00; the coffee line (5.00) earned 12.5 of them
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    # when
    refund = purchase_refund(
        purchase=purchase, external_id="R-1", lines=[{"sku": "COFFEE", "quantity": 1}]
    )
    # then: 12.5 rounded down = 12 (in proportion to money it would be 68 × 5/50 = 6.8 → 7)
    assert (refund.amount, refund.points_reversed, refund.points_unrecovered) == (
        Decimal("5.00"),
        12,
        0,
    )
    assert balance(silver) == 68 - 12
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REVERSAL)
    assert (entry.points, entry.cause, entry.reverses.purchase) == (-12, refund, purchase)
    assert Refund.objects.get().explanation == [
        {
            "type": "line",
            "sku": "COFFEE",
            "quantity": 1,
            "of": 1,
            "line_points": "12.5",
            "points": "12.5",
            "rule_id": coffee_rule.pk,
            "rule": "Two points per euro on coffee",
            "points_per_unit": "2",
            "tier": "Silver",
            "tier_multiplier": "1.25",
        },
        {"type": "rounding", "points": "-0.5"},
    ]
    assert explain_text(refund.explanation, 12) == (
        "12.5 of the 12.5 points line COFFEE earned at “Two points per euro on coffee” "
        "(2 per unit) × tier Silver 1.25 (1 of 1); 12 points taken back (whole points)."
    )


def test_line_refunds_one_by_one_add_up_to_the_purchase_with_a_running_remainder(
    partner, silver, base_rule, coffee_rule
):
    # given: 12.5 + 18.75 + 37.5 = 68.75 → 68 points
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    # when
    taken = [
        purchase_refund(
            purchase=purchase, external_id=sku, lines=[{"sku": sku, "quantity": 1}]
        ).points_reversed
        for sku in ["COFFEE", "BREAD", "WINE"]
    ]
    # then: floor(12.5) = 12; floor(31.25) − 12 = 19; floor(68.75) − 31 = 37
    assert taken == [12, 19, 37]
    assert sum(taken) == purchase.points_earned
    assert balance(silver) == 0


def test_units_of_a_line_share_its_points_and_partial_refunds_sum_exactly(
    partner, silver, base_rule, coffee_rule
):
    # given: A 3 × (10.00 at 1/€) × 1.25 = 12.5; B 7.30 at 2/€ × 1.25 = 18.25; 30.75 → 30
    purchase = buy(
        partner,
        silver,
        "17.30",
        [
            {"sku": "A", "quantity": 3, "amount": "10.00"},
            {"sku": "B", "quantity": 1, "amount": "7.30", "category": "coffee"},
        ],
    )
    assert purchase.points_earned == 30
    # when: one A, one A, B, the last A
    refunds = [
        purchase_refund(purchase=purchase, external_id=f"R{i}", lines=[{"sku": sku, "quantity": 1}])
        for i, sku in enumerate(["A", "A", "B", "A"])
    ]
    # then: cumulative 4.17 → 4; 8.33 → 8 (+4); 26.58 → 26 (+18); 30.75 → 30 (+4)
    assert [r.points_reversed for r in refunds] == [4, 4, 18, 4]
    assert [r.amount for r in refunds] == [
        Decimal("3.33"),
        Decimal("3.33"),
        Decimal("7.30"),
        Decimal("3.34"),
    ]
    assert refunds[0].explanation[0]["points"] == "4.167"  # 12.5 / 3, shown to 1/1000
    assert balance(silver) == 0


def test_a_promotion_is_taken_back_with_its_line_and_a_full_refund_takes_the_rest(
    partner, member, base_rule, coffee_rule
):
    # given: bronze (× 1); coffee 6.00 at 2/€ doubled by the offer = 24; cake 14.00 at 1/€ = 14
    offer = factories.make_rule(
        name="Double coffee week", points_per_unit=0, multiplier=Decimal(2), category="coffee"
    )
    purchase = buy(
        partner,
        member,
        "20.00",
        [
            {"sku": "LATTE", "quantity": 2, "amount": "6.00", "category": "coffee"},
            {"sku": "CAKE", "quantity": 1, "amount": "14.00", "category": "bakery"},
        ],
    )
    assert purchase.points_earned == 38
    # when: one latte (24 / 2), then the other, then the rest of the purchase
    first = purchase_refund(
        purchase=purchase, external_id="R1", lines=[{"sku": "LATTE", "quantity": 1}]
    )
    second = purchase_refund(
        purchase=purchase, external_id="R2", lines=[{"sku": "LATTE", "quantity": 1}]
    )
    rest = purchase_refund(purchase=purchase, external_id="R3")
    # then
    assert [first.points_reversed, second.points_reversed, rest.points_reversed] == [12, 12, 14]
    assert first.explanation == [
        {
            "type": "line",
            "sku": "LATTE",
            "quantity": 1,
            "of": 2,
            "line_points": "24",
            "points": "12",
            "rule_id": coffee_rule.pk,
            "rule": "Two points per euro on coffee",
            "points_per_unit": "2",
            "promotion_id": offer.pk,
            "promotion": "Double coffee week",
            "multiplier": "2",
            "tier": "Bronze",
            "tier_multiplier": "1",
        }
    ]
    assert rest.amount == Decimal("14.00")
    assert rest.explanation == [
        {
            "type": "money",
            "refunded": "20.00",
            "of": "20.00",
            "purchase_points": 38,
            "target": 38,
            "before": 24,
        }
    ]
    assert balance(member) == 0


def test_a_full_refund_after_line_refunds_takes_exactly_what_is_left(
    partner, silver, base_rule, coffee_rule
):
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    purchase_refund(purchase=purchase, external_id="R1", lines=[{"sku": "COFFEE", "quantity": 1}])
    # when
    rest = purchase_refund(purchase=purchase, external_id="R2")
    # then: 68 − 12
    assert (rest.amount, rest.points_reversed) == (Decimal("45.00"), 56)
    assert balance(silver) == 0


def test_lines_after_a_refund_by_amount_never_take_more_than_the_purchase_earned(
    partner, silver, base_rule, coffee_rule
):
    # given: 45.00 of 50.00 refunded by amount: round(68 × 45/50 = 61.2) = 61
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    by_amount = purchase_refund(purchase=purchase, external_id="R1", amount="45.00")
    assert by_amount.points_reversed == 61
    # when: the coffee line (12.5 earned) comes back
    coffee = purchase_refund(
        purchase=purchase, external_id="R2", lines=[{"sku": "COFFEE", "quantity": 1}]
    )
    # then: only the 7 points left
    assert coffee.points_reversed == 7
    assert coffee.explanation[-1] == {"type": "limit", "left": 7}
    assert balance(silver) == 0


def test_a_line_refund_of_spent_points_records_what_was_not_recovered(
    partner, silver, base_rule, coffee_rule
):
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    points_debit(member=silver, points=60, cause=silver)
    # when: the wine line earned 37.5 → 37; the member has 8 left
    refund = purchase_refund(
        purchase=purchase, external_id="R1", lines=[{"sku": "WINE", "quantity": 1}]
    )
    # then
    assert (refund.points_reversed, refund.points_unrecovered) == (8, 29)
    assert balance(silver) == 0
    # and the next line refund counts what could not be recovered as settled
    rest = purchase_refund(purchase=purchase, external_id="R2")
    assert rest.points_reversed + rest.points_unrecovered == 68 - 37


def test_an_old_purchase_without_line_points_stays_proportional_to_money(
    partner, silver, base_rule, coffee_rule
):
    # given: a purchase recorded before lines kept their points
    purchase = buy(partner, silver, "50.00", ISSUE_LINES)
    PurchaseLine.objects.filter(purchase=purchase).update(points_earned=None, earning={})
    # when
    refund = purchase_refund(
        purchase=purchase, external_id="R1", lines=[{"sku": "COFFEE", "quantity": 1}]
    )
    # then: 68 × 5/50 = 6.8 → 7, as before
    assert refund.points_reversed == 7
    assert refund.explanation == [
        {
            "type": "money",
            "refunded": "5.00",
            "of": "50.00",
            "purchase_points": 68,
            "target": 7,
            "before": 0,
        }
    ]
