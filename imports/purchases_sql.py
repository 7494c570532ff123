"""Importing purchases on PostgreSQL, set-based: COPY the file into a staging table, check it
with SQL, earn with SQL (imports.earning_sql), then write in chunks with INSERT ... SELECT.

The checks are imports.checks' (same order, same codes and parameters), the writes are
purchase_record's rows (the purchase, its lines, the earn entry and its lot, the member's
balance), dated as imports.purchases_rows dates them. Staging tables are temporary (this
connection's only, no WAL): import_raw (the file as text), import_row (each row checked),
import_purchase (the purchases to write, with their points) and import_line.

Each chunk of CHUNK purchases is one transaction: it locks its members (id order, the one lock
order of every writer of several members), takes out the purchases recorded meanwhile and those
of a membership closed meanwhile, assigns ids in the order (member, time, row), and writes with
a few statements: every balance_after runs on from the balance read under the lock. A purchase
still inside the partner's return window at the import's time (loyalty.core.pending's
pending_until, in SQL) holds its points pending instead: a PendingPoints row and the member's
points_pending, no entry and no lot.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import psycopg2
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import Member, Partner
from loyalty.core.errors import LedgerInconsistent
from loyalty.core.models import (
    LedgerEntry,
    PendingPoints,
    PointLot,
    Purchase,
    PurchaseLine,
    Tier,
    TierChange,
)

from . import checks
from .earning_sql import earnings_compute
from .outcome import Checked, Written
from .rows import MalformedRow, RowError, UnreadableFile
from .sources import Source

CHUNK = 20_000
TEMP_TABLES = (
    "import_raw",
    "import_row",
    "import_purchase",
    "import_purchase0",
    "import_earned",
    "import_line",
    "import_balance",
    "import_chunk",
    "import_rule",
    "import_line_rate",
    "import_line_promo",
    "import_line_earning",
)

_ROWS = f"""
CREATE TEMP TABLE import_row AS
-- (MATERIALIZED steps are computed once per row; inlined, each use of time_form, time_ok or
-- occurred_at below would compute it again, a regular expression or a date cast each time)
WITH t AS (
    SELECT row_no,
        btrim(COALESCE(external_id, ''), %(trim)s) AS external_id,
        regexp_replace(COALESCE(member_number, ''), %(number_strip)s, '', 'g') AS number,
        btrim(COALESCE(purchased_at, ''), %(trim)s) AS purchased_at,
        btrim(COALESCE(amount, ''), %(trim)s) AS amount,
        btrim(COALESCE(currency, ''), %(trim)s) AS currency,
        btrim(COALESCE(points, ''), %(trim)s) AS points,
        btrim(COALESCE(sku, ''), %(trim)s) AS sku,
        COALESCE(NULLIF(btrim(COALESCE(quantity, ''), %(trim)s), ''), '1') AS quantity,
        btrim(COALESCE(line_amount, ''), %(trim)s) AS line_amount,
        btrim(COALESCE(category, ''), %(trim)s) AS category,
        btrim(COALESCE(sku, '') || COALESCE(quantity, '') || COALESCE(line_amount, '')
            || COALESCE(category, ''), %(trim)s) <> '' AS is_line
    FROM import_raw
), m AS MATERIALIZED (
    SELECT t.*, m.id AS member_id, m.status AS member_status,
        t.purchased_at ~ %(datetime_re)s AS time_form,
        substr(t.purchased_at, 11, 1) IN ('T', ' ') AND substr(t.purchased_at, 14, 1) = ':'
            AS has_time,
        substr(t.purchased_at, 11) AS rest
    FROM t LEFT JOIN {Member._meta.db_table} m ON m.member_number = t.number
), parts AS (
    -- Only read where the form matched: the fields are then where these positions say.
    SELECT m.*, greatest(strpos(rest, '+'), strpos(rest, '-')) AS sign_at,
        CASE WHEN time_form THEN substr(purchased_at, 1, 4)::int END AS y,
        CASE WHEN time_form THEN substr(purchased_at, 6, 2)::int END AS mo,
        CASE WHEN time_form THEN substr(purchased_at, 9, 2)::int END AS dd,
        CASE WHEN time_form AND has_time THEN substr(purchased_at, 12, 2)::int ELSE 0 END AS hh,
        CASE WHEN time_form AND has_time THEN substr(purchased_at, 15, 2)::int ELSE 0 END AS mi,
        CASE WHEN time_form AND has_time AND substr(purchased_at, 17, 1) = ':'
            THEN substr(purchased_at, 18, 2)::int ELSE 0 END AS ss
    FROM m
), ok AS MATERIALIZED (
    SELECT parts.*, CASE
        WHEN NOT time_form OR y < 1 OR mo NOT BETWEEN 1 AND 12 OR dd < 1 OR hh > 23 OR mi > 59
            OR ss > 59 THEN false
        WHEN dd > extract(day from make_date(y, mo, 1) + interval '1 month' - interval '1 day')
            THEN false
        WHEN sign_at = 0 THEN true
        ELSE substr(rest, sign_at + 1, 2)::int <= 15
            AND COALESCE(NULLIF(replace(substr(rest, sign_at + 3), ':', ''), ''), '0')::int <= 59
    END AS time_ok
    FROM parts
), timed AS MATERIALIZED (
    SELECT ok.*, CASE WHEN NOT time_ok THEN NULL
        WHEN sign_at = 0 AND right(purchased_at, 1) <> 'Z' THEN
            purchased_at::timestamp AT TIME ZONE %(tz)s
        ELSE purchased_at::timestamptz
    END AS occurred_at,
    COALESCE(NULLIF(upper(currency), ''), %(currency)s) AS currency_code
    FROM ok
)
SELECT timed.*, e.field, e.code, e.params FROM timed, LATERAL (SELECT CASE
    WHEN length(external_id) NOT BETWEEN 1 AND 100 THEN 'external_id:invalid_external_id'
    WHEN member_id IS NULL THEN 'member_number:member_not_found'
    WHEN member_status = %(closed)s THEN 'member_number:member_not_active'
    WHEN NOT time_ok THEN 'purchased_at:invalid_datetime'
    WHEN occurred_at > %(latest)s THEN 'purchased_at:purchased_in_future'
    WHEN amount !~ %(amount_re)s THEN 'amount:invalid_amount'
    WHEN amount::numeric = 0 THEN 'amount:invalid_amount'
    WHEN amount::numeric(12, 2) > %(max_amount)s THEN 'amount:purchase_amount_over_limit'
    WHEN currency_code <> ALL(%(currencies)s) THEN 'currency:unknown_currency'
    WHEN currency_code <> %(currency)s THEN 'currency:currency_mismatch'
    WHEN points <> '' AND points !~ %(points_re)s THEN 'points:invalid_points'
    WHEN is_line AND length(sku) NOT BETWEEN 1 AND 64 THEN 'sku:invalid_sku'
    WHEN is_line AND quantity !~ %(quantity_re)s THEN 'quantity:invalid_quantity'
    WHEN is_line AND quantity::int = 0 THEN 'quantity:invalid_quantity'
    WHEN is_line AND line_amount !~ %(amount_re)s THEN 'line_amount:invalid_line_amount'
    WHEN is_line AND length(category) > 64 THEN 'category:invalid_category'
END AS error) v,
LATERAL (SELECT split_part(v.error, ':', 1) AS field, split_part(v.error, ':', 2) AS code,
    CASE split_part(v.error, ':', 2)
        WHEN 'purchase_amount_over_limit' THEN jsonb_build_object('limit', %(max_amount_text)s)
        WHEN 'currency_mismatch' THEN jsonb_build_object('currency', %(currency)s)
        ELSE '{{}}'::jsonb END AS params
) e
"""

# The checks of a purchase's rows together (imports.checks.purchase_group_check), in order.
_GROUPS = """
WITH g AS (
    SELECT external_id, MIN(row_no) FILTER (WHERE code IS NOT NULL) AS first_bad,
        COUNT(*) AS n, bool_and(is_line) AS all_lines,
        COUNT(DISTINCT (number, purchased_at, amount, currency, points)) AS variants,
        SUM(line_amount::numeric(12, 2)) FILTER (WHERE code IS NULL AND is_line) AS lines,
        MIN(amount::numeric(12, 2)) FILTER (WHERE code IS NULL) AS amount
    FROM import_row GROUP BY external_id
), verdict AS (
    SELECT external_id, CASE
        WHEN first_bad IS NOT NULL THEN 'external_id:purchase_refused'
        WHEN n > 1 AND NOT all_lines THEN 'external_id:duplicate_in_file'
        WHEN variants > 1 THEN 'external_id:rows_disagree'
        WHEN n > %(max_lines)s THEN 'external_id:too_many_lines'
        WHEN all_lines AND lines <> amount THEN 'line_amount:lines_do_not_add_up'
    END AS error, first_bad, lines, amount
    FROM g
)
UPDATE import_row r SET field = split_part(v.error, ':', 1), code = split_part(v.error, ':', 2),
    params = CASE split_part(v.error, ':', 2)
        WHEN 'purchase_refused' THEN jsonb_build_object('row', v.first_bad)
        WHEN 'lines_do_not_add_up' THEN
            jsonb_build_object('lines', v.lines::text, 'amount', v.amount::text)
        ELSE '{}'::jsonb END
