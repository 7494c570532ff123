"""The earning calculation on its own: plain rule objects, no database."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from loyalty.core.earning import EarnLine, calculate

DAY = date(2026, 6, 6)


def rule(pk, name, rate=0, multiplier=None, category="", partner_id=None, **kwargs):
    return SimpleNamespace(
        pk=pk,
        name=name,
        is_active=kwargs.get("is_active", True),
        points_per_unit=Decimal(rate),
        multiplier=None if multiplier is None else Decimal(multiplier),
        category=category,
        partner_id=partner_id,
        valid_from=kwargs.get("valid_from"),
        valid_until=kwargs.get("valid_until"),
        min_amount=kwargs.get("min_amount"),
    )


def calc(rules, lines, total=None, **kwargs):
    total = total if total is not None else sum(line.amount for line in lines)
    return calculate(rules=rules, lines=lines, total=total, partner_id=1, on=DAY, **kwargs)


def test_rates_do_not_stack_the_best_rate_covers_each_line():
    rules = [rule(1, "Base", 1), rule(2, "Coffee", "2.5", category="coffee")]
    lines = [EarnLine(Decimal("4.00"), "coffee"), EarnLine(Decimal("6.00"), "tea")]
    assert calc(rules, lines).points == 16  # 4 × 2.5 + 6 × 1


def test_a_lower_category_rate_does_not_lower_the_general_rate():
    rules = [rule(1, "Base", 2), rule(2, "Sale items", "0.5", category="sale")]
    assert calc(rules, [EarnLine(Decimal(10), "sale")]).points == 20


def test_promotions_take_the_largest_multiplier_and_tier_multiplies_the_sum():
    rules = [rule(1, "Base", 1), rule(2, "Double", multiplier=2), rule(3, "Triple", multiplier=3)]
    result = calc(rules, [EarnLine(Decimal("10.00"))], tier_multiplier=Decimal("1.25"))
    assert result.points == 37  # 10 × 3 × 1.25 = 37.5, down
    assert [p["type"] for p in result.explanation] == ["rate", "promotion", "tier", "rounding"]
    assert result.explanation[1]["rule"] == "Triple"


def test_rounding_happens_once_for_the_whole_purchase():
    lines = [EarnLine(Decimal("0.50")) for _ in range(5)]
    assert calc([rule(1, "Base", 1)], lines).points == 2  # not 0 per line


def test_window_partner_minimum_and_inactive_rules_are_ignored():
    rules = [
        rule(1, "Later", 5, valid_from=date(2026, 7, 1)),
        rule(2, "Earlier", 5, valid_until=date(2026, 6, 5)),
        rule(3, "Other partner", 5, partner_id=2),
        rule(4, "Big", 5, min_amount=Decimal(100)),
        rule(5, "Off", 5, is_active=False),
        rule(6, "Base", 1),
    ]
    result = calc(rules, [EarnLine(Decimal(10))])
    assert result.points == 10
    assert [p["rule"] for p in result.explanation] == ["Base"]


def test_no_rule_no_points_and_no_explanation_parts():
    result = calc([], [EarnLine(Decimal(10))])
    assert (result.points, result.explanation) == (0, [])
