"""The dataset of bench/insights.py: 1,000,000 members and 20,000,000 ledger entries.

The nightly insights job reads every member's purchases, and the dashboard what it computed
from them, so both are measured at the issue's size on this machine. Building that takes
minutes, so ensure() builds the database `loyalty_bench_insights` once and later runs find it
(its marker row, written last, and the counts) and skip the load.

What the database holds is bench/_insights_rows.py's (its docstring), after `migrate` and the
tiers Bronze, Silver and Gold (bench/_jobs_seed.py's), four partners (EUR) and four rewards.
How it is loaded, and why so: two processes (one per core) write the rows into a spool folder
(bench/_insights_rows.py), then one transaction truncates the tables and COPYs the files month
by month with FREEZE, which lays the heap out in time order and leaves nothing for VACUUM to
do (the rows are frozen and all-visible, as years-old rows are in production). Secondary
indexes and unique constraints (all but the primary keys) are dropped for the load and made
again from the definitions the migrations left (and compared with them), foreign-key and
append-only triggers are off during the COPY (session_replication_role = replica: the rows are
consistent by construction), and the sequences go on after the largest id. Then ANALYZE, and a
check of the ledger's invariants and of the size.

Also a script: `.venv/bin/python bench/_insights_data.py [--members N] [--fresh]`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from _insights_rows import (
    COLUMNS,
    EXPIRY_MONTHS,
    PARTNERS,
    PROCESSES,
    REWARDS,
    START,
    TABLES,
    TODAY,
    WELCOME_POINTS,
    generate,
)
from _jobs_seed import TIERS
from _shared import (
    DEFAULT_SERVER_URL,
    connect,
    database_url,
    django_env,
    ensure_database,
    is_loopback,
    is_postgres,
    migrate,
)

DB_NAME = "loyalty_bench_insights"
DATA_VERSION = "1"
DEFAULT_MEMBERS = 1_000_000
ENTRIES_PER_MEMBER = 20  # the issue: 20,000,000 entries for 1,000,000 members
FREE_GB_NEEDED = 40  # the database (~20 GB with its indexes and WAL) and the spool (~6 GB)


@dataclass
class Dataset:
    url: str
    members: int
    entries: int
    purchases: int
    load_seconds: float
    loaded_now: bool  # built by this call (False: an earlier run's data was found)


def server_url() -> str:
    """The PostgreSQL server (BENCH_DATABASE_URL, DATABASE_URL or the local default)."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    url = url or DEFAULT_SERVER_URL
    if not (is_postgres(url) and is_loopback(url)):
        sys.exit(f"The insights benchmark only talks to PostgreSQL on 127.0.0.1, not {url!r}.")
    return url


def bench_env(server: str, **extra) -> dict[str, str]:
    """The environment of manage.py (and the worker, gunicorn) on the dataset's database."""
    return django_env(
        database_url(server, DB_NAME),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        EMAIL_URL="dummymail://",
        LOG_LEVEL="WARNING",
        LOYALTY_POINTS_EXPIRY_MONTHS=EXPIRY_MONTHS,
        LOYALTY_WELCOME_POINTS=WELCOME_POINTS,
        **extra,
    )


# --- reuse ----------------------------------------------------------------------------------------