FROM verdict v
WHERE v.external_id = r.external_id AND v.error IS NOT NULL AND r.code IS NULL
"""

_PURCHASES = f"""
CREATE TEMP TABLE import_purchase0 AS
WITH p AS (
    SELECT MIN(row_no) AS pid, external_id, MIN(member_id) AS member_id,
        MIN(occurred_at) AS occurred_at, MIN(amount::numeric(12, 2)) AS amount,
        MIN(currency_code) AS currency, MIN(NULLIF(points, '')::bigint) AS points_given,
        bool_or(is_line) AS has_lines, COUNT(*) AS lines
    FROM import_row WHERE code IS NULL GROUP BY external_id
)
SELECT p.*, (p.occurred_at AT TIME ZONE %(tz)s)::date AS on_date,
    t.id AS tier_id, COALESCE(t.earn_multiplier, 1) AS tier_multiplier,
    COALESCE(t.name, '') AS tier_name,
    EXISTS (SELECT 1 FROM {Purchase._meta.db_table} x
        WHERE x.partner_id = %(partner_id)s AND x.external_id = p.external_id) AS recorded
FROM p
JOIN {Member._meta.db_table} m ON m.id = p.member_id
LEFT JOIN LATERAL (
    SELECT c.to_tier_id FROM {TierChange._meta.db_table} c
    WHERE c.member_id = p.member_id AND c.created_at <= p.occurred_at
    ORDER BY c.created_at DESC, c.id DESC LIMIT 1
) before ON true
LEFT JOIN LATERAL (
    SELECT c.from_tier_id FROM {TierChange._meta.db_table} c
    WHERE c.member_id = p.member_id AND c.created_at > p.occurred_at
    ORDER BY c.created_at, c.id LIMIT 1
) after ON before.to_tier_id IS NULL
LEFT JOIN {Tier._meta.db_table} t ON t.id = CASE
    WHEN before.to_tier_id IS NOT NULL THEN before.to_tier_id
    WHEN after IS NOT NULL THEN after.from_tier_id
    ELSE m.tier_id END
