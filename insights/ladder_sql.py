"""The nightly ladder on PostgreSQL, set-based: the whole assessment is two statements and a
merge, with no row passing through Python (a million members would cost more in Python than
the database's work takes).

1. `_ASSESS_SQL` builds a temporary table with one row per member who is not closed: the
   purchase facts (a window over each member's purchases, read in the order of the
   (member, -occurred_at) index, aggregated per member), RFM ranks, the rung by the rules of
   insights/rules.py written as one CASE, the signals as a JSON array, and the member's rung
   from the last run;
2. one INSERT ... ON CONFLICT writes the rows that changed, one INSERT the moves, one DELETE
   what belongs to members now closed.

insights/rules.py stays the reference: ladder.facts_portable applies it row by row, and
tests/insights/test_ladder.py holds both paths to the same rows, the rules' edges included.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, connections, transaction

from loyalty.core.jobs import Counts, day_end

from . import concurrency, rules

EXPIRING_DAYS = 30
COMPLAINT_LOOKBACK_DAYS = 90
BAD_RATING = 2
# Memory for the statement's sorts and hashes (per sort, this transaction only).
WORK_MEM = "128MB"
# Members are not spread evenly over ids (older members have bought more): ranges per connection.
RANGES_PER_CONNECTION = 6
# The advisory lock a run holds (any number no other part of the program uses).
RUN_LOCK = 7_160_001

# Each member's purchase facts, for the members of one id range: a window over their purchases
# (in the order of the (member, -occurred_at) index) and an aggregate per member.
_STATS_SQL = """
INSERT INTO insights_purchasestats
    (member_id, n, first_on, last_on, median_gap, n12, spend12, spend_recent, spend_before,
     months_active)
WITH g AS (
    SELECT member_id, d, amount,
           lag(d) OVER (PARTITION BY member_id ORDER BY occurred_at DESC) - d AS gap
    FROM (
        SELECT member_id, occurred_at, amount, (occurred_at AT TIME ZONE %(tz)s)::date AS d
        FROM loyalty_purchase
        WHERE occurred_at < %(end)s AND member_id >= %(low)s AND member_id < %(high)s
    ) p
)
SELECT member_id,
       count(*),
       min(d),
       max(d),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap > 0),
       count(*) FILTER (WHERE d > %(year_ago)s),
       coalesce(sum(amount) FILTER (WHERE d > %(year_ago)s), 0),
       coalesce(sum(amount) FILTER (WHERE d > %(half_ago)s), 0),
       coalesce(sum(amount) FILTER (WHERE d > %(year_ago)s AND d <= %(half_ago)s), 0),
       count(DISTINCT date_trunc('month', d)) FILTER (WHERE d >= %(window_start)s)
