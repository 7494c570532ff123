"""Importing purchases row by row, through the core's services: the way on SQLite (the demo)
and the reference the set-based way (imports.purchases_sql) is held to.

check() follows imports.checks; the earning is loyalty.core.earning.calculate with the active
rules of the partner (and of every partner) and the member's tier on the purchase's day. write()
records each purchase as purchase_record would, with the history's dates: the purchase keeps
when it happened and when it was recorded (now); its earn entry and lot are dated when it
happened (points_credit_in_transaction(at=...)), so the tier window and the expiry count from
that day. A purchase still inside the partner's return window at the import's time
(pending_until) holds its points pending instead (pending_hold_many), as purchase_record does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Member, Partner
from loyalty.core import earning
from loyalty.core.ledger import members_lock, points_credit_in_transaction
from loyalty.core.models import (
    EarningRule,
    LedgerEntry,
    Purchase,
    PurchaseLine,
    Tier,
    TierChange,
)
from loyalty.core.pending import Hold, pending_hold_many, pending_until

from . import checks
from .outcome import Checked, Written
from .rows import RowError
from .sources import Source

CHUNK = 500


@dataclass
class Planned:
    """A purchase to write: its rows, member, values, points and why."""

    group: checks.PurchaseGroup
    points: int
    explanation: list[dict]
    lines: list[tuple[dict, Decimal | None, dict]]

    @property
    def first(self) -> checks.PurchaseRow:
        return self.group.first


def tier_on(changes: list[tuple[datetime, int, int | None, int]], current, at: datetime):
    """The member's tier id at a moment, from their tier changes (created_at, id, from, to),
    oldest first: the last change by then, else the first change after (its from), else now's."""
    before = [change for change in changes if change[0] <= at]
    if before:
        return before[-1][3]
    after = [change for change in changes if change[0] > at]
    if after:
        return after[0][2]
    return current


