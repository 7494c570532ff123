"""What a draft would have done: the last 12 months of purchases replayed through
loyalty.core.earning.calculate with the live rules and with the draft's, in one pass.

- Purchases that happened in the last WINDOW_DAYS stream in keyset chunks of CHUNK rows
  (values only; their lines one query per chunk); the rules and tiers stay in memory.
- The tier multiplier is the member's tier when the purchase was recorded, from the tier
  history: the tier they left at their first TierChange after it, or, with none, their tier now.
  Both sides use that tier: a draft's thresholds do not replay the year's upgrades (a member
  the draft would have upgraded sooner still earns at the tier they had).
- A purchase the draft cannot touch (neither the live version of the changed rule nor the
  draft's applies to it or covers one of its lines, and its tier's multiplier is unchanged) is
  calculated once; a test holds the result equal to calculating every purchase twice.
- Refunds are not replayed: points issued are what the purchases earn.
- Tiers: each member's qualifying points now (as the tier review counts them, from the ledger)
  plus what the draft changes of their purchases recorded in the tier window; the review's
  rules (up to the highest tier reached; below their tier, one tier down after the grace, never
  while paused) applied with the live thresholds and with the draft's: a member whose outcome
  differs moves up or down.
- Liability: the outstanding points (the dashboard's) plus the difference, at the insights
  point value, as if none of the difference had been spent or expired (an upper bound).

The result is numbers and ids only (insights.simulation_panels words it when shown).
"""

from __future__ import annotations

import copy
import logging
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Member
from loyalty.core.earning import Calculation, EarnLine, calculate, rule_applies
from loyalty.core.models import EarningRule, PointLot, Purchase, PurchaseLine, Tier, TierChange
from loyalty.core.selectors import qualifying_points_many

from .draft_models import RuleDraft, Simulation
from .drafts import draft_rule_values, draft_tier_values
from .figures import point_value

logger = logging.getLogger(__name__)

WINDOW_DAYS = 365
CHUNK = 2000
SAMPLE = 20  # member ids kept per tier move, for staff to look at
NEW_RULE_ID = -1  # the draft's new rule, in memory only
ONE = Decimal(1)


@dataclass
class Program:
    """The live rules and tiers and the draft's, in memory."""

    rules_now: list[EarningRule]
    rules_draft: list[EarningRule]
    changed: tuple  # (live version, draft version) of the changed rule; None where there is none
    tiers: list[Tier]  # lowest rank first
    multiplier_now: dict
    multiplier_draft: dict
    threshold_now: dict
    threshold_draft: dict
    _for_partner: dict = field(default_factory=dict)

    def rules_for(self, partner_id: int) -> tuple[list, list]:
        """The active rules that may apply to a partner's purchases, live and drafted."""
        found = self._for_partner.get(partner_id)
        if found is None:

            def mine(rules):
                return [r for r in rules if r.is_active and r.partner_id in (None, partner_id)]

            found = self._for_partner[partner_id] = (
                mine(self.rules_now),
                mine(self.rules_draft),
            )
        return found

    @property
    def thresholds_change(self) -> bool:
        return self.threshold_now != self.threshold_draft


def program_for(kind: str, rule_id: int | None, changes: dict) -> Program:
    rules_now = list(EarningRule.objects.order_by("pk"))
    tiers = list(Tier.objects.order_by("rank"))
    rules_draft, changed = rules_now, (None, None)
    multiplier_now = {t.pk: t.earn_multiplier for t in tiers}
    threshold_now = {t.pk: t.qualifying_points for t in tiers}
    multiplier_draft, threshold_draft = dict(multiplier_now), dict(threshold_now)
    if kind == RuleDraft.Kind.RULE:
        live = next((r for r in rules_now if r.pk == rule_id), None) if rule_id else None
        values = draft_rule_values(RuleDraft(changes=changes), live)
        drafted = copy.copy(live) if live is not None else EarningRule(pk=NEW_RULE_ID)
        for name, value in values.items():
            setattr(drafted, EarningRule._meta.get_field(name).attname, value)
        rules_draft = [drafted if r is live else r for r in rules_now]
        if live is None:
            rules_draft.append(drafted)
        changed = (live, drafted)
    else:
        values = draft_tier_values(changes, tiers)
        multiplier_draft = {pk: v["earn_multiplier"] for pk, v in values.items()}
        threshold_draft = {pk: v["qualifying_points"] for pk, v in values.items()}
    return Program(
        rules_now=rules_now,
        rules_draft=rules_draft,
        changed=changed,
        tiers=tiers,
        multiplier_now=multiplier_now,
        multiplier_draft=multiplier_draft,
        threshold_now=threshold_now,
        threshold_draft=threshold_draft,
    )


