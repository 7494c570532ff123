"""Refunds: money a partner gave back on a purchase, and the points taken back for it.

`purchase_refund` takes an amount, lines, or neither (the rest of the purchase).
- By lines: it takes back what those lines earned at the purchase (their rate, promotion and the
  tier multiplier, kept on PurchaseLine.points_earned), a share by quantity within a line.
- By amount, or lines of a purchase recorded before lines kept their points: in proportion to
  money. Neither: the rest of the purchase's points.
Both are cumulative over the purchase's refunds (a running remainder), so several partial refunds
add up to exactly what the purchase earned and never to more; what the member already spent is
kept as unrecovered. Points still pending inside the partner's return window are cancelled
instead, without touching the balance (loyalty.core.pending). The refund keeps an explanation
(kind and parameters, worded when shown).
The refund hooks (loyalty.core.hooks) run in its transaction (a refund may take a referral's
bonuses back).
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db import transaction
from django.db.models import Sum

from loyalty.base.money import clean_amount, clean_currency
from webhooks.services import event_emit

from . import hooks
from .earning import _plain
from .errors import CurrencyMismatch, DuplicateRefund, InvalidPurchase, RefundExceedsPurchase
from .ledger import member_lock, points_reverse_locked, write_time
from .models import LedgerEntry, Purchase, PurchaseLine, Refund, RefundLine
from .pending import pending_refund


@transaction.atomic
def purchase_refund(
    *,
    purchase: Purchase,
    external_id: str,
    amount=None,
    lines: list[dict] | None = None,
    currency: str | None = None,
    at: datetime | None = None,
) -> Refund:
    """Record a refund and take back the points it undoes, never below a zero balance.

    Lines take back what they earned, an amount its share of the purchase's points (see the
    module); cumulative, so partial refunds add up to exactly what the purchase earned. What the
    member already spent is kept on the refund as points_unrecovered; points still pending in
    the return window are cancelled (points_cancelled), and the member owes nothing for them.
    """
    external_id = str(external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise InvalidPurchase("The refund id must have 1 to 100 characters.")
    if currency is not None and clean_currency(currency) != purchase.currency:
        raise CurrencyMismatch()
    at = write_time(at)
    member = member_lock(purchase.member_id)
    # Lock the purchase too (after the member, the one lock order), so refunds of one purchase
    # queue up and cannot together refund more than it was.
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    totals = purchase.refunds.aggregate(
        amount=Sum("amount"),
        reversed=Sum("points_reversed"),
        lost=Sum("points_unrecovered"),
        cancelled=Sum("points_cancelled"),
    )
    refunded = (totals["amount"] or Decimal(0)).quantize(Decimal("0.01"))
    left = purchase.amount - refunded
    refund_lines = []
    if lines is not None:
        if amount is not None:
            raise InvalidPurchase("Give an amount or lines, not both.")
        refund_lines = _refund_lines(purchase, lines)
        amount = sum((line.amount for line in refund_lines), Decimal(0))
    amount = left if amount is None else clean_amount(amount)
    if left <= 0 or amount > left:
        raise RefundExceedsPurchase()
    if purchase.refunds.filter(external_id=external_id).exists():
        raise DuplicateRefund()
    settled = (totals["reversed"] or 0) + (totals["lost"] or 0) + (totals["cancelled"] or 0)
    if refund_lines and all(r.purchase_line.points_earned is not None for r in refund_lines):
        points, explanation = _lines_points(purchase, refund_lines, settled)
    else:
        points, explanation = _money_points(purchase, refunded, amount, settled)
    # Inside the return window the points are still pending: cancelled, not taken back.
    cancelled = pending_refund(member=member, purchase=purchase, points=points, at=at)
    if cancelled:
        explanation.append({"type": "pending", "points": cancelled})
    refund = Refund.objects.create(
        purchase=purchase,
        member_id=purchase.member_id,
        external_id=external_id,
        amount=amount,
        explanation=explanation,
        points_cancelled=cancelled,
        created_at=at,
    )
    if refund_lines:
        for line in refund_lines:
            line.refund = refund
            line.member_id = purchase.member_id
        RefundLine.objects.bulk_create(refund_lines)
    points -= cancelled
    earn_entry = (
        LedgerEntry.objects.filter(purchase=purchase, kind=LedgerEntry.Kind.EARN).first()
        if points > 0
        else None
    )
    if earn_entry is not None:
        result = points_reverse_locked(
            member=member,
            entry=earn_entry,
            points=points,
            cause=refund,
            at=at,
        )
        refund.points_reversed = result.points_reversed
        refund.points_unrecovered = result.points_unrecovered
        refund.save(update_fields=["points_reversed", "points_unrecovered"])
    if earn_entry is not None or cancelled:
        payload = {
            "member_number": member.member_number,
            "purchase": purchase.external_id,
            "refund": external_id,
            "points": refund.points_reversed,
            "points_unrecovered": refund.points_unrecovered,
            "balance": member.points_balance,
        }
        if cancelled:
            payload.update(points_cancelled=cancelled, points_pending=member.points_pending)
        event_emit(
            event_type="points.reversed",
            partner=purchase.partner,
            member_id=member.pk,
            payload=payload,
        )
    # What the features do with a refund (it may take a referral's bonuses back).
    for hook in hooks.refund_hooks():
        hook.run(refund=refund)
    return refund


def _money_points(purchase: Purchase, refunded, amount, settled: int) -> tuple[int, list[dict]]:
    """The purchase's points in proportion to all the money refunded so far, less what earlier
    refunds took (or could not take) back: by amount, or lines without their own points."""
    target = (Decimal(purchase.points_earned) * (refunded + amount) / purchase.amount).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    part = {
        "type": "money",
        "refunded": str(refunded + amount),
        "of": str(purchase.amount),
        "purchase_points": purchase.points_earned,
        "target": int(target),
        "before": settled,
    }
    return int(target) - settled, [part]


def _lines_points(
    purchase: Purchase, refund_lines: list[RefundLine], settled: int
) -> tuple[int, list[dict]]:
    """What the refunded units earned at the purchase: each line's points_earned (before
    rounding) × units / its quantity. Rounded with a running remainder: the refunds of a
    purchase's lines take back floor(all they earned together), so they never exceed the
    purchase's points (itself rounded down once) and add up to it when every line is back."""
    bought = {line.pk: line for line in PurchaseLine.objects.filter(purchase=purchase)}
    before = dict(
        RefundLine.objects.filter(purchase_line__purchase=purchase)
        .values_list("purchase_line_id")
        .annotate(units=Sum("quantity"))
    )
    now: dict[int, int] = {}
    for line in refund_lines:
        now[line.purchase_line_id] = now.get(line.purchase_line_id, 0) + line.quantity

    def share(line: PurchaseLine, units: int) -> Fraction:
        return Fraction(line.points_earned) * units / line.quantity

    exact_before = sum((share(bought[pk], units) for pk, units in before.items()), Fraction(0))
    parts, exact = [], Fraction(0)
    for pk, units in now.items():
        line, done = bought[pk], before.get(pk, 0)
        taken = share(line, done + units) - share(line, done)
        exact += taken
        parts.append(
            {
                "type": "line",
                "sku": line.sku,
                "quantity": units,
                "of": line.quantity,
                "line_points": _plain(line.points_earned),
                "points": _plain(_decimal(taken)),
                **line.earning,
            }
        )
    points = math.floor(exact_before + exact) - math.floor(exact_before)
    if points != exact:
        parts.append({"type": "rounding", "points": _plain(_decimal(points - exact))})
    left = purchase.points_earned - settled
    if points > left:  # after refunds by amount, which count in money, not lines
        parts.append({"type": "limit", "left": max(left, 0)})
        points = left
    return points, parts


