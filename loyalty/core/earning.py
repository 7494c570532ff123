"""How purchases turn into points: a pure calculation, so it is easy to test and to explain.

How rules combine (documented for staff in docs/ARCHITECTURE.md):
1. A rule applies to a purchase when it is active, its partner is empty or the purchase's partner,
   the purchase's local date lies in its window, and the purchase total reaches its minimum.
2. A rule with a category covers the purchase lines of that category; a rule without one covers
   every line (or the whole amount when the partner sent no lines).
3. Rate rules do not stack: each line earns at the best rate among the rules that cover it
   (a category rate beats a general rate only when it is higher).
4. Promotion rules (multipliers) do not stack either: each line gets the largest multiplier among
   the promotions that cover it.
5. The member's tier multiplier applies to the sum, and the result is rounded down once, for the
   whole purchase, so no fraction is lost line by line.

Each line's share before rounding (its rate, its promotion, times the tier multiplier) is kept
too (`Calculation.lines`): a refund by lines takes back exactly what those lines earned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class EarnLine:
    amount: Decimal
    category: str = ""


@dataclass(frozen=True)
class LineEarning:
    """What one line earned before rounding, and why (the rules' ids and names, the tier)."""

    points: Decimal
    why: dict


@dataclass(frozen=True)
class Calculation:
    points: int
    explanation: list[dict]
    lines: tuple[LineEarning, ...] = ()


def rule_applies(rule, *, partner_id: int, on: date, total: Decimal) -> bool:
    if not rule.is_active:
        return False
    if rule.partner_id is not None and rule.partner_id != partner_id:
        return False
    if rule.valid_from is not None and on < rule.valid_from:
        return False
    if rule.valid_until is not None and on > rule.valid_until:
        return False
    return rule.min_amount is None or total >= rule.min_amount


def _covers(rule, line: EarnLine) -> bool:
    return not rule.category or rule.category == line.category


def calculate(
    *,
    rules: Iterable,
    lines: Sequence[EarnLine],
    total: Decimal,
    partner_id: int,
    on: date,
    tier_multiplier: Decimal = ONE,
    tier_name: str = "",
) -> Calculation:
    applicable = [r for r in rules if rule_applies(r, partner_id=partner_id, on=on, total=total)]
    rates = [r for r in applicable if r.multiplier is None]
    promotions = [r for r in applicable if r.multiplier is not None]

    # rule id -> [rule, amount covered, points]
    rate_parts: dict[int, list] = {}
    promo_parts: dict[int, list] = {}
    base_total = Decimal(0)
    line_parts: list[tuple[Decimal, dict]] = []
    for line in lines:
        covering = [r for r in rates if _covers(r, line)]
        if not covering or line.amount <= 0:
            line_parts.append((Decimal(0), {}))
            continue
        # Best rate wins; on a tie the category rule is named, being the more specific.
        rate = max(covering, key=lambda r: (r.points_per_unit, bool(r.category), -r.pk))
        line_points = line.amount * rate.points_per_unit
        part = rate_parts.setdefault(rate.pk, [rate, Decimal(0), Decimal(0)])
        part[1] += line.amount
        part[2] += line_points
        why = {
            "rule_id": rate.pk,
            "rule": rate.name,
            "points_per_unit": _plain(rate.points_per_unit),
        }
        promo_covering = [p for p in promotions if _covers(p, line)]
        if promo_covering:
            promo = max(promo_covering, key=lambda r: (r.multiplier, bool(r.category), -r.pk))
            extra = line_points * (promo.multiplier - ONE)
            ppart = promo_parts.setdefault(promo.pk, [promo, Decimal(0), Decimal(0)])
            ppart[1] += line.amount
            ppart[2] += extra
            line_points += extra
            why.update(
                promotion_id=promo.pk, promotion=promo.name, multiplier=_plain(promo.multiplier)
            )
        base_total += line_points
        line_parts.append((line_points, why))

    explanation: list[dict] = []
    for rule, amount, points in rate_parts.values():
        explanation.append(
            {
                "type": "rate",
                "rule_id": rule.pk,
                "rule": rule.name,
                "amount": str(amount),
                "points_per_unit": _plain(rule.points_per_unit),
                "points": _plain(points),
            }
        )
    for rule, amount, extra in promo_parts.values():
        explanation.append(
            {
                "type": "promotion",
                "rule_id": rule.pk,
                "rule": rule.name,
                "amount": str(amount),
                "multiplier": _plain(rule.multiplier),
                "points": _plain(extra),
            }
        )
    total_points = base_total * tier_multiplier
    if base_total and tier_multiplier != ONE:
        explanation.append(
            {
                "type": "tier",
                "tier": tier_name,
                "multiplier": _plain(tier_multiplier),
                "points": _plain(total_points - base_total),
            }
        )
    points = math.floor(total_points)
    if total_points != points:
        explanation.append({"type": "rounding", "points": _plain(points - total_points)})
    tier_why = {"tier": tier_name, "tier_multiplier": _plain(tier_multiplier)}
    earned = tuple(
        LineEarning(line_points * tier_multiplier, {**why, **tier_why} if why else {})
        for line_points, why in line_parts
    )
    return Calculation(points=points, explanation=explanation, lines=earned)


def _plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: '2', '1.5', '12.375'."""
    text = format(value.normalize(), "f")
    return text


def explain_text(explanation: list[dict], total_points: int) -> str:
    """One English sentence for logs and staff; member pages render the parts translated."""
    parts = []
    for item in explanation:
        if item["type"] == "rate":
            parts.append(
                f"{item['points']} from “{item['rule']}” "
                f"({item['points_per_unit']} per unit on {item['amount']})"
            )
        elif item["type"] == "promotion":
            parts.append(f"+{item['points']} from “{item['rule']}” (×{item['multiplier']})")
        elif item["type"] == "tier":
            parts.append(f"+{item['points']} for {item['tier']} (×{item['multiplier']})")
        elif item["type"] == "given":  # (history an import brought over: imports.checks)
            parts.append(f"{item['points']} given by the import")
    if not parts:
        return "No earning rule applied."
    return "; ".join(parts) + f"; {total_points} points in all (rounded down)."
