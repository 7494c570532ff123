"""Benchmark: the scheduled jobs on a million members with a year of history (PostgreSQL).

What it does, only on 127.0.0.1:

1. Seeds, once, the template database `loyalty_bench_jobs_seed` (server from DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432): `migrate`, then with COPY the tiers (with anniversary
   bonuses), a partner and BENCH_MEMBERS members (1,000,000; `--members`) with their users, and
   a year of history before day D (today): 1 to 9 purchases each (5 on average: ~5,000,000
   purchases, earn entries and point lots, expiring 12 months after they were earned), a spend
   for 40 % of them (entry and lot movement), the anniversary thank-yous of the 7 days before D
   (grants, gift entries and lots) and the expiry notices the daily runs before D sent, as if the
   jobs had been running. 1 % of the members fell below their tier this month, 1 % are in grace
   (half of them past its end), 1.5 % are paused and 0.5 % closed. Every balance equals the sum
   of its entries and of its lots' remainders, and balance_after runs entry by entry: the rows
   are consistent by construction, so foreign-key and append-only triggers are off during the
   COPY (session_replication_role = replica). Then VACUUM ANALYZE. Later runs reuse the template
   when it has the same size (`--fresh` seeds it again).
2. Copies the template into `loyalty_bench_jobs` (CREATE DATABASE ... TEMPLATE), so every run
   starts from the same data, and applies any newer migration.
3. Runs the jobs the way a worker does them, each in its own process (`manage.py run_job NAME
   --date`: the batches one after the other, in process; DEBUG off), and measures the run's own
   time (JobRun finished - started), the process's wall time and its peak RSS (VmHWM from
   /proc). The cards' e-mails are tasks of their own: they are enqueued to a Redis queue of the
   run (BENCH_REDIS_URL, default redis://127.0.0.1:6379/14), counted and dropped, as a worker
   pool would take them; without Redis, or with --eager-email, they are sent in the job's
   process to the dummy e-mail backend, and that time is counted too.
   - anniversary on D: the daily run (~2,700 anniversaries at 1M; the other ~19,000 of the
     catch-up window were paid by the days before);
   - anniversary on D+8: a 7-day catch-up after downtime (~22,000);
   - tier_review on D: every member above the entry tier (~70 %);
   - expiry on D: the daily run over 5,000,000 lots (~14,000 lots due, ~13,000 notices);
   - expiry on D+30, notices off: a 30-day backlog (~400,000 lots).
4. Prints the figures and appends them to bench/RESULTS.md (unless --no-results).

Targets on a 2-core machine: daily anniversary under 10 s, tier review under 120 s, expiry under
120 s, peak memory of the worker process under 300 MB.

Usage: `make bench` (bench/run.py runs every benchmark), `.venv/bin/python bench/jobs.py
--members 100000`, or `BENCH_MEMBERS=100000 .venv/bin/python bench/run.py jobs`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg2
from dateutil.relativedelta import relativedelta

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
SEED_DB = "loyalty_bench_jobs_seed"
RUN_DB = "loyalty_bench_jobs"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
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
TARGETS = {"anniversary_daily": 10, "tier_review": 120, "expiry_daily": 120}
TARGET_RSS_MB = 300
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
# Runs manage.py and reports the process's own peak RSS (VmHWM starts again at exec, unlike
# ru_maxrss, which would count the pages of this big parent process at fork).
PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
def report():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stdout.write('BENCH_PEAK_RSS_KB ' + line.split()[1] + '\\n')
            sys.stdout.flush()
atexit.register(report)
sys.argv = ['manage.py', *sys.argv[1:]]
runpy.run_path('manage.py', run_name='__main__')
"""


# --- configuration -------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--members",
        type=int,
        default=int(os.environ.get("BENCH_MEMBERS", 1_000_000)),
        help="members to seed (BENCH_MEMBERS, default 1,000,000)",
    )
    parser.add_argument("--fresh", action="store_true", help="seed the template again")
    parser.add_argument("--batch-size", type=int, default=1000, help="LOYALTY_JOB_BATCH_SIZE")
    parser.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--only", action="append", help="run only these measurements")
    parser.add_argument(
        "--eager-email",
        action="store_true",
        help="send the cards' e-mails in the job's process (default: enqueue them to Redis)",
    )
    # bench/run.py passes the options after `--` to every benchmark: ignore the others'.
    args, _unknown = parser.parse_known_args(argv)
    return args


