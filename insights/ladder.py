"""The nightly `insights` job: every member's rung, RFM scores and attrition signals, the rung
changes since the last run, and the dashboard's figures (insights.figures).

On PostgreSQL the run is set-based (insights.ladder_sql: a few statements, no member passes
through Python). Elsewhere (the SQLite demo) this module gathers the same facts with the ORM
(`facts_portable`), applies insights.rules to each member and stores the results; a test holds
both paths to the same rows. A run is idempotent: run twice for a day, it changes nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Member
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.core.jobs import Counts, day_end
from loyalty.core.models import PointLot, Purchase
from referrals.models import Referral

from . import concurrency, figures, ladder_sql, rules
from .ladder_sql import BAD_RATING, COMPLAINT_LOOKBACK_DAYS, EXPIRING_DAYS
from .models import InsightsPolicy, MemberInsight, RungChange

CHUNK = 10_000


def policy_current() -> rules.Policy:
    row = InsightsPolicy.objects.filter(pk=1).first()
    return rules.Policy.of(row) if row is not None else rules.Policy()


@dataclass(slots=True)
class Row:
    """One member's facts with what the run needs besides: the last run's rung and the
    signals that do not come from purchases."""

    member_id: int
    facts: rules.Facts
    grace_until: date | None
    old_rung: str | None
    old_since: date | None
    recency: int
    frequency: int
    monetary: int


# --- the side facts (feedback, referrals, lots): small sets, read once per run -----------------


@dataclass
class SideFacts:
    advocates: set[int]
    spoke: set[int]  # filed feedback or answered a survey: the others are quiet
    complaints: dict[int, dict]
    expiring: dict[int, tuple[int, date]]


def side_facts(day: date) -> SideFacts:
    now = day_end(day)
    advocates = set(
        Referral.objects.filter(status=Referral.Status.QUALIFIED).values_list(
            "referrer_id", flat=True
        )
    )
    advocates |= set(
        FeedbackItem.objects.filter(kind=FeedbackItem.Kind.PRAISE, cases__isnull=False)
        .values_list("member_id", flat=True)
        .distinct()
    )
    spoke = set(FeedbackItem.objects.values_list("member_id", flat=True).distinct())
    spoke |= set(
        SurveyResponse.objects.filter(answered_at__isnull=False)
        .values_list("member_id", flat=True)
        .distinct()
    )
    complaints: dict[int, dict] = {}
    unhappy = FeedbackItem.objects.filter(kind=FeedbackItem.Kind.COMPLAINT).filter(
        Q(first_answered_at__isnull=True, first_answer_due__lt=now, closed_at__isnull=True)
        | Q(
            rating__lte=BAD_RATING,
            rated_at__gte=now - timedelta(days=COMPLAINT_LOOKBACK_DAYS),
        )
    )
    for pk, member_id, answered, rating in unhappy.order_by("created_at", "pk").values_list(
        "pk", "member_id", "first_answered_at", "rating"
    ):
        if answered is None:
            complaints[member_id] = {"kind": "complaint", "item": pk, "why": "unanswered"}
        else:
            complaints[member_id] = {
                "kind": "complaint",
                "item": pk,
                "why": "rated",
                "rating": rating,
            }
    expiring: dict[int, tuple[int, date]] = {}
    lots = PointLot.objects.filter(
        remaining__gt=0,
        expires_on__gt=day,
        expires_on__lte=day + timedelta(days=EXPIRING_DAYS),
    ).values_list("member_id", "remaining", "expires_on")
    for member_id, remaining, expires_on in lots.iterator(chunk_size=CHUNK):
        points, first = expiring.get(member_id, (0, expires_on))
        expiring[member_id] = (points + remaining, min(first, expires_on))
    return SideFacts(advocates, spoke, complaints, expiring)


# --- the purchase facts ------------------------------------------------------------------------


def _bounds(day: date, policy: rules.Policy) -> dict:
    return {
        "tz": settings.TIME_ZONE,
        "end": day_end(day),
        "year_ago": rules.months_before(day, 12),
        "half_ago": rules.months_before(day, 6),
        "window_start": rules.loyal_window_start(day, policy),
    }


def _row(values, side: SideFacts) -> Row:
    (pk, grace, old_rung, old_since, n, first_on, last_on, median_gap, n12, spend12, recent,
     before, months, r, f, m) = values  # fmt: skip
    facts = rules.Facts(
        purchases=n,
        first_on=first_on,
        last_on=last_on,
        median_gap=median_gap,
        purchases_12m=n12,
        spend_12m=Decimal(spend12),
        spend_recent=Decimal(recent),
        spend_before=Decimal(before),
        months_active=months,
        advocate=pk in side.advocates,
    )
    return Row(pk, facts, grace, old_rung, old_since, r, f, m)


def facts_portable(day: date, policy: rules.Policy, side: SideFacts) -> Iterator[list[Row]]:
    """The same rows as facts_postgres, with the ORM and Python (any database; small programs)."""
    bounds = _bounds(day, policy)
    days: dict[int, list[tuple[date, Decimal]]] = {}
    purchases = Purchase.objects.filter(occurred_at__lt=bounds["end"]).values_list(
        "member_id", "occurred_at", "amount"
    )
    for member_id, occurred_at, amount in purchases.iterator(chunk_size=CHUNK):
        days.setdefault(member_id, []).append((timezone.localdate(occurred_at), amount))
    stats = {}
    for member_id, bought in days.items():
        bought.sort()
        distinct = sorted({d for d, _ in bought})
        gaps = sorted((b - a).days for a, b in zip(distinct, distinct[1:], strict=False))
        last_year = [(d, a) for d, a in bought if d > bounds["year_ago"]]
        stats[member_id] = {
            "n": len(bought),
            "first_on": distinct[0],
            "last_on": distinct[-1],
            "median_gap": gaps[(len(gaps) - 1) // 2] if gaps else None,
            "n12": len(last_year),
            "spend12": sum((a for _, a in last_year), Decimal(0)),
            "recent": sum((a for d, a in bought if d > bounds["half_ago"]), Decimal(0)),
            "before": sum(
                (a for d, a in last_year if d <= bounds["half_ago"]),
                Decimal(0),
            ),
            "months": len({(d.year, d.month) for d, _ in bought if d >= bounds["window_start"]}),
        }
    scores = {
        name: rules.quintiles({pk: s[key] for pk, s in stats.items()})
        for name, key in (("r", "last_on"), ("f", "n12"), ("m", "spend12"))
    }
    old = {
        pk: (rung, since)
        for pk, rung, since in MemberInsight.objects.values_list("member_id", "rung", "rung_since")
    }
    members = (
        Member.objects.exclude(status=Member.Status.CLOSED)
        .order_by("pk")
        .values_list("pk", "tier_grace_until")
    )
    chunk: list[Row] = []
    for pk, grace in members.iterator(chunk_size=CHUNK):
        s = stats.get(pk)
        old_rung, old_since = old.get(pk, (None, None))
        values = (
            (pk, grace, old_rung, old_since, 0, None, None, None, 0, 0, 0, 0, 0, 0, 0, 0)
            if s is None
            else (
                pk, grace, old_rung, old_since, s["n"], s["first_on"], s["last_on"],
                s["median_gap"], s["n12"], s["spend12"], s["recent"], s["before"],
                s["months"], scores["r"][pk], scores["f"][pk], scores["m"][pk],
            )
        )  # fmt: skip
        chunk.append(_row(values, side))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the assessment ----------------------------------------------------------------------------

# What the run stores of a member, in MemberInsight's column order (plain tuples: a million
# model instances would cost the run more than its rules do).
_COLUMNS = (
    "member_id", "rung", "rung_since", "purchases", "first_purchase_on", "last_purchase_on",
    "median_gap_days", "purchases_12m", "spend_12m", "months_active", "recency", "frequency",
    "monetary", "signals", "quiet",
)  # fmt: skip
RUNG = _COLUMNS.index("rung")


@dataclass(slots=True)
class Assessed:
    insight: tuple  # values in _COLUMNS order
    change: tuple | None  # (member_id, day, from_rung, to_rung) when the rung changed


def assess(row: Row, day: date, policy: rules.Policy, side: SideFacts) -> Assessed:
    facts = row.facts
    pk = row.member_id
    rung = rules.rung_for(facts, day, policy)
    signals = rules.signals_for(facts, rung, day, policy)
    if pk in side.complaints:
        signals.append(side.complaints[pk])
    if row.grace_until is not None:
        signals.append({"kind": "downgrade", "until": row.grace_until.isoformat()})
    if pk in side.expiring:
        points, first = side.expiring[pk]
        signals.append({"kind": "expiring", "points": points, "on": first.isoformat()})
    changed = rung != row.old_rung
    insight = (
        pk,
        rung,
        day if changed or row.old_since is None else row.old_since,
        facts.purchases,
        facts.first_on,
        facts.last_on,
        facts.median_gap,
        facts.purchases_12m,
        facts.spend_12m,
        facts.months_active,
        row.recency,
        row.frequency,
        row.monetary,
        signals,
        pk not in side.spoke,
    )
    # (a member's first assessment is where they start, not a move)
    moved = changed and row.old_rung is not None
    return Assessed(insight, (pk, day, row.old_rung, rung) if moved else None)


# --- storing -----------------------------------------------------------------------------------


class OrmStore:
    def __init__(self):
        self.seen: set[int] = set()
        self.written = 0

    def add(self, assessed: list[Assessed]) -> None:
        MemberInsight.objects.bulk_create(
            [MemberInsight(**dict(zip(_COLUMNS, item.insight, strict=True))) for item in assessed],
            update_conflicts=True,
            unique_fields=["member"],
            update_fields=list(_COLUMNS[1:]),
        )
        self.written += len(assessed)
        self.seen.update(item.insight[0] for item in assessed)
        for item in assessed:
            if item.change is not None:
                member_id, day, from_rung, to_rung = item.change
                move, _created = RungChange.objects.update_or_create(
                    member_id=member_id,
                    day=day,
                    defaults={"to_rung": to_rung},
                    create_defaults={"from_rung": from_rung, "to_rung": to_rung},
                )
                if move.from_rung == move.to_rung:  # there and back in a day: no move
                    move.delete()

    def finish(self) -> int:
        MemberInsight.objects.exclude(member_id__in=self.seen).delete()
        return self.written


def ladder_compute(*, day: date, portable: bool | None = None) -> Counts:
    """Assess every member for `day` and store what changed (one transaction)."""
    if portable is None:
        portable = connection.vendor != "postgresql"
    policy = policy_current()
    if not portable:
        with ladder_sql.run_lock():
            ladder_sql.purchase_stats_fill(day=day, policy=policy)
            with transaction.atomic():
                return ladder_sql.ladder_assess(day=day, policy=policy)
    with transaction.atomic():
        counts = Counts()
        side = side_facts(day)
        store = OrmStore()
        for chunk in facts_portable(day, policy, side):
            assessed = [assess(row, day, policy, side) for row in chunk]
            store.add(assessed)
            counts.considered += len(assessed)
            counts.details.update(item.insight[RUNG] for item in assessed)
            counts.details["moved"] += sum(1 for item in assessed if item.change is not None)
        counts.paid = store.finish()
    return counts


def ladder_step(*, ids: list[int], day: date, run=None) -> Counts:
    """The job's one step: the ladder, then the dashboard's figures for the day. On PostgreSQL
    the purchase facts are gathered on several connections at once, and the figures that read
    only the ledger on another connection while members are assessed."""
    if not concurrency.can_fan_out():
        counts = ladder_compute(day=day)
        figures.snapshot_compute(day=day)
        return counts
    policy = policy_current()
    with ladder_sql.run_lock():
        # the facts keep every connection busy; then the figures that need no assessment are
        # computed on another connection while this one assesses
        ladder_sql.purchase_stats_fill(day=day, policy=policy)
        with ThreadPoolExecutor(max_workers=1) as pool:
            ledger = concurrency.start(pool, figures.ledger_figures, day)
            with transaction.atomic():
                counts = ladder_sql.ladder_assess(day=day, policy=policy)
            figures.snapshot_compute(day=day, ledger=ledger.result())
    return counts