def found(server: str, members: int) -> Dataset | None:
    """An earlier run's dataset of this size and version whose counts still hold, or None."""
    try:
        conn = connect(server, DB_NAME)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT version, members, entries, purchases, load_seconds "
                "FROM bench_insights_dataset"
            )
            version, marked_members, entries, purchases, seconds = cursor.fetchone()
            if version != DATA_VERSION or marked_members != members:
                return None
            cursor.execute("SELECT count(*) FROM accounts_member")
            (counted_members,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM loyalty_ledgerentry")
            (counted_entries,) = cursor.fetchone()
    except (psycopg2.Error, TypeError):  # no marker (a load that did not finish), or no tables
        return None
    finally:
        conn.close()
    if counted_members != members or abs(counted_entries - entries) > entries // 100:
        print(
            f"{DB_NAME}: {counted_members:,} members, {counted_entries:,} entries, not the "
            f"{members:,} and {entries:,} loaded: loading again."
        )
        return None
    url = database_url(server, DB_NAME)
    return Dataset(url, members, counted_entries, purchases, seconds, loaded_now=False)


def ensure(server: str, members: int = DEFAULT_MEMBERS, *, fresh: bool = False) -> Dataset:
    """The dataset of `members` members: found, or built now (`fresh`: built now in any case)."""
    dataset = None if fresh else found(server, members)
    if dataset is not None:
        print(
            f"{DB_NAME}: {dataset.members:,} members and {dataset.entries:,} ledger entries "
            f"from an earlier run (loaded in {dataset.load_seconds:.0f} s); reused."
        )
        return dataset
    return build(server, members)


# --- building -----------------------------------------------------------------------------------


def _check_disk(server: str, spool: Path) -> None:
    """Refuse to start without room for the database and the spool (~26 GB at full size)."""
    conn = connect(server, "postgres")  # the bench's own database may not exist yet
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            (data_dir,) = cursor.fetchone()
    except psycopg2.Error:  # not a superuser: only the spool's disk can be checked
        data_dir = None
    finally:
        conn.close()
    for path in {Path(data_dir) if data_dir and Path(data_dir).exists() else None, spool}:
        if path is None:
            continue
        free_gb = shutil.disk_usage(path).free / 1024**3
        print(f"  {free_gb:.0f} GB free on the disk of {path}")
        if free_gb < FREE_GB_NEEDED:
            sys.exit(f"Fewer than {FREE_GB_NEEDED} GB free there: not loading.")


def build(server: str, members: int) -> Dataset:
    started = time.monotonic()
    spool = Path(tempfile.mkdtemp(prefix="loyalty-bench-insights-", dir=os.environ.get("TMPDIR")))
    try:
        scale = members / DEFAULT_MEMBERS
        print(
            f"Loading {members:,} members and about {ENTRIES_PER_MEMBER * members:,} ledger "
            f"entries into {DB_NAME} (day D = {TODAY}) ...",
            flush=True,
        )
        _check_disk(server, spool)
        ensure_database(server, DB_NAME, fresh=True)
        migrate(bench_env(server))
        stand_ins = _stand_in_defaults(server, "set")
        refs = _base_rows(server)
        print(
            f"  migrated in {time.monotonic() - started:.0f} s; writing the rows "
            f"({PROCESSES} processes) ...",
            flush=True,
        )
        with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
            parts = pool.starmap(
                generate, [(proc, members, str(spool), refs) for proc in range(PROCESSES)]
            )
        counts = sum((Counter(part) for part in parts), Counter())
        print(
            f"  rows written in {time.monotonic() - started:.0f} s: "
            + ", ".join(f"{key} {value:,}" for key, value in sorted(counts.items())),
            flush=True,
        )
        _load(server, spool, started)
        _stand_in_defaults(server, "drop", stand_ins)
        entries = counts["loyalty_ledgerentry"]
        _check(server, members, entries, scale)
        took = time.monotonic() - started
        _mark(server, members, entries, counts["loyalty_purchase"], took)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    print(f"Loaded {DB_NAME} in {took:.0f} s.", flush=True)
    url = database_url(server, DB_NAME)
    return Dataset(url, members, entries, counts["loyalty_purchase"], took, loaded_now=True)


# What a column the rows do not name gets while they load, by its type.
STAND_INS = {
    "character varying": "''",
    "text": "''",
    "boolean": "false",
    "smallint": "0",
    "integer": "0",
    "bigint": "0",
    "numeric": "0",
    "double precision": "0",
    "jsonb": "'{}'",
    "date": "CURRENT_DATE",
    "timestamp with time zone": "now()",
}


def _stand_in_defaults(server: str, action: str, columns: list | None = None) -> list:
    """Columns added since these rows were written (a NOT NULL column without a database
    default, which Django fills in Python) get a stand-in default of their type while the rows
    load ("set"), dropped again after ("drop"), so a new column does not break the benchmark."""
    tables = [*TABLES, "loyalty_tier", "accounts_partner", "rewards_reward"]
    conn = connect(server, DB_NAME)
    try:
        with conn, conn.cursor() as cursor:
            if action == "set":
                cursor.execute(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = ANY(%s) AND is_nullable = 'NO' "
                    "AND column_default IS NULL AND column_name <> 'id'",
                    [tables],
                )
                columns = [row for row in cursor.fetchall() if row[1] not in _named(row[0])]
            for table, column, data_type in columns or []:
                if data_type not in STAND_INS:
                    sys.exit(f"{table}.{column} ({data_type}): no stand-in default for its type.")
                stand_in = STAND_INS[data_type]
                change = f"SET DEFAULT {stand_in}" if action == "set" else "DROP DEFAULT"
                cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" {change}')
    finally:
        conn.close()
    return columns or []


def _named(table: str) -> set[str]:
    """The columns the rows of `table` name (COPY's or the INSERT's)."""
    names = COLUMNS.get(table, "")
    return {name.strip() for name in names.split(",") if name.strip()}


def _base_rows(server: str) -> dict:
    """Tiers, partners and rewards (ids 1..n), and the content types the causes name."""
    now = datetime.now(UTC).isoformat()
    conn = connect(server, DB_NAME)
    try:
        with conn, conn.cursor() as cursor:
            for tid, code, name, rank, points, mult, disc, base, per in TIERS:
                cursor.execute(
                    "INSERT INTO loyalty_tier (id, code, name, rank, qualifying_points, "
                    "earn_multiplier, discount_percent, benefits_en, benefits_lt, benefits_bg, "
                    "benefits_da, benefits_ru, benefits_pl, anniversary_bonus_base, "
                    "anniversary_bonus_per_year) VALUES (%s, %s, %s, %s, %s, %s, %s, '', '', '', "
                    "'', '', '', %s, %s)",
                    [tid, code, name, rank, points, mult, disc, base, per],
                )
            for pid, name in enumerate(PARTNERS, 1):
                cursor.execute(
                    "INSERT INTO accounts_partner (id, name, currency, is_active, created_at, "
                    "max_purchase_amount, max_points_per_purchase, max_points_redeemed_per_day) "
                    "VALUES (%s, %s, 'EUR', true, %s, 10000, 20000, 200000)",
                    [pid, name, START.isoformat()],
                )
            for rid, (slug, name, kind, value, cost) in enumerate(REWARDS, 1):
                cursor.execute(
                    "INSERT INTO rewards_reward (id, name_en, name_lt, name_bg, name_da, name_ru, "
                    "name_pl, description_en, description_lt, description_bg, description_da, "
                    "description_ru, description_pl, slug, image, kind, value, points_cost, "
                    "is_active, voucher_valid_days, return_points_on_expiry, created_at) VALUES "
                    "(%s, %s, '', '', '', '', '', '', '', '', '', '', '', %s, '', %s, %s, %s, "
                    "true, 30, false, %s)",
                    [rid, name, slug, kind, value, cost, now],
                )
            for table in ("loyalty_tier", "accounts_partner", "rewards_reward"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute(
                "SELECT model, id FROM django_content_type WHERE (app_label, model) IN "
                "(('accounts', 'member'), ('loyalty', 'pointlot'), ('rewards', 'redemption'))"
            )
            return dict(cursor.fetchall())
    finally:
        conn.close()


# --- loading ------------------------------------------------------------------------------------


def _secondary(cursor) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """What the migrations made on the loaded tables besides the primary keys: the unique and
    exclusion constraints (table, name, definition) and the other indexes (table, name, SQL)."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'x') ORDER BY 1, 2",
        [TABLES],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indrelid::regclass::text, c.relname, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "ORDER BY 1, 2",
        [TABLES],
    )
    return constraints, cursor.fetchall()


def _load(server: str, spool: Path, started: float) -> None:
    conn = connect(server, DB_NAME)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET synchronous_commit = off")
            constraints, indexes = _secondary(cursor)
            for table, name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for _table, name, _sql in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            cursor.execute("BEGIN")
            cursor.execute("SET LOCAL session_replication_role = replica")
            # FREEZE needs the tables truncated in this transaction; they are empty, and so are
            # the tables that refer to them (the database was migrated just now).
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
            for table in TABLES:
                for path in sorted(spool.glob(f"{table}.*")):  # month by month, in time order
                    with path.open() as rows:
                        cursor.copy_expert(
                            f"COPY {table} ({COLUMNS[table]}) FROM STDIN WITH (FREEZE)", rows
                        )
                    path.unlink()
                print(f"  {table} copied at {time.monotonic() - started:.0f} s", flush=True)
            cursor.execute("COMMIT")
            for table, name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _table, _name, sql in indexes:
                cursor.execute(sql)
            if _secondary(cursor) != (constraints, indexes):
                raise RuntimeError("The indexes made again differ from the migrations' ones.")
            print(
                f"  {len(constraints)} unique constraints and {len(indexes)} indexes made "
                f"again at {time.monotonic() - started:.0f} s",
                flush=True,
            )
            for table in TABLES:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            cursor.execute("ANALYZE")
            print(f"  analyzed at {time.monotonic() - started:.0f} s", flush=True)
    finally:
        conn.close()


def _check(server: str, members: int, entries: int, scale: float) -> None:
    """The ledger's invariants, set-based, and the size the issue asks for."""
    conn = connect(server, DB_NAME)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET work_mem = '256MB'")
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
            cursor.execute(
                "SELECT count(*) FROM accounts_member m JOIN (SELECT DISTINCT ON (member_id) "
                "member_id, balance_after FROM loyalty_ledgerentry "
                "ORDER BY member_id, created_at DESC, id DESC) e ON e.member_id = m.id "
                "WHERE e.balance_after <> m.points_balance"
            )
            (wrong_after,) = cursor.fetchone()
    finally:
        conn.close()
    if wrong or wrong_after:
        sys.exit(
            f"{DB_NAME}: {wrong} balances disagree with their entries or lots, "
            f"{wrong_after} with their last entry's balance_after."
        )
    print(
        "  every balance equals the sum of its entries, of its lots' remainders and its last "
        "balance_after",
        flush=True,
    )
    target = ENTRIES_PER_MEMBER * members
    if abs(entries - target) > target / 100:
        message = f"{entries:,} ledger entries, not {target:,} ± 1 %"
        if scale >= 1:
            sys.exit(message + ": the generator's rhythm needs tuning.")
        print(f"  {message} (at this size chance moves it more)")


def _mark(server: str, members: int, entries: int, purchases: int, seconds: float) -> None:
    """The marker a later run looks for: written last, so a load that stopped half-way is
    loaded again."""
    conn = connect(server, DB_NAME)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_insights_dataset (version text, members integer, "
                "entries bigint, purchases bigint, today date, load_seconds double precision, "
                "loaded_at timestamptz DEFAULT now())"
            )
            cursor.execute(
                "INSERT INTO bench_insights_dataset (version, members, entries, purchases, "
                "today, load_seconds) VALUES (%s, %s, %s, %s, %s, %s)",
                [DATA_VERSION, members, entries, purchases, TODAY, seconds],
            )
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--fresh", action="store_true", help="load again even if found")
    args = parser.parse_args(argv)
    ensure(server_url(), args.members, fresh=args.fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