def server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    url = url or DEFAULT_SERVER_URL
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"} or parts.hostname not in LOOPBACK:
        sys.exit(f"bench/jobs.py only talks to PostgreSQL on 127.0.0.1, not {url!r}.")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def db_url(server: str, name: str) -> str:
    return f"{server}/{name}"


def connect(server: str, name: str):
    return psycopg2.connect(db_url(server, name))


# --- the template database -----------------------------------------------------------------------


def admin_execute(server: str, *statements: str) -> None:
    conn = connect(server, "postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


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


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def django_env(server: str, name: str, **extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"}
    }
    env.update(
        DATABASE_URL=db_url(server, name),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1",
        EMAIL_URL="dummymail://",
        LOG_LEVEL="WARNING",
        LOYALTY_POINTS_EXPIRY_MONTHS=str(EXPIRY_MONTHS),
        **{key: str(value) for key, value in extra.items()},
    )
    return env


def luhn(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


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
    manage(django_env(server, SEED_DB), "migrate", "--noinput", "-v", "0")
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
    movements = Copier(cursor, "loyalty_lotmovement", "id, entry_id, lot_id, points")
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
            movements.add(f"{next_id('movement')}\t{entry}\t{first_lot[0]}\t{-spent}\n")
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
            f"{i}\t{i}\t{number}{luhn(number)}\t{joined.isoformat()}\t{bday}\t"
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


# --- the runs -----------------------------------------------------------------------------------


def email_queue(eager: bool) -> tuple[str, str] | None:
    """A Redis queue of this run for the e-mail tasks the jobs enqueue (as on a real worker,
    where they are tasks of their own); None: send them in the job's process (eager)."""
    if eager:
        return None
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # no Redis: fall back to eager e-mail, and say so
        print(f"Redis at {url} is not reachable ({exc}); e-mails are sent in process.")
        return None
    return url, f"bench-jobs-{os.getpid()}"


def drain(queue: tuple[str, str] | None) -> int:
    if queue is None:
        return 0
    import redis

    client = redis.Redis.from_url(queue[0])
    count = client.llen(queue[1])
    client.delete(queue[1], f"_kombu.binding.{queue[1]}", f"_kombu.binding_permanent.{queue[1]}")
    return count


def run_job(server: str, name: str, day: date, batch_size: int, queue, **settings) -> dict:
    env = django_env(server, RUN_DB, LOYALTY_JOB_BATCH_SIZE=batch_size, **settings)
    if queue is not None:
        env.update(REDIS_URL=queue[0], CELERY_TASK_DEFAULT_QUEUE=queue[1])
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, "-c", PEAK_RSS_WRAPPER, "run_job", name, "--date", day.isoformat()],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
        wall = time.monotonic() - started
        out.seek(0)
        output = out.read().decode(errors="replace").strip()
    if process.returncode:
        sys.exit(f"run_job {name} --date {day} failed ({process.returncode}):\n{output}")
    lines = output.splitlines()
    peak_kb = next(int(line.split()[1]) for line in lines if line.startswith("BENCH_PEAK_RSS_KB"))
    summary = [line for line in lines if not line.startswith("BENCH_PEAK_RSS_KB")]
    conn = connect(server, RUN_DB)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM finished_at - started_at), considered, paid, skipped, "
                "errors, batches_done, details FROM loyalty_jobrun WHERE name = %s "
                "ORDER BY id DESC LIMIT 1",
                [name],
            )
            seconds, considered, paid, skipped, errors, batches, details = cursor.fetchone()
    finally:
        conn.close()
    return {
        "job": name,
        "day": day,
        "seconds": float(seconds),
        "wall": wall,
        "rss_mb": peak_kb / 1024,
        "emails_enqueued": drain(queue),
        "considered": considered,
        "paid": paid,
        "skipped": skipped,
        "errors": errors,
        "batches": batches,
        "details": details,
        "output": summary[-1] if summary else "",
    }


MEASUREMENTS = [
    # key, label, job, days after D, settings
    ("anniversary_daily", "anniversary, daily run", "anniversary", 0, {}),
    ("anniversary_catchup", "anniversary, 7-day catch-up", "anniversary", 8, {}),
    ("tier_review", "tier review, all members", "tier_review", 0, {}),
    ("expiry_daily", "expiry, daily run", "expiry", 0, {}),
    (
        "expiry_backlog",
        "expiry, 30-day backlog (notices off)",
        "expiry",
        30,
        {"LOYALTY_EXPIRY_NOTICE_DAYS": 0},
    ),
]