"""

# The purchases with what they earn, and each one's place (seq: by member, then time, then row,
# the order of the entries' ids).
_EARNED = """
CREATE TEMP TABLE import_purchase AS
SELECT p.*, COALESCE(e.points, 0) AS points, COALESCE(e.explanation, '[]'::jsonb) AS explanation,
    row_number() OVER (ORDER BY p.member_id, p.occurred_at, p.pid) AS seq
FROM import_purchase0 p LEFT JOIN import_earned e ON e.pid = p.pid
"""

# A purchase that would earn more than the partner may give at once is refused, every row of it.
_OVER_LIMIT = """
WITH over AS (
    DELETE FROM import_purchase WHERE NOT recorded AND points > %(limit)s
    RETURNING pid, external_id, points
), gone AS (
    DELETE FROM import_line l USING over o WHERE l.pid = o.pid
)
UPDATE import_row r SET field = 'points', code = 'purchase_points_over_limit',
    params = jsonb_build_object('points', o.points, 'limit', %(limit)s::bigint)
FROM over o WHERE r.external_id = o.external_id
"""

_LINES = """
CREATE TEMP TABLE import_line AS
SELECT p.pid, r.row_no AS line_no, r.sku, r.quantity::int AS quantity,
    r.line_amount::numeric(12, 2) AS amount, r.category, true AS real,
    NULL::numeric AS points_earned, NULL::jsonb AS earning