class RowPurchases:
    """One purchases file, row by row: check() then write(), as SqlPurchases."""

    checks_while_writing = False

    def __init__(self, source: Source, *, partner: Partner, now: datetime):
        self.source = source
        self.partner = partner
        self.limits = checks.Limits(
            partner_id=partner.pk,
            currency=partner.currency,
            max_amount=partner.max_purchase_amount,
            max_points=partner.max_points_per_purchase,
            now=now,
        )
        self.planned: list[Planned] = []

    def check(self) -> Checked:
        columns = self.source.columns(
            known=checks.PURCHASE_COLUMNS, required=checks.PURCHASE_REQUIRED
        )
        raws = [
            (row, dict(zip(columns, fields, strict=True))) for row, fields in self.source.records()
        ]
        numbers = {checks._number_strip.sub("", raw.get("member_number") or "") for _r, raw in raws}
        members = {}
        numbers_list = sorted(numbers - {""})
        for start in range(0, len(numbers_list), 5000):
            members.update(
                (number, (pk, status))
                for pk, number, status in Member.objects.filter(
                    member_number__in=numbers_list[start : start + 5000]
                ).values_list("pk", "member_number", "status")
            )
        groups: dict[str, checks.PurchaseGroup] = {}
        for row, raw in raws:
            checked = checks.purchase_row_check(raw, row, members=members, limits=self.limits)
            groups.setdefault(checked.external_id, checks.PurchaseGroup()).rows.append(checked)
        errors: list[RowError] = [
            row.error for group in groups.values() for row in group.rows if row.error
        ]
        good = []
        bad = 0
        for group in groups.values():
            group_errors = checks.purchase_group_check(group)
            errors += group_errors
            if group_errors or any(row.error for row in group.rows):
                bad += 1
            else:
                good.append(group)
        recorded = self._recorded([group.first.external_id for group in good])
        skipped = sum(1 for group in good if group.first.external_id in recorded)
        earn = self._earner([group for group in good if group.first.external_id not in recorded])
        self.planned = []
        for group in good:
            if group.first.external_id in recorded:
                continue
            planned = earn(group)
            over = checks.points_over_limit(group, planned.points, self.limits)
            if over:
                errors += over
                bad += 1
                continue
            self.planned.append(planned)
        errors.sort(key=lambda error: error.row)
        return Checked(
            rows=len(raws),
            total=len(groups),
            bad=bad,
            skipped=skipped,
            to_import=len(self.planned),
            points=sum(planned.points for planned in self.planned),
            errors=errors,
        )

    def _recorded(self, external_ids: list[str]) -> set[str]:
        found = set()
        for start in range(0, len(external_ids), 5000):
            found.update(
                Purchase.objects.filter(
                    partner=self.partner, external_id__in=external_ids[start : start + 5000]
                ).values_list("external_id", flat=True)
            )
        return found

    def _earner(self, groups: list[checks.PurchaseGroup]):
        rules = list(
            EarningRule.objects.filter(is_active=True).filter(
                Q(partner__isnull=True) | Q(partner_id=self.partner.pk)
            )
        )
        tiers = {tier.pk: tier for tier in Tier.objects.all()}
        member_ids = {group.first.member_id for group in groups}
        current = dict(Member.objects.filter(pk__in=member_ids).values_list("pk", "tier_id"))
        changes = defaultdict(list)
        for member_id, *change in (
            TierChange.objects.filter(member_id__in=member_ids)
            .order_by("created_at", "pk")
            .values_list("member_id", "created_at", "pk", "from_tier_id", "to_tier_id")
        ):
            changes[member_id].append(tuple(change))

        def earn(group: checks.PurchaseGroup) -> Planned:
            first = group.first
            lines = group.lines
            if first.points is not None:
                explanation = [{"type": "given", "points": str(first.points)}]
                return Planned(
                    group, first.points, explanation, [(line, None, {}) for line in lines]
                )
            tier = tiers.get(
                tier_on(changes[first.member_id], current.get(first.member_id), first.occurred_at)
            )
            calc = earning.calculate(
                rules=rules,
                lines=[earning.EarnLine(line["amount"], line["category"]) for line in lines]
                or [earning.EarnLine(first.amount)],
                total=first.amount,
                partner_id=self.partner.pk,
                on=timezone.localdate(first.occurred_at),
                tier_multiplier=tier.earn_multiplier if tier else Decimal(1),
                tier_name=tier.name if tier else "",
            )
            earned = [
                (line, line_earning.points, line_earning.why)
                for line, line_earning in zip(lines, calc.lines, strict=False)
            ]
            return Planned(group, calc.points, calc.explanation, earned)

        return earn

    def write(self, *, at: datetime, progress=None) -> Written:
        written = Written()
        order = sorted(
            self.planned, key=lambda p: (p.first.member_id, p.first.occurred_at, p.first.row)
        )
        for start in range(0, len(order), CHUNK):
            with transaction.atomic():
                self._chunk(order[start : start + CHUNK], at, written)
            if progress is not None:
                progress(written.imported)
        return written

    def _chunk(self, chunk: list[Planned], at: datetime, written: Written) -> None:
        locked = members_lock({planned.first.member_id for planned in chunk})
        closed = {pk for pk, status, _number in locked if status == Member.Status.CLOSED}
        recorded = self._recorded([planned.first.external_id for planned in chunk])
        description_head = f"{self.partner.name} "
        holds: list[Hold] = []
        for planned in chunk:
            first = planned.first
            if first.member_id in closed:
                written.errors += [
                    RowError(row.row, "member_number", "member_not_active")
                    for row in planned.group.rows
                ]
                written.refused += 1
                continue
            if first.external_id in recorded:
                written.skipped += 1
                continue
            purchase = Purchase.objects.create(
                partner=self.partner,
                external_id=first.external_id,
                member_id=first.member_id,
                amount=first.amount,
                currency=first.currency,
                occurred_at=first.occurred_at,
                points_earned=planned.points,
                explanation=planned.explanation,
                created_at=at,
            )
            PurchaseLine.objects.bulk_create(
                PurchaseLine(
                    purchase=purchase,
                    member_id=purchase.member_id,
                    points_earned=points,
                    earning=why,
                    **line,
                )
                for line, points, why in planned.lines
            )
            available_on = pending_until(partner=self.partner, occurred_at=first.occurred_at, at=at)
            if planned.points and available_on is not None:
                holds.append(Hold(first.member_id, purchase.pk, planned.points, available_on))
            elif planned.points:
                points_credit_in_transaction(
                    member=Member(pk=first.member_id),
                    points=planned.points,
                    kind=LedgerEntry.Kind.EARN,
                    purchase=purchase,
                    description=description_head + first.external_id,
                    at=first.occurred_at,
                )
            written.imported += 1
            written.points += planned.points
            written.member_ids.add(first.member_id)
        pending_hold_many(holds=holds, at=at)

    def close(self) -> None:
        self.planned = []