FROM g GROUP BY member_id
"""

_ASSESS_SQL = """
CREATE TEMP TABLE insights_new ON COMMIT DROP AS
WITH s AS (
    SELECT * FROM insights_purchasestats
), r AS (
    SELECT s.*,
           %(day)s - last_on AS since,
           greatest(ceil(%(factor)s * coalesce(median_gap, %(first_gap)s)), %(min_days)s)
               AS risk_after,
           1 + (5 * (rank() OVER (ORDER BY last_on) - 1)) / count(*) OVER () AS r_score,
           1 + (5 * (rank() OVER (ORDER BY n12) - 1)) / count(*) OVER () AS f_score,
           1 + (5 * (rank() OVER (ORDER BY spend12) - 1)) / count(*) OVER () AS m_score
    FROM s
), complaint AS (
    SELECT DISTINCT ON (member_id) member_id,
           CASE WHEN first_answered_at IS NULL
                THEN jsonb_build_object('kind', 'complaint', 'item', id, 'why', 'unanswered')
                ELSE jsonb_build_object(
                    'kind', 'complaint', 'item', id, 'why', 'rated', 'rating', rating)
           END AS signal
    FROM feedback_feedbackitem
    WHERE kind = 'complaint' AND (
        (first_answered_at IS NULL AND first_answer_due < %(end)s AND closed_at IS NULL)
        OR (rating <= %(bad_rating)s AND rated_at >= %(rated_since)s))
    ORDER BY member_id, created_at DESC, id DESC
), expiring AS (
    SELECT member_id, sum(remaining) AS points, min(expires_on) AS first
    FROM loyalty_pointlot
    WHERE remaining > 0 AND expires_on > %(day)s AND expires_on <= %(expiring_until)s
    GROUP BY member_id
), advocates AS (
    SELECT referrer_id AS member_id FROM referrals_referral WHERE status = 'qualified'
    UNION
    SELECT f.member_id FROM feedback_feedbackitem f
    WHERE f.kind = 'praise'
      AND EXISTS (SELECT 1 FROM feedback_publishedcase c WHERE c.item_id = f.id)
), spoke AS (
    SELECT member_id FROM feedback_feedbackitem
    UNION
    SELECT member_id FROM feedback_surveyresponse WHERE answered_at IS NOT NULL
), assessed AS (
    SELECT m.id AS member_id, m.tier_grace_until, i.rung AS old_rung, i.rung_since AS old_since,
           coalesce(r.n, 0) AS purchases, r.first_on, r.last_on, r.median_gap,
           coalesce(r.n12, 0) AS n12, coalesce(r.spend12, 0) AS spend12,
           coalesce(r.spend_recent, 0) AS spend_recent,
           coalesce(r.spend_before, 0) AS spend_before,
           coalesce(r.months_active, 0) AS months_active,
           coalesce(r.r_score, 0) AS r_score, coalesce(r.f_score, 0) AS f_score,
           coalesce(r.m_score, 0) AS m_score,
           r.since, coalesce(r.median_gap, %(first_gap)s) AS usual,
           CASE
               WHEN r.n IS NULL THEN 'prospect'
               WHEN r.since >= %(lapsed_days)s AND r.since > r.risk_after THEN 'lapsed'
               WHEN r.since > r.risk_after THEN 'at_risk'
               WHEN r.months_active >= %(loyal_min)s THEN
                   CASE WHEN a.member_id IS NOT NULL THEN 'advocate' ELSE 'loyal' END
               WHEN r.median_gap IS NOT NULL THEN 'repeat'
               ELSE 'first_time'
           END AS rung,
           c.signal AS complaint, e.points AS expiring_points, e.first AS expiring_on,
           sp.member_id IS NULL AS quiet
    FROM accounts_member m
    LEFT JOIN r ON r.member_id = m.id
    LEFT JOIN insights_memberinsight i ON i.member_id = m.id
    LEFT JOIN advocates a ON a.member_id = m.id
    LEFT JOIN spoke sp ON sp.member_id = m.id
    LEFT JOIN complaint c ON c.member_id = m.id
    LEFT JOIN expiring e ON e.member_id = m.id
    WHERE m.status <> 'closed'
)
SELECT member_id, rung,
       CASE WHEN rung IS DISTINCT FROM old_rung OR old_since IS NULL THEN %(day)s::date
            ELSE old_since END AS rung_since,
       purchases, first_on AS first_purchase_on, last_on AS last_purchase_on,
       median_gap AS median_gap_days, n12 AS purchases_12m, spend12 AS spend_12m,
       months_active, r_score AS recency, f_score AS frequency, m_score AS monetary,
       to_jsonb(array_remove(ARRAY[
           CASE WHEN rung = 'at_risk'
                THEN jsonb_build_object('kind', 'gap', 'days', since, 'usual', usual) END,
           CASE WHEN spend_before > 0 AND spend_recent * 2 < spend_before
                THEN jsonb_build_object('kind', 'falling_spend',
                                        'recent', spend_recent::text,
                                        'before', spend_before::text) END,
           complaint,
           CASE WHEN tier_grace_until IS NOT NULL
                THEN jsonb_build_object('kind', 'downgrade', 'until', tier_grace_until::text) END,
           CASE WHEN expiring_points IS NOT NULL
                THEN jsonb_build_object('kind', 'expiring', 'points', expiring_points,
                                        'on', expiring_on::text) END
       ]::jsonb[], NULL)) AS signals,
       quiet, old_rung