FROM import_purchase0 p JOIN import_row r ON r.external_id = p.external_id
WHERE p.has_lines AND NOT p.recorded
UNION ALL
SELECT p.pid, p.pid, '', 1, p.amount, '', false, NULL, NULL
FROM import_purchase0 p WHERE NOT p.has_lines AND NOT p.recorded
"""


# --- the writes, chunk by chunk -----------------------------------------------------------------
# A purchase's place (seq) is by member, then time, then row: the order of the entries' ids.

_IN_CHUNK = "seq BETWEEN %(low)s AND %(high)s AND NOT recorded"

# The chunk's members locked in id order, with their balances read under the lock.
_LOCK = f"""
DROP TABLE IF EXISTS import_balance;
CREATE TEMP TABLE import_balance AS
WITH locked AS (
    SELECT id, status, points_balance FROM {Member._meta.db_table}
    WHERE id IN (SELECT member_id FROM import_purchase WHERE {_IN_CHUNK})
    ORDER BY id FOR NO KEY UPDATE
)
SELECT id AS member_id, status = %(closed)s AS closed, points_balance AS balance FROM locked
"""

# The rows of purchases whose membership was closed since the check.
_CLOSED_MEANWHILE = f"""
SELECT r.row_no, r.external_id FROM import_purchase p
JOIN import_balance b ON b.member_id = p.member_id AND b.closed
JOIN import_row r ON r.external_id = p.external_id
WHERE p.{_IN_CHUNK} ORDER BY r.row_no
"""

_RECORDED = f"""
EXISTS (SELECT 1 FROM {Purchase._meta.db_table} x
    WHERE x.partner_id = %(partner_id)s AND x.external_id = p.external_id)
"""

# The chunk's purchases of open memberships: those not in import_chunk were recorded meanwhile.
_CANDIDATES = f"""
SELECT COUNT(*) FROM import_purchase p
JOIN import_balance b ON b.member_id = p.member_id AND NOT b.closed
WHERE p.{_IN_CHUNK}
"""

# What the chunk writes, with its ids: the outer nextval() calls follow the inner ORDER BY.
# available_on: the day the points become available when that is after the import's day (its
# local day plus the partner's return window, as loyalty.core.pending.pending_until), else NULL;
# such a purchase's points wait pending and it gets no entry.
_CHUNK = f"""
DROP TABLE IF EXISTS import_chunk;
CREATE TEMP TABLE import_chunk AS
SELECT o.*, nextval(%(purchase_ids)s::regclass) AS purchase_id,
    CASE WHEN o.points > 0 AND o.available_on IS NULL
        THEN nextval(%(entry_ids)s::regclass) END AS entry_id
FROM (
    SELECT p.*, b.balance, CASE WHEN %(window)s > 0 AND p.on_date + %(window)s > %(today)s
        THEN p.on_date + %(window)s END AS available_on
    FROM import_purchase p
    JOIN import_balance b ON b.member_id = p.member_id AND NOT b.closed
    WHERE p.{_IN_CHUNK} AND NOT {_RECORDED}
    ORDER BY p.seq
) o
"""

_WRITE_PURCHASES = f"""
INSERT INTO {Purchase._meta.db_table} (id, partner_id, external_id, member_id, amount, currency,
    occurred_at, points_earned, explanation, payment_fingerprint, created_at)
SELECT purchase_id, %(partner_id)s, external_id, member_id, amount, currency, occurred_at,
    points, explanation, NULL, %(at)s
