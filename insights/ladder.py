"""The nightly `insights` job: every member's rung, RFM scores and attrition signals, the rung
changes since the last run, and the dashboard's figures (insights.figures).

On PostgreSQL the purchase facts of every member come from one statement (a window over each
member's purchase days, aggregated, ranked for RFM), read through a server-side cursor in
chunks, so the worker's memory stays flat whatever the program's size; the rules are applied
in Python (insights.rules), and the results are copied into a temporary table and merged with
one INSERT ... ON CONFLICT that rewrites only the rows that changed. Elsewhere (the SQLite demo)
the same facts are gathered with the ORM (`facts_portable`); a test holds both to the same
answers. A run is idempotent: run twice for a day, it finds nothing more to change.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
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

from . import figures, rules
from .models import InsightsPolicy, MemberInsight, RungChange

CHUNK = 10_000
EXPIRING_DAYS = 30
COMPLAINT_LOOKBACK_DAYS = 90
BAD_RATING = 2


def policy_current() -> rules.Policy:
    row = InsightsPolicy.objects.filter(pk=1).first()
    return rules.Policy.of(row) if row is not None else rules.Policy()


@dataclass
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
    for pk, member_id, answered, rating in unhappy.order_by("created_at").values_list(
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

_FACTS_SQL = """
WITH p AS (
    SELECT member_id, (occurred_at AT TIME ZONE %(tz)s)::date AS d, amount
    FROM loyalty_purchase WHERE occurred_at < %(end)s
), g AS (
    SELECT member_id, d, amount,
           d - lag(d) OVER (PARTITION BY member_id ORDER BY d) AS gap
    FROM p
), s AS (
    SELECT member_id,
           count(*) AS n,
           min(d) AS first_on,
           max(d) AS last_on,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap > 0) AS median_gap,
           count(*) FILTER (WHERE d > %(year_ago)s) AS n12,
           coalesce(sum(amount) FILTER (WHERE d > %(year_ago)s), 0) AS spend12,
           coalesce(sum(amount) FILTER (WHERE d > %(half_ago)s), 0) AS spend_recent,
           coalesce(sum(amount) FILTER (WHERE d > %(year_ago)s AND d <= %(half_ago)s), 0)
               AS spend_before,
           count(DISTINCT date_trunc('month', d)) FILTER (WHERE d >= %(window_start)s)
               AS months_active
    FROM g GROUP BY member_id
), r AS (
    SELECT s.*,
           1 + (5 * (rank() OVER (ORDER BY last_on) - 1)) / count(*) OVER () AS r_score,
           1 + (5 * (rank() OVER (ORDER BY n12) - 1)) / count(*) OVER () AS f_score,
           1 + (5 * (rank() OVER (ORDER BY spend12) - 1)) / count(*) OVER () AS m_score
    FROM s
)
SELECT m.id, m.tier_grace_until, i.rung, i.rung_since,
       coalesce(r.n, 0), r.first_on, r.last_on, r.median_gap, coalesce(r.n12, 0),
       coalesce(r.spend12, 0), coalesce(r.spend_recent, 0), coalesce(r.spend_before, 0),
       coalesce(r.months_active, 0),
       coalesce(r.r_score, 0), coalesce(r.f_score, 0), coalesce(r.m_score, 0)
FROM accounts_member m
LEFT JOIN r ON r.member_id = m.id
LEFT JOIN insights_memberinsight i ON i.member_id = m.id
WHERE m.status <> 'closed'
ORDER BY m.id
"""


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


def facts_postgres(day: date, policy: rules.Policy, side: SideFacts) -> Iterator[list[Row]]:
    """Every member's row, in chunks, from one statement through a server-side cursor (inside
    the caller's transaction)."""
    with connection.connection.cursor(name="insights_facts") as cursor:
        cursor.itersize = CHUNK
        cursor.execute(_FACTS_SQL, _bounds(day, policy))
        while chunk := cursor.fetchmany(CHUNK):
            yield [_row(values, side) for values in chunk]


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


@dataclass
class Assessed:
    insight: MemberInsight
    change: RungChange | None


def assess(row: Row, day: date, policy: rules.Policy, side: SideFacts) -> Assessed:
    facts = row.facts
    rung = rules.rung_for(facts, day, policy)
    signals = rules.signals_for(facts, rung, day, policy)
    if row.member_id in side.complaints:
        signals.append(side.complaints[row.member_id])
    if row.grace_until is not None:
        signals.append({"kind": "downgrade", "until": row.grace_until.isoformat()})
    if row.member_id in side.expiring:
        points, first = side.expiring[row.member_id]
        signals.append({"kind": "expiring", "points": points, "on": first.isoformat()})
    changed = rung != row.old_rung
    insight = MemberInsight(
        member_id=row.member_id,
        rung=rung,
        rung_since=day if changed or row.old_since is None else row.old_since,
        purchases=facts.purchases,
        first_purchase_on=facts.first_on,
        last_purchase_on=facts.last_on,
        median_gap_days=facts.median_gap,
        purchases_12m=facts.purchases_12m,
        spend_12m=facts.spend_12m,
        months_active=facts.months_active,
        recency=row.recency,
        frequency=row.frequency,
        monetary=row.monetary,
        signals=signals,
        quiet=row.member_id not in side.spoke,
    )
    change = (
        RungChange(member_id=row.member_id, day=day, from_rung=row.old_rung or "", to_rung=rung)
        if changed
        else None
    )
    return Assessed(insight, change)