# --- the tier a purchase earned at ------------------------------------------------------------


def tier_history(since: datetime) -> dict[int, tuple[list, list]]:
    """{member id: (times, tiers left)} of every tier change from `since`, oldest first."""
    history: dict[int, tuple[list, list]] = {}
    rows = (
        TierChange.objects.filter(created_at__gte=since)
        .order_by("member_id", "created_at", "pk")
        .values_list("member_id", "created_at", "from_tier_id")
    )
    for member_id, at, from_tier in rows.iterator(chunk_size=CHUNK):
        times, left = history.setdefault(member_id, ([], []))
        times.append(at)
        left.append(from_tier)
    return history


def tier_at(history: dict, member_id: int, tier_now: int | None, at: datetime) -> int | None:
    """The member's tier at `at`: the one left at the first change at or after it, else now's
    (a purchase's own upgrade is recorded at its time, after it earned)."""
    found = history.get(member_id)
    if found is not None:
        i = bisect_left(found[0], at)
        if i < len(found[0]):
            return found[1][i]
    return tier_now


# --- the replay -------------------------------------------------------------------------------


@dataclass
class Tally:
    purchases: int = 0
    changed: int = 0
    now: int = 0
    draft: int = 0
    recorded: int = 0
    months: dict = field(default_factory=dict)  # "YYYY-MM" -> [now, draft]
    partners: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    categories: dict = field(default_factory=lambda: defaultdict(lambda: [Decimal(0)] * 2))
    members: set = field(default_factory=set)  # whose points change
    deltas: dict = field(default_factory=lambda: defaultdict(int))  # in the tier window


def _chunks(queryset, columns: tuple):
    """Rows of `queryset` (values of `columns`, the first the primary key) in keyset chunks."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(page.order_by("pk").values_list(*columns)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        yield rows


PURCHASE_COLUMNS = (
    "pk",
    "member_id",
    "partner_id",
    "amount",
    "occurred_at",
    "created_at",
    "points_earned",
    "member__tier_id",
)


def replay(program: Program, since: datetime, until: datetime, *, shortcut=True) -> Tally:
    """Every purchase that happened from `since` to `until`, earned with the live rules and the
    draft's; `shortcut`: an untouched purchase is calculated once."""
    tally = Tally()
    for month in _months(since, until):
        tally.months[month] = [0, 0]
    history = tier_history(since)
    tier_since = until - timedelta(days=settings.LOYALTY_TIER_WINDOW_DAYS)
    live_rule, draft_rule = program.changed
    purchases = Purchase.objects.filter(occurred_at__gte=since, occurred_at__lte=until)
    zone = timezone.get_default_timezone()  # (timezone.localdate looks it up on every call)
    for rows in _chunks(purchases, PURCHASE_COLUMNS):
        lines = defaultdict(list)
        for purchase_id, amount, category in (
            PurchaseLine.objects.filter(purchase_id__gte=rows[0][0], purchase_id__lte=rows[-1][0])
            .order_by()  # (any order: a purchase's lines are summed)
            .values_list("purchase_id", "amount", "category")
        ):
            lines[purchase_id].append(EarnLine(amount, category))
        for pk, member_id, partner_id, amount, occurred_at, created_at, recorded, tier_now in rows:
            on = occurred_at.astimezone(zone).date()
            earn_lines = lines.get(pk) or [EarnLine(amount)]
            tier = tier_at(history, member_id, tier_now, created_at)
            rules_now, rules_draft = program.rules_for(partner_id)
            multiplier = program.multiplier_now.get(tier, ONE)
            now = calculate(
                rules=rules_now,
                lines=earn_lines,
                total=amount,
                partner_id=partner_id,
                on=on,
                tier_multiplier=multiplier,
            )
            touched = not shortcut or program.multiplier_draft.get(tier, ONE) != multiplier
            if not touched:
                touched = any(
                    rule is not None
                    and rule_applies(rule, partner_id=partner_id, on=on, total=amount)
                    and (not rule.category or any(x.category == rule.category for x in earn_lines))
                    for rule in (live_rule, draft_rule)
                )
            draft = now
            if touched:
                draft = calculate(
                    rules=rules_draft,
                    lines=earn_lines,
                    total=amount,
                    partner_id=partner_id,
                    on=on,
                    tier_multiplier=program.multiplier_draft.get(tier, ONE),
                )
            _count(tally, member_id, partner_id, on, earn_lines, now, draft, recorded)
            if draft.points != now.points and created_at > tier_since:
                tally.deltas[member_id] += draft.points - now.points
    return tally