FROM import_chunk ORDER BY seq
"""

_WRITE_LINES = f"""
INSERT INTO {PurchaseLine._meta.db_table} (purchase_id, member_id, sku, quantity, amount,
    category, points_earned, earning)
SELECT c.purchase_id, c.member_id, l.sku, l.quantity, l.amount, l.category, l.points_earned,
    COALESCE(l.earning, '{{}}'::jsonb)
FROM import_chunk c JOIN import_line l ON l.pid = c.pid
WHERE c.has_lines AND l.real ORDER BY c.seq, l.line_no
"""

# Dated when the purchase happened: the history reads in order, and the tier window and the
# expiry count from that day (imports.purchases_rows does the same through the ledger).
_WRITE_ENTRIES = f"""
INSERT INTO {LedgerEntry._meta.db_table} (id, member_id, kind, points, balance_after,
    description, purchase_id, reason, created_at)
SELECT entry_id, member_id, %(kind)s, points,
    balance + SUM(points) OVER (PARTITION BY member_id ORDER BY entry_id),
    left(%(name)s || external_id, 500), purchase_id, '', occurred_at
FROM import_chunk WHERE entry_id IS NOT NULL ORDER BY entry_id
"""

_WRITE_LOTS = f"""
INSERT INTO {PointLot._meta.db_table} (member_id, entry_id, points, remaining, earned_at,
    expires_on)
SELECT member_id, entry_id, points, points, occurred_at,
    CASE WHEN %(months)s > 0 THEN
        ((occurred_at AT TIME ZONE %(tz)s)::date + make_interval(months => %(months)s))::date
    END
FROM import_chunk WHERE entry_id IS NOT NULL ORDER BY entry_id
"""

_BALANCES = f"""
UPDATE {Member._meta.db_table} m SET points_balance = m.points_balance + d.points
FROM (
    SELECT member_id, SUM(points) AS points FROM import_chunk
    WHERE entry_id IS NOT NULL GROUP BY member_id
) d
WHERE m.id = d.member_id AND m.points_balance + d.points >= 0 AND m.status <> %(closed)s
"""

# The points still inside the return window: one pending row a purchase (as pending_hold_many
# writes them), and the members' points_pending, under the chunk's locks.
_WRITE_PENDING = f"""
INSERT INTO {PendingPoints._meta.db_table} (member_id, purchase_id, points, cancelled,
    available_on, status, created_at)