# --- storing -----------------------------------------------------------------------------------

_COLUMNS = (
    "member_id", "rung", "rung_since", "purchases", "first_purchase_on", "last_purchase_on",
    "median_gap_days", "purchases_12m", "spend_12m", "months_active", "recency", "frequency",
    "monetary", "signals", "quiet",
)  # fmt: skip


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(",", ":"))
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return str(value)


class PostgresStore:
    """Copies the run's rows into temporary tables, then merges them in two statements."""

    def __init__(self):
        with connection.cursor() as cursor:
            # (dropped here too: inside an outer transaction ON COMMIT comes later)
            cursor.execute("DROP TABLE IF EXISTS insights_new, insights_moves")
            cursor.execute(
                "CREATE TEMP TABLE insights_new (LIKE insights_memberinsight) ON COMMIT DROP"
            )
            cursor.execute(
                "CREATE TEMP TABLE insights_moves (member_id bigint, day date, from_rung "
                "varchar(12), to_rung varchar(12)) ON COMMIT DROP"
            )

    def add(self, assessed: list[Assessed]) -> None:
        insights = io.StringIO()
        moves = io.StringIO()
        for item in assessed:
            i = item.insight
            insights.write("\t".join(_copy_value(getattr(i, c)) for c in _COLUMNS) + "\n")
            if item.change is not None:
                c = item.change
                moves.write(f"{c.member_id}\t{c.day}\t{c.from_rung}\t{c.to_rung}\n")
        with connection.cursor() as cursor:
            insights.seek(0)
            cursor.copy_expert(f"COPY insights_new ({', '.join(_COLUMNS)}) FROM STDIN", insights)
            moves.seek(0)
            cursor.copy_expert("COPY insights_moves FROM STDIN", moves)

    def finish(self) -> int:
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])
        mine = ", ".join(f"insights_memberinsight.{c}" for c in _COLUMNS[1:])
        theirs = ", ".join(f"EXCLUDED.{c}" for c in _COLUMNS[1:])
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO insights_memberinsight ({', '.join(_COLUMNS)}) "
                f"SELECT {', '.join(_COLUMNS)} FROM insights_new "
                f"ON CONFLICT (member_id) DO UPDATE SET {assignments} "
                f"WHERE ({mine}) IS DISTINCT FROM ({theirs})"
            )
            written = cursor.rowcount
            # (a second run the same day keeps the first move's origin, with the latest rung)
            cursor.execute(
                "INSERT INTO insights_rungchange (member_id, day, from_rung, to_rung) "
                "SELECT member_id, day, from_rung, to_rung FROM insights_moves "
                "ON CONFLICT (member_id, day) DO UPDATE SET to_rung = EXCLUDED.to_rung"
            )
            cursor.execute(
                "DELETE FROM insights_memberinsight i WHERE NOT EXISTS "
                "(SELECT 1 FROM insights_new n WHERE n.member_id = i.member_id)"
            )
            cursor.execute("DROP TABLE insights_new, insights_moves")
        return written


class OrmStore:
    def __init__(self):
        self.seen: set[int] = set()
        self.written = 0

    def add(self, assessed: list[Assessed]) -> None:
        MemberInsight.objects.bulk_create(
            [item.insight for item in assessed],
            update_conflicts=True,
            unique_fields=["member"],
            update_fields=list(_COLUMNS[1:]),
        )
        self.written += len(assessed)
        self.seen.update(item.insight.member_id for item in assessed)
        for item in assessed:
            change = item.change
            if change is not None:
                RungChange.objects.update_or_create(
                    member_id=change.member_id,
                    day=change.day,
                    defaults={"to_rung": change.to_rung},
                    create_defaults={"from_rung": change.from_rung, "to_rung": change.to_rung},
                )

    def finish(self) -> int:
        MemberInsight.objects.exclude(member_id__in=self.seen).delete()
        return self.written


def ladder_compute(*, day: date, portable: bool | None = None) -> Counts:
    """Assess every member for `day` and store what changed (one transaction)."""
    if portable is None:
        portable = connection.vendor != "postgresql"
    policy = policy_current()
    counts = Counts()
    with transaction.atomic():
        side = side_facts(day)
        store = OrmStore() if portable else PostgresStore()
        gather = facts_portable if portable else facts_postgres
        for chunk in gather(day, policy, side):
            assessed = [assess(row, day, policy, side) for row in chunk]
            store.add(assessed)
            counts.considered += len(assessed)
            counts.details.update(item.insight.rung for item in assessed)
            counts.details["moved"] += sum(1 for item in assessed if item.change is not None)
        counts.paid = store.finish()
    return counts


def ladder_step(*, ids: list[int], day: date, run=None) -> Counts:
    """The job's one step: the ladder, then the dashboard's figures for the day."""
    counts = ladder_compute(day=day)
    figures.snapshot_compute(day=day)
    return counts