def _count(
    tally, member_id, partner_id, on, earn_lines, now: Calculation, draft: Calculation, recorded
):
    tally.purchases += 1
    tally.now += now.points
    tally.draft += draft.points
    tally.recorded += recorded
    month = tally.months.setdefault(on.strftime("%Y-%m"), [0, 0])
    month[0] += now.points
    month[1] += draft.points
    partner = tally.partners[partner_id]
    partner[0] += now.points
    partner[1] += draft.points
    for line, line_now, line_draft in zip(earn_lines, now.lines, draft.lines, strict=True):
        category = tally.categories[line.category]
        tally.categories[line.category] = [
            category[0] + line_now.points,
            category[1] + line_draft.points,
        ]
    if draft.points != now.points:
        tally.changed += 1
        tally.members.add(member_id)


def _months(since: datetime, until: datetime) -> list[str]:
    month = timezone.localdate(since).replace(day=1)
    last = timezone.localdate(until).replace(day=1)
    months = []
    while month <= last:
        months.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return months


# --- tiers ------------------------------------------------------------------------------------


def review_outcome(program: Program, thresholds: dict, tier_id, status, points: int):
    """The tier the review's rules give a member with `points` qualifying points: the highest
    tier above theirs they reach, else one tier down when below their own (not while paused),
    else theirs."""
    rank = next((i for i, t in enumerate(program.tiers) if t.pk == tier_id), -1)
    reached = [t.pk for t in program.tiers[rank + 1 :] if thresholds[t.pk] <= points]
    if reached:
        return reached[-1]
    if rank > 0 and points < thresholds[tier_id] and status != Member.Status.PAUSED:
        return program.tiers[rank - 1].pk
    return tier_id


def _candidates(program: Program, deltas: dict):
    """Chunks of (id, tier, status) of the members the draft may move: everyone not closed when
    it changes thresholds, else only those whose points it changes."""
    members = Member.objects.exclude(status=Member.Status.CLOSED)
    columns = ("pk", "tier_id", "status")
    if program.thresholds_change:
        yield from _chunks(members, columns)
        return
    ids = sorted(pk for pk, delta in deltas.items() if delta)
    for start in range(0, len(ids), CHUNK):
        chunk = members.filter(pk__in=ids[start : start + CHUNK]).order_by("pk")
        yield list(chunk.values_list(*columns))