def describe(result: dict) -> str:
    details = ", ".join(
        f"{key} {value:,}" for key, value in sorted((result["details"] or {}).items())
    )
    emails = (
        f", {result['emails_enqueued']:,} e-mails enqueued" if result["emails_enqueued"] else ""
    )
    return (
        f"{result['considered']:,} considered, {result['paid']:,} paid/changed, "
        f"{result['skipped']:,} skipped, {result['errors']} errors{emails}"
        + (f" ({details})" if details else "")
    )


def machine() -> str:
    try:
        memory = next(
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory_gb = f"{int(memory) / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration):
        memory_gb = "RAM unknown"
    python = platform.python_version()
    return f"{platform.node()}: {os.cpu_count()} cores, {memory_gb}, Python {python}"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = server_url()
    info = seed_info(server)
    seed_seconds = None
    if args.fresh or info is None or info[0] != args.members:
        seed_seconds = seed(server, args.members, datetime.now(TZ).date())
        info = seed_info(server)
    members, day = info
    print(f"Copying {SEED_DB} into {RUN_DB} ...", flush=True)
    admin_execute(
        server,
        f"DROP DATABASE IF EXISTS {RUN_DB}",
        f"CREATE DATABASE {RUN_DB} TEMPLATE {SEED_DB}",
    )
    manage(django_env(server, RUN_DB), "migrate", "--noinput", "-v", "0")
    if seed_seconds is not None:
        check_seed(server, RUN_DB)
    results = []
    queue = email_queue(args.eager_email)
    for key, label, job, days, settings in MEASUREMENTS:
        if args.only and key not in args.only:
            continue
        print(f"{label} ({job} --date {day + timedelta(days=days)}) ...", flush=True)
        result = run_job(
            server, job, day + timedelta(days=days), args.batch_size, queue, **settings
        )
        result.update(key=key, label=label)
        results.append(result)
        print(
            f"  {result['seconds']:.1f} s (process {result['wall']:.1f} s), "
            f"peak RSS {result['rss_mb']:.0f} MB: {describe(result)}",
            flush=True,
        )
    check_seed(server, RUN_DB)
    command = " ".join([".venv/bin/python bench/jobs.py", *argv])
    report = render(args, command, members, day, seed_seconds, results, queue)
    print(report)
    if not args.no_results:
        with RESULTS.open("a") as out:
            out.write("\n" + report)
        print(f"Appended to {RESULTS.relative_to(ROOT)}.")
    return 0


def render(
    args, command: str, members: int, day: date, seed_seconds, results: list[dict], queue
) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## jobs: scheduled jobs on {members:,} members ({stamp})",
        "",
        f"- Machine: {machine()}; PostgreSQL on 127.0.0.1 (the same machine).",
        f"- Command: `{command}` ({members:,} members, batches of {args.batch_size}; day D = "
        f"{day}; points expire {EXPIRY_MONTHS} months after they are earned).",
        (
            f"- Seeding {members:,} members with a year of history (COPY, then VACUUM "
            f"ANALYZE): {seed_seconds:.0f} s."
            if seed_seconds is not None
            else "- Seeding: the template database of an earlier run was reused."
        ),
        "- Each job ran in its own process, as a worker runs it (`run_job`, batch after batch); "
        "Time is the run's own (JobRun started to finished), Process adds Python and Django "
        "start-up; Peak RSS is that process's VmHWM.",
        (
            "- The cards' e-mails were enqueued to Redis as the tasks of their own they are "
            "(and not sent), as with a real worker pool."
            if queue is not None
            else "- The cards' e-mails were sent in the job's process (eager, dummy backend)."
        ),
        "",
        "| Job | Day | Time | Process | Peak RSS | Target | What it did |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        target = TARGETS.get(r["key"])
        verdict = ""
        if target is not None:
            met = r["seconds"] < target and r["rss_mb"] < TARGET_RSS_MB
            verdict = f"< {target} s, < {TARGET_RSS_MB} MB: {'met' if met else 'MISSED'}"
        else:
            verdict = f"< {TARGET_RSS_MB} MB: {'met' if r['rss_mb'] < TARGET_RSS_MB else 'MISSED'}"
        lines.append(
            f"| {r['label']} | D+{(r['day'] - day).days} | {r['seconds']:.1f} s | "
            f"{r['wall']:.1f} s | {r['rss_mb']:.0f} MB | {verdict} | {describe(r)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
