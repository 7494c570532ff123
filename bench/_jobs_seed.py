"""The template database of bench/jobs.py: a million members with a year of history.

seed() creates `loyalty_bench_jobs_seed` and fills it with COPY (what it holds: point 1 of
jobs.py's docstring); seed_info() says whether an earlier run's template can be reused;
check_seed() checks the ledger invariants of a copy; job_env() is the environment of manage.py
on either database. A library module of jobs.py: bench/run.py skips _private modules.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import io
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2
from _shared import (
    admin_execute,
    connect,
    database_url,
    django_env,
    luhn_check_digit,
    migrate,
)
from dateutil.relativedelta import relativedelta

SEED_DB = "loyalty_bench_jobs_seed"
TZ = ZoneInfo("Europe/Vilnius")
SEED_VERSION = "1"
EXPIRY_MONTHS = 12
LANGUAGES = ["en", "lt", "bg", "da", "ru", "pl"]
DELIGHTS = ["greeting"] * 6 + ["discount", "surprise", "donation"]
# code, name, rank, qualifying points, multiplier, discount, bonus base, bonus per year
TIERS = [
    (1, "bronze", "Bronze", 0, 0, "1.00", "0", 50, 10),
    (2, "silver", "Silver", 1, 500, "1.25", "5", 100, 20),
    (3, "gold", "Gold", 2, 1500, "1.50", "10", 200, 50),
]


def seed_info(server: str) -> tuple[int, date] | None:
    try:
        conn = connect(server, SEED_DB)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT members, day, version FROM bench_seed")
            members, day, version = cursor.fetchone()
            return (members, day) if version == SEED_VERSION else None
    except psycopg2.Error:
        return None
    finally:
        conn.close()


def job_env(server: str, name: str, **extra) -> dict:
    """The environment of manage.py on database `name`: DEBUG off, dummy e-mail, no Redis."""
    return django_env(
        database_url(server, name),
        ALLOWED_HOSTS="127.0.0.1",
        EMAIL_URL="dummymail://",
        LOG_LEVEL="WARNING",
        LOYALTY_POINTS_EXPIRY_MONTHS=EXPIRY_MONTHS,
        **extra,
    )


class Copier:
    """Rows for one table, sent with COPY whenever the buffer grows large."""

    def __init__(self, cursor, table: str, columns: str):
        self.cursor, self.table, self.columns = cursor, table, columns
        self.buffer = io.StringIO()
        self.rows = 0

    def add(self, row: str) -> None:
        self.buffer.write(row)
        self.rows += 1
        if self.buffer.tell() > 32 * 1024 * 1024:
            self.flush()

    def flush(self) -> None:
        if self.buffer.tell():
            self.buffer.seek(0)
            self.cursor.copy_expert(f"COPY {self.table} ({self.columns}) FROM STDIN", self.buffer)
            self.buffer = io.StringIO()


def seed(server: str, members: int, day: date) -> float:
    """Create and fill the template database; returns the seconds it took."""
    started = time.monotonic()
    admin_execute(server, f"DROP DATABASE IF EXISTS {SEED_DB}", f"CREATE DATABASE {SEED_DB}")
    print(f"Seeding {members:,} members into {SEED_DB} (day D = {day}) ...", flush=True)
    migrate(job_env(server, SEED_DB))
    conn = connect(server, SEED_DB)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            fill(cursor, members, day)
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute(
                "CREATE TABLE bench_seed (members integer, day date, version text);"
                "INSERT INTO bench_seed VALUES (%s, %s, %s)",
                [members, day, SEED_VERSION],
            )
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cursor:
            print("VACUUM ANALYZE ...", flush=True)
            cursor.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    took = time.monotonic() - started
    print(f"Seeded in {took:.0f} s.", flush=True)
    return took


def fill(cursor, members: int, day: date) -> None:
    rng = random.Random(20260301)
    cursor.execute(
        "SELECT app_label, model, id FROM django_content_type "
        "WHERE (app_label, model) IN (('accounts', 'member'), ('rewards', 'occasiongrant'))"
    )
    content_types = {(app, model): pk for app, model, pk in cursor.fetchall()}
    member_type = content_types["accounts", "member"]
    grant_type = content_types["rewards", "occasiongrant"]
    cursor.execute(
        "INSERT INTO loyalty_tier (id, code, name, rank, qualifying_points, earn_multiplier, "
        "discount_percent, benefits_en, benefits_lt, benefits_bg, benefits_da, benefits_ru, "
        "benefits_pl, anniversary_bonus_base, anniversary_bonus_per_year) VALUES "
        + ", ".join(
            f"({i}, '{code}', '{name}', {rank}, {points}, {mult}, {disc}, "
            f"'', '', '', '', '', '', {base}, {per})"
            for i, code, name, rank, points, mult, disc, base, per in TIERS
        )
    )
    cursor.execute(
        "INSERT INTO accounts_partner (id, name, currency, is_active, created_at) "
        "VALUES (1, 'Bench Shop', 'EUR', true, now())"
    )
    thresholds = [(tier[0], tier[4]) for tier in TIERS]
    bonus = {tier[0]: (tier[7], tier[8]) for tier in TIERS}
    history = [day - timedelta(days=n) for n in range(366)]
    offset = {d: datetime(d.year, d.month, d.day, 12, tzinfo=TZ).strftime("%z") for d in history}
    expires = {d: d + relativedelta(months=EXPIRY_MONTHS) for d in history}
    window = {}  # (month, day) of an anniversary paid on each of the 7 days before D
    for n in range(1, 8):
        d = day - timedelta(days=n)
        window[d.month, d.day] = d
        if (d.month, d.day) == (2, 28) and not _leap(d.year):
            window[2, 29] = d
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S+00")

    def stamp(d: date, minute: int) -> str:
        return f"{d.isoformat()} {minute // 60:02d}:{minute % 60:02d}:00{offset[d]}"

    users = Copier(
        cursor,
        "accounts_user",
        "id, password, is_superuser, email, first_name, last_name, is_staff, is_active, "
        "date_joined, language",
    )
    member_rows = Copier(
        cursor,
        "accounts_member",
        "id, user_id, member_number, joined_on, birthday_month, birthday_day, birthday_year, "
        "birthday_set_on, language, status, status_reason, delight, email_messages, "
        "email_offers, points_balance, tier_id, tier_since, tier_grace_until, created_at",
    )
    purchases = Copier(
        cursor,
        "loyalty_purchase",
        "id, partner_id, external_id, member_id, amount, currency, occurred_at, points_earned, "
        "explanation, created_at",
    )
    entries = Copier(
        cursor,
        "loyalty_ledgerentry",
        "id, member_id, kind, points, balance_after, description, purchase_id, cause_type_id, "
        "cause_id, reason, created_at",
    )
    lots = Copier(
        cursor,
        "loyalty_pointlot",
        "id, member_id, entry_id, points, remaining, earned_at, expires_on",
    )
    movements = Copier(cursor, "loyalty_lotmovement", "id, member_id, entry_id, lot_id, points")
    grants = Copier(
        cursor,
        "rewards_occasiongrant",
        "id, member_id, occasion, period, occasion_date, years, gift, points, "
        "donation_currency, donation_cause, created_at",
    )
    ids = {"purchase": 0, "entry": 0, "lot": 0, "movement": 0, "grant": 0}

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    for i in range(1, members + 1):
        joined = day - timedelta(days=rng.randrange(366, 366 + 3652))
        roll = rng.random()
        status = "closed" if roll < 0.005 else ("paused" if roll < 0.02 else "active")
        # a year of purchases, oldest first: (local day, minute, points)
        count = rng.randint(1, 9)
        bought = sorted(
            (
                (day - timedelta(days=n), rng.randrange(480, 1200), rng.randint(20, 400))
                for n in rng.sample(range(1, 366), count)
            ),
        )
        qualifying = sum(points for d, _m, points in bought if (day - d).days <= 364)
        tier = max(tid for tid, threshold in thresholds if qualifying >= threshold)
        grace = "\\N"
        roll = rng.random()
        if tier < 3 and roll < 0.02:
            tier += 1  # fell below this month (1 %), or already in grace (0.5 % + 0.5 %)
            if roll >= 0.01:
                ended = roll < 0.015
                grace_day = (
                    day - timedelta(days=rng.randint(1, 20))
                    if ended
                    else day + timedelta(days=rng.randint(1, 80))
                )
                grace = grace_day.isoformat()
        events = [(d, minute, "earn", points) for d, minute, points in bought]
        anniversary = window.get((joined.month, joined.day))
        if anniversary is not None and anniversary.year > joined.year and status != "closed":
            years = anniversary.year - joined.year
            base, per_year = bonus[tier]
            events.append((anniversary, 300, "gift", base + per_year * years))
            events.sort()
        balance = 0
        first_lot = None
        for d, minute, kind, points in events:
            at = stamp(d, minute)
            entry = next_id("entry")
            balance += points
            if kind == "earn":
                purchase = next_id("purchase")
                purchases.add(
                    f"{purchase}\t1\tB{purchase}\t{i}\t{points}.00\tEUR\t{at}\t{points}\t[]\t{at}\n"
                )
                entries.add(
                    f"{entry}\t{i}\tearn\t{points}\t{balance}\t\t{purchase}\t\\N\t\\N\t\t{at}\n"
                )
            else:
                grant = next_id("grant")
                grants.add(
                    f"{grant}\t{i}\tanniversary\t{d.year}\t{d.isoformat()}\t{years}\tpoints\t{points}\t\t\t{at}\n"
                )
                entries.add(
                    f"{entry}\t{i}\tgift\t{points}\t{balance}\t"
                    f"Anniversary thank-you: {years} years\t\\N\t{grant_type}\t{grant}\t\t{at}\n"
                )
            lot = next_id("lot")
            lot_row = [lot, entry, points, d, at]
            if first_lot is None:
                first_lot = lot_row
            else:
                lots.add(
                    f"{lot}\t{i}\t{entry}\t{points}\t{points}\t{at}\t{expires[d].isoformat()}\n"
                )
        remaining = first_lot[2]
        if status != "closed" and rng.random() < 0.4:
            spent = rng.randint(1, first_lot[2])
            remaining -= spent
            balance -= spent
            last_day, last_minute = events[-1][0], events[-1][1]
            at = stamp(last_day, last_minute + 30)
            entry = next_id("entry")
            entries.add(
                f"{entry}\t{i}\tspend\t{-spent}\t{balance}\tBench spend\t"
                f"\\N\t{member_type}\t{i}\t\t{at}\n"
            )
            movements.add(f"{next_id('movement')}\t{i}\t{entry}\t{first_lot[0]}\t{-spent}\n")
        lot, entry, points, d, at = first_lot
        lots.add(f"{lot}\t{i}\t{entry}\t{points}\t{remaining}\t{at}\t{expires[d].isoformat()}\n")
        if rng.random() < 0.7:
            birthday = date(2000, 1, 1) + timedelta(days=rng.randrange(366))
            bday = (
                f"{birthday.month}\t{birthday.day}\t{rng.randint(1940, 2005)}\t{joined.isoformat()}"
            )
        else:
            bday = "\\N\t\\N\t\\N\t\\N"
        number = str(10_000_000 + i)
        reason = (
            "Hard times" if status == "paused" else ("Moved away" if status == "closed" else "")
        )
        users.add(f"{i}\t!\tf\tm{i}@bench.invalid\tBench\t{i}\tf\tt\t{now}\t\n")
        member_rows.add(
            f"{i}\t{i}\t{number}{luhn_check_digit(number)}\t{joined.isoformat()}\t{bday}\t"
            f"{rng.choice(LANGUAGES)}\t{status}\t{reason}\t{rng.choice(DELIGHTS)}\tt\tf\t{balance}\t"
            f"{tier}\t{joined.isoformat()}\t{grace}\t{now}\n"
        )
        if i % 100_000 == 0:
            print(f"  {i:,} members", flush=True)
    for copier in (users, member_rows, purchases, entries, lots, movements, grants):
        copier.flush()
    # The expiry notices the daily runs before D sent (expiry dates up to D+29).
    cursor.execute(
        "INSERT INTO notifications_message (member_id, kind, dedupe_key, language, subject, "
        "body, created_at, email_wanted, emailed_at) "
        "SELECT l.member_id, 'points_expiring', 'points_expiring:' || l.expires_on, m.language, "
        "'Points expire', '', now(), true, now() FROM loyalty_pointlot l "
        "JOIN accounts_member m ON m.id = l.member_id "
        "WHERE l.remaining > 0 AND m.status = 'active' AND l.expires_on BETWEEN %s AND %s "
        "GROUP BY l.member_id, l.expires_on, m.language",
        [day + timedelta(days=1), day + timedelta(days=29)],
    )
    for table in (
        "accounts_user",
        "accounts_member",
        "loyalty_purchase",
        "loyalty_ledgerentry",
        "loyalty_pointlot",
        "loyalty_lotmovement",
        "rewards_occasiongrant",
        "accounts_partner",
        "loyalty_tier",
    ):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    print(
        f"  {ids['purchase']:,} purchases, {ids['entry']:,} entries, {ids['lot']:,} lots, "
        f"{ids['movement']:,} lot movements, {ids['grant']:,} anniversary grants",
        flush=True,
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def check_seed(server: str, name: str) -> None:
    """The ledger invariants, set-based: balance == sum of entries == sum of lot remainders."""
    conn = connect(server, name)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM accounts_member m "
                "LEFT JOIN (SELECT member_id, sum(points) AS total FROM loyalty_ledgerentry "
                "GROUP BY member_id) e ON e.member_id = m.id "
                "LEFT JOIN (SELECT member_id, sum(remaining) AS total FROM loyalty_pointlot "
                "GROUP BY member_id) l ON l.member_id = m.id "
                "WHERE m.points_balance <> coalesce(e.total, 0) "
                "OR m.points_balance <> coalesce(l.total, 0)"
            )
            (wrong,) = cursor.fetchone()
    finally:
        conn.close()
    if wrong:
        sys.exit(f"{name}: {wrong} members' balances disagree with their entries or lots.")
    print(f"{name}: every balance equals the sum of its entries and of its lots.", flush=True)