def tier_moves(program: Program, deltas: dict, at: datetime) -> dict:
    """Members whose tier the draft would change: counts up and down, and each (live outcome,
    draft outcome) with how many and a few of their ids."""
    moves: dict[tuple, dict] = {}
    up = down = considered = 0
    rank = {t.pk: i for i, t in enumerate(program.tiers)}
    rank[None] = -1
    for rows in _candidates(program, deltas) if program.tiers else ():
        qualifying = qualifying_points_many(member_ids=[row[0] for row in rows], at=at)
        for pk, tier_id, status in rows:
            considered += 1
            points = qualifying.get(pk, 0)
            then = review_outcome(program, program.threshold_now, tier_id, status, points)
            drafted = max(points + deltas.get(pk, 0), 0)
            later = review_outcome(program, program.threshold_draft, tier_id, status, drafted)
            if then == later:
                continue
            if rank.get(later, -1) > rank.get(then, -1):
                up += 1
            else:
                down += 1
            move = moves.setdefault((then, later), {"from": then, "to": later, "members": 0})
            move["members"] += 1
            sample = move.setdefault("sample", [])
            if len(sample) < SAMPLE:
                sample.append(pk)
    ordered = sorted(
        moves.values(),
        key=lambda m: (-m["members"], rank.get(m["from"], -1), rank.get(m["to"], -1)),
    )
    return {"considered": considered, "up": up, "down": down, "moves": ordered}


# --- the whole ---------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def simulate(
    *, kind: str, rule_id: int | None, changes: dict, until: datetime | None = None, shortcut=True
) -> dict:
    """The draft's effect over the WINDOW_DAYS before `until` (now), as numbers and ids."""
    until = until or timezone.now()
    since = until - timedelta(days=WINDOW_DAYS)
    program = program_for(kind, rule_id, changes)
    tally = replay(program, since, until, shortcut=shortcut)
    value = point_value()
    outstanding = PointLot.objects.filter(remaining__gt=0).aggregate(s=Sum("remaining"))["s"] or 0
    difference = tally.draft - tally.now
    with_draft = max(outstanding + difference, 0)
    by_now = sorted(tally.partners.items(), key=lambda item: (-item[1][0], item[0]))
    categories = sorted(
        ((name, _whole(now), _whole(draft)) for name, (now, draft) in tally.categories.items()),
        key=lambda row: (-row[1], row[0]),
    )
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "tier_window_days": settings.LOYALTY_TIER_WINDOW_DAYS,
        "purchases": tally.purchases,
        "changed_purchases": tally.changed,
        "changed_members": len(tally.members),
        "points": {"now": tally.now, "draft": tally.draft, "recorded": tally.recorded},
        "liability": {
            "point_value": str(value),
            "outstanding": outstanding,
            "with_draft": with_draft,
            "now": _money(outstanding * value),
            "draft": _money(with_draft * value),
            "difference": _money((with_draft - outstanding) * value),
        },
        "months": [
            {"month": month, "now": now, "draft": draft}
            for month, (now, draft) in sorted(tally.months.items())
        ],
        "partners": [{"partner": pk, "now": now, "draft": draft} for pk, (now, draft) in by_now],
        "categories": [
            {"category": name, "now": now, "draft": draft} for name, now, draft in categories
        ],
        "tiers": tier_moves(program, tally.deltas, until),
    }


def simulation_run(*, simulation_id: int) -> None:
    """Run a queued simulation and keep its result (insights.tasks.simulation_task). Safe to
    run twice: only the run that moves it from waiting to running computes."""
    claimed = Simulation.objects.filter(pk=simulation_id, status=Simulation.Status.QUEUED).update(
        status=Simulation.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    simulation = Simulation.objects.select_related("draft").get(pk=simulation_id)
    try:
        result = simulate(
            kind=simulation.draft.kind,
            rule_id=simulation.draft.rule_id,
            changes=simulation.changes,
        )
    except Exception as exc:
        logger.exception("simulation %s failed", simulation_id)
        Simulation.objects.filter(pk=simulation_id).update(
            status=Simulation.Status.FAILED, finished_at=timezone.now(), error=type(exc).__name__
        )
        return
    Simulation.objects.filter(pk=simulation_id).update(
        status=Simulation.Status.DONE, finished_at=timezone.now(), result=result
    )