def _decimal(value: Fraction) -> Decimal:
    """A fraction of points for display, to 1/1000 (the sums are kept exact)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.001"))


def explain_text(explanation: list[dict], points: int) -> str:
    """One English sentence for logs, staff and partners; member pages word the parts."""
    words = []
    for part in explanation:
        if part["type"] == "line":
            why = (
                f" at “{part['rule']}” ({part['points_per_unit']} per unit)"
                if "rule" in part
                else ""
            )
            if "promotion" in part:
                why += f" × “{part['promotion']}” {part['multiplier']}"
            if part.get("tier_multiplier", "1") != "1":
                why += f" × tier {part['tier']} {part['tier_multiplier']}"
            words.append(
                f"{part['points']} of the {part['line_points']} points line {part['sku']} "
                f"earned{why} ({part['quantity']} of {part['of']})"
            )
        elif part["type"] == "money":
            words.append(
                f"{part['target']} of the purchase's {part['purchase_points']} points for "
                f"{part['refunded']} of {part['of']} refunded, less {part['before']} before"
            )
        elif part["type"] == "limit":
            words.append(f"no more than the {part['left']} points left")
        elif part["type"] == "pending":
            words.append(f"{part['points']} of them still pending, cancelled")
    if not explanation:
        return "Recorded before refunds kept their explanation."
    return "; ".join(words) + f"; {points} points taken back (whole points)."


def _refund_lines(purchase: Purchase, lines) -> list[RefundLine]:
    """Turn [{sku, quantity}] into refund lines priced from the purchase lines.

    Each unit costs its line's amount / quantity; the refund that takes a line's last units
    gets what is left of its amount, so line refunds add up to the line exactly.
    """
    if not isinstance(lines, (list, tuple)) or not lines or len(lines) > 500:
        raise InvalidPurchase("Refund lines must be a list of 1 to 500 items.")
    bought = list(purchase.lines.order_by("id"))
    done = {
        row["purchase_line_id"]: (row["quantity"], row["amount"])
        for row in RefundLine.objects.filter(purchase_line__purchase=purchase)
        .values("purchase_line_id")
        .annotate(quantity=Sum("quantity"), amount=Sum("amount"))
    }
    taken: dict[int, int] = {}
    result: list[RefundLine] = []
    for wanted in lines:
        sku = str(wanted.get("sku") or "").strip() if isinstance(wanted, dict) else ""
        quantity = wanted.get("quantity") if isinstance(wanted, dict) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidPurchase("A refund line needs a SKU and a positive quantity.")
        candidates = [line for line in bought if line.sku == sku]
        if not candidates:
            raise InvalidPurchase(f"The purchase has no line with SKU {sku!r}.")
        for line in candidates:
            if not quantity:
                break
            done_qty, done_amount = done.get(line.pk, (0, Decimal(0)))
            free = line.quantity - done_qty - taken.get(line.pk, 0)
            take = min(free, quantity)
            if take <= 0:
                continue
            taken[line.pk] = taken.get(line.pk, 0) + take
            quantity -= take
            if done_qty + taken[line.pk] == line.quantity:
                earlier = sum(
                    (r.amount for r in result if r.purchase_line_id == line.pk), Decimal(0)
                )
                # SQLite sums decimals as floats, hence the quantize.
                price = (line.amount - done_amount - earlier).quantize(Decimal("0.01"))
            else:
                price = (line.amount * take / line.quantity).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
            result.append(RefundLine(purchase_line=line, quantity=take, amount=price))
        if quantity:
            raise RefundExceedsPurchase("More units than were bought (or are left) of that SKU.")
    return result