FROM assessed
"""

_COLUMNS = (
    "member_id", "rung", "rung_since", "purchases", "first_purchase_on", "last_purchase_on",
    "median_gap_days", "purchases_12m", "spend_12m", "months_active", "recency", "frequency",
    "monetary", "signals", "quiet",
)  # fmt: skip


def _parameters(day: date, policy: rules.Policy) -> dict:
    end = day_end(day)
    return {
        "tz": settings.TIME_ZONE,
        "end": end,
        "day": day,
        "year_ago": rules.months_before(day, 12),
        "half_ago": rules.months_before(day, 6),
        "window_start": rules.loyal_window_start(day, policy),
        "factor": policy.risk_gap_factor,
        "first_gap": policy.first_gap_days,
        "min_days": policy.risk_min_days,
        "lapsed_days": policy.lapsed_days,
        "loyal_min": policy.loyal_min_months,
        "bad_rating": BAD_RATING,
        "rated_since": end - timedelta(days=COMPLAINT_LOOKBACK_DAYS),
        "expiring_until": day + timedelta(days=EXPIRING_DAYS),
    }


def _tune(cursor) -> None:
    """This transaction's settings: memory for the sorts, and no JIT (compiling the big
    statements costs more than it saves: measured in bench/RESULTS.md)."""
    cursor.execute(
        "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [WORK_MEM]
    )


def _stats_fill(day: date, policy: rules.Policy, low: int, high: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _tune(cursor)
        cursor.execute(_STATS_SQL, {**_parameters(day, policy), "low": low, "high": high})


def _ranges(parts: int) -> list[tuple[int, int]]:
    """Member id ranges with about as many members each (ids are spread evenly enough)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM accounts_member")
        low, high = cursor.fetchone()
    if low is None:
        return [(0, 1)]
    step = (high - low) // parts + 1
    return [(low + k * step, low + (k + 1) * step) for k in range(parts)]


def purchase_stats_fill(*, day: date, policy: rules.Policy) -> None:
    """Every member's purchase facts into insights_purchasestats: a range of members per
    connection at once (LOYALTY_INSIGHTS_CONNECTIONS), or on this connection alone inside a
    caller's transaction."""
    if not concurrency.can_fan_out():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM insights_purchasestats")
        _stats_fill(day, policy, 0, 2**62)
        return
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE insights_purchasestats")
    connections = max(int(settings.LOYALTY_INSIGHTS_CONNECTIONS), 1)
    # More ranges than connections: a connection done with a light range takes the next.
    ranges = _ranges(connections * RANGES_PER_CONNECTION)
    calls = [(_stats_fill, (day, policy, low, high)) for low, high in ranges]
    concurrency.run_all(calls, connections)


@contextmanager
def run_lock():
    """One run at a time (a double beat, a run by hand): the scratch table is shared. The lock
    is a transaction's: the caller's, or, outside one, that of a connection of its own held open
    for the run. (A session's lock would not do behind a pooler in transaction mode: the next
    transaction, the unlock too, may run on another server connection.)"""
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK])
        yield
        return
    holder = connections.create_connection(connection.alias)
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK])
        yield
    finally:
        try:
            holder.rollback()  # the lock goes with its transaction
        finally:
            holder.close()


def ladder_assess(*, day: date, policy: rules.Policy) -> Counts:
    """Assess every member for `day` from the purchase facts and store what changed (in the
    caller's transaction)."""
    columns = ", ".join(_COLUMNS)
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])
    mine = ", ".join(f"insights_memberinsight.{c}" for c in _COLUMNS[1:])
    theirs = ", ".join(f"EXCLUDED.{c}" for c in _COLUMNS[1:])
    counts = Counts()
    with connection.cursor() as cursor:
        _tune(cursor)
        # (dropped here too: inside an outer transaction ON COMMIT comes later)
        cursor.execute("DROP TABLE IF EXISTS insights_new")
        cursor.execute(_ASSESS_SQL, _parameters(day, policy))
        cursor.execute(
            f"INSERT INTO insights_memberinsight ({columns}) SELECT {columns} FROM insights_new "
            f"ON CONFLICT (member_id) DO UPDATE SET {assignments} "
            f"WHERE ({mine}) IS DISTINCT FROM ({theirs})"
        )
        counts.paid = cursor.rowcount
        # (a second run the same day keeps the first move's origin, with the latest rung)
        cursor.execute(
            "INSERT INTO insights_rungchange (member_id, day, from_rung, to_rung) "
            "SELECT member_id, %s, old_rung, rung FROM insights_new "
            "WHERE old_rung IS NOT NULL AND rung <> old_rung "
            "ON CONFLICT (member_id, day) DO UPDATE SET to_rung = EXCLUDED.to_rung",
            [day],
        )
        counts.details["moved"] = cursor.rowcount
        # (two runs in a day that went there and back leave no move)
        cursor.execute(
            "DELETE FROM insights_rungchange WHERE day = %s AND from_rung = to_rung", [day]
        )
        # (a member deleted takes their row along: the foreign key cascades)
        cursor.execute(
            "DELETE FROM insights_memberinsight i USING accounts_member m "
            "WHERE m.id = i.member_id AND m.status = 'closed'"
        )
        cursor.execute("SELECT rung, count(*) FROM insights_new GROUP BY rung")
        for rung, n in cursor.fetchall():
            counts.details[rung] = n
            counts.considered += n
        cursor.execute("DROP TABLE insights_new")
    return counts