SELECT member_id, purchase_id, points, 0, available_on, %(pending)s, %(at)s
FROM import_chunk WHERE points > 0 AND available_on IS NOT NULL ORDER BY seq
"""

_PENDING_TOTALS = f"""
UPDATE {Member._meta.db_table} m SET points_pending = m.points_pending + d.points
FROM (
    SELECT member_id, SUM(points) AS points FROM import_chunk
    WHERE points > 0 AND available_on IS NOT NULL GROUP BY member_id
) d
WHERE m.id = d.member_id AND m.status <> %(closed)s
"""


class SqlPurchases:
    """One purchases file on PostgreSQL: check() (the dry run: temporary tables only), then
    write() for the real run. close() drops the staging tables."""

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

    # --- the check ----------------------------------------------------------------------------

    def check(self) -> Checked:
        columns = self.source.columns(
            known=checks.PURCHASE_COLUMNS, required=checks.PURCHASE_REQUIRED
        )
        with transaction.atomic(), connection.cursor() as cursor:
            self._drop(cursor)
            _temp_buffers(cursor)
            self._copy(cursor, columns)
            cursor.execute(_ROWS, self._params())
            cursor.execute("CREATE INDEX ON import_row (external_id); ANALYZE import_row")
            cursor.execute(_GROUPS, {"max_lines": checks.MAX_LINES})
            cursor.execute(_PURCHASES, {"tz": settings.TIME_ZONE, "partner_id": self.partner.pk})
            cursor.execute("ANALYZE import_purchase0")
            cursor.execute(_LINES)
            cursor.execute("CREATE INDEX ON import_line (pid); ANALYZE import_line")
            earnings_compute(cursor, partner_id=self.partner.pk)
            cursor.execute(_EARNED)
            cursor.execute(
                "CREATE INDEX ON import_purchase (seq); ANALYZE import_purchase; "
                "DROP TABLE import_purchase0, import_earned"
            )
            cursor.execute(_OVER_LIMIT, {"limit": self.limits.max_points})
            cursor.execute("SELECT COUNT(*) FROM import_raw")
            (rows,) = cursor.fetchone()
            cursor.execute(
                "SELECT row_no, field, code, params FROM import_row WHERE code IS NOT NULL "
                "ORDER BY row_no"
            )
            errors = [
                RowError(row, field, code, _json(params)) for row, field, code, params in cursor
            ]
            cursor.execute(
                "SELECT COUNT(DISTINCT external_id), COUNT(DISTINCT external_id) "
                "FILTER (WHERE code IS NOT NULL) FROM import_row"
            )
            total, bad = cursor.fetchone()
            cursor.execute(
                "SELECT COUNT(*) FILTER (WHERE recorded), COUNT(*) FILTER (WHERE NOT recorded), "
                "COALESCE(SUM(points) FILTER (WHERE NOT recorded), 0) FROM import_purchase"
            )
            skipped, to_import, points = cursor.fetchone()
        return Checked(
            rows=rows,
            total=total,
            bad=bad,
            skipped=skipped,
            to_import=to_import,
            points=int(points),
            errors=errors,
        )

    def _params(self) -> dict:
        return {
            "trim": checks.TRIM,
            "number_strip": checks.NUMBER_STRIP_RE,
            "datetime_re": checks.DATETIME_SQL_RE,
            "amount_re": checks.AMOUNT_RE,
            "points_re": checks.POINTS_RE,
            "quantity_re": checks.QUANTITY_RE,
            "tz": settings.TIME_ZONE,
            "currency": self.limits.currency,
            "currencies": list(checks.CURRENCIES),
            "closed": Member.Status.CLOSED,
            "latest": self.limits.now + checks.FUTURE_SLACK,
            "max_amount": self.limits.max_amount,
            "max_amount_text": str(self.limits.max_amount),
        }

    def _copy(self, cursor, columns: list[str]) -> None:
        stream, delimiter, numbered = self.source.copy_stream()
        cursor.execute(
            "CREATE TEMP TABLE import_raw (row_no bigint, "
            + ", ".join(f"{name} text" for name in checks.PURCHASE_COLUMNS)
            + ")"
        )
        if not numbered:  # COPY numbers the rows in the order it reads them: the header is 1
            cursor.execute("CREATE TEMP SEQUENCE import_raw_row START 2")
            cursor.execute(
                "ALTER TABLE import_raw ALTER row_no SET DEFAULT nextval('import_raw_row')"
            )
        target = (["row_no"] if numbered else []) + columns
        sql = (
            f"COPY import_raw ({', '.join(target)}) FROM STDIN "
            f"WITH (FORMAT csv, DELIMITER '{delimiter}', ENCODING 'UTF8')"
        )
        try:
            with transaction.atomic():
                cursor.cursor.copy_expert(sql, stream)
        except (DatabaseError, psycopg2.Error) as exc:
            raise _copy_refusal(exc) from None
        finally:
            stream.close()

    # --- the writes ---------------------------------------------------------------------------

    def write(self, *, at: datetime, progress=None) -> Written:
        """Write what check() found to import, chunk by chunk (each chunk one transaction);
        `progress(done)` after each. `at`: when the purchases are recorded."""
        written = Written()
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM import_purchase")
            (last,) = cursor.fetchone()
            for low in range(1, last + 1, CHUNK):
                with transaction.atomic():
                    self._chunk(cursor, low, low + CHUNK - 1, at, written)
                if progress is not None:
                    progress(written.imported)
        return written

    def _chunk(self, cursor, low: int, high: int, at: datetime, written: Written) -> None:
        chunk = {"low": low, "high": high, "partner_id": self.partner.pk}
        cursor.execute(_LOCK, {**chunk, "closed": Member.Status.CLOSED})
        cursor.execute(_CLOSED_MEANWHILE, chunk)
        gone = cursor.fetchall()
        written.errors += [RowError(row, "member_number", "member_not_active") for row, _id in gone]
        written.refused += len({external_id for _row, external_id in gone})
        cursor.execute(_CANDIDATES, chunk)
        (candidates,) = cursor.fetchone()
        cursor.execute(_CHUNK, {**chunk, **self._sequences(cursor), **self._window(at)})
        # (statistics of the columns the lines' join needs: without them the planner reads
        # every staged line for each chunk; the whole table's would sample its explanations)
        cursor.execute("ANALYZE import_chunk (pid, has_lines); SELECT COUNT(*) FROM import_chunk")
        written.skipped += candidates - cursor.fetchone()[0]
        cursor.execute(_WRITE_PURCHASES, {"partner_id": self.partner.pk, "at": at})
        written.imported += cursor.rowcount
        cursor.execute(_WRITE_LINES)
        cursor.execute(
            _WRITE_ENTRIES, {"name": self.partner.name + " ", "kind": LedgerEntry.Kind.EARN}
        )
        cursor.execute(
            _WRITE_LOTS,
            {"tz": settings.TIME_ZONE, "months": settings.LOYALTY_POINTS_EXPIRY_MONTHS},
        )
        cursor.execute(_BALANCES, {"closed": Member.Status.CLOSED})
        changed = cursor.rowcount
        cursor.execute(_WRITE_PENDING, {"pending": PendingPoints.Status.PENDING, "at": at})
        cursor.execute(_PENDING_TOTALS, {"closed": Member.Status.CLOSED})
        changed_pending = cursor.rowcount
        cursor.execute(
            "SELECT COUNT(DISTINCT member_id) FILTER (WHERE entry_id IS NOT NULL), "
            "COUNT(DISTINCT member_id) FILTER (WHERE points > 0 AND available_on IS NOT NULL), "
            "COALESCE(SUM(points), 0), array_agg(DISTINCT member_id) FROM import_chunk"
        )
        members, members_pending, points, member_ids = cursor.fetchone()
        if changed != members or changed_pending != members_pending:
            raise LedgerInconsistent()
        written.points += int(points)
        written.member_ids.update(member_ids or ())

    def _window(self, at: datetime) -> dict:
        """The partner's return window and the import's local day (pending_until's terms)."""
        return {"window": self.partner.return_window_days or 0, "today": timezone.localdate(at)}

    def _sequences(self, cursor) -> dict:
        """The id sequences of purchases and entries (looked up once: in the statement, the
        look-up would run for every row)."""
        if not hasattr(self, "_sequence_names"):
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, 'id'), pg_get_serial_sequence(%s, 'id')",
                [Purchase._meta.db_table, LedgerEntry._meta.db_table],
            )
            purchase_ids, entry_ids = cursor.fetchone()
            self._sequence_names = {"purchase_ids": purchase_ids, "entry_ids": entry_ids}
        return self._sequence_names

    def close(self) -> None:
        with connection.cursor() as cursor:
            self._drop(cursor)

    @staticmethod
    def _drop(cursor) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
        cursor.execute("DROP SEQUENCE IF EXISTS import_raw_row")


def _temp_buffers(cursor) -> None:
    """Room for the staging tables in memory (temporary tables are not in shared buffers; the
    default 8 MB spills a big file to disk). Only before this session's first temporary table:
    later it stays what it was."""
    try:
        with transaction.atomic():
            cursor.execute("SET temp_buffers = '256MB'")
    except DatabaseError:
        pass


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _copy_refusal(exc: DatabaseError):
    """What COPY's refusal means: a row with the wrong number of fields (or an empty line), at
    COPY's line (the line after the header is its first), or bytes that are not UTF-8."""
    cause = exc.__cause__ or exc
    code = getattr(cause, "pgcode", None)
    if code in {"22021", "22P05"}:
        return UnreadableFile()
    match = re.search(r"line (\d+)", str(cause))
    return MalformedRow(row=int(match[1]) + 1 if match else 0)
