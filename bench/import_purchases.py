"""Importing a million purchases: `manage.py import_purchases`'s set-based way, timed.

    .venv/bin/python bench/import_purchases.py [--purchases 1000000] [--members 100000]

1. A CSV file of `--purchases` purchases (default 1,000,000) is written once and kept in
   bench/out/ (deterministic: the same file on every run): members drawn from `--members`
   (100,000), times over the last 300 days, amounts 1.00 to 200.00, one purchase in ten of two
   lines (coffee and groceries), one row in a thousand bad (an unknown member number).
2. Database `loyalty_bench_import` on the `DATABASE_URL` server (127.0.0.1 only) is made anew
   and migrated; it gets Bronze/Silver/Gold (a tenth of the members Silver or Gold), the rules
   "1 point per euro", "2 points per euro on coffee" and "Coffee month ×2" (the last 30 days),
   the partner and `--members` members (bulk_create, with the file's member numbers).
3. The import runs in this process as the command runs it (imports.services.import_job_run on
   the file: COPY into a staging table, the checks and the earning in SQL, chunked writes, the
   tier upgrades), timed from start to finish; purchases/s = purchases imported ÷ seconds.
4. The ledger invariants are checked in SQL (every balance = its entries = its lots).
5. pgbench simple-update on the same server (`--pgbench-seconds`, 30) gives the ratio, a figure
   that travels between machines; then a section is appended to RESULTS.md.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _shared import (
    BENCH_DIR,
    DEFAULT_SERVER_URL,
    add_common_options,
    admin_execute,
    append_results,
    cpu_busy,
    database_url,
    django_env,
    is_loopback,
    is_postgres,
    luhn_check_digit,
    machine,
    migrate,
    parse_known,
    process_cpu,
    run_pgbench,
    server_version,
    setup_django,
)

RUN_DB = "loyalty_bench_import"
OUT = BENCH_DIR / "out"
FILE_VERSION = "1"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--pgbench-seconds", type=int, default=30)
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the slowest statements")
    add_common_options(parser, fresh="write the CSV file again")
    return parse_known(parser, argv, name="import_purchases")


def numbers(members: int) -> list[str]:
    """The members' numbers, the same on every run (the file names them)."""
    rng = random.Random(18)
    found: set[str] = set()
    while len(found) < members:
        body = str(rng.randrange(10_000_000, 100_000_000))
        found.add(body + luhn_check_digit(body))
    return sorted(found)


def write_file(path: Path, purchases: int, member_numbers: list[str]) -> int:
    """The CSV file; returns its data rows."""
    rng = random.Random(2026)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    rows = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["member_number", "external_id", "purchased_at", "amount", "sku", "line_amount",
             "category"]
        )  # fmt: skip
        for n in range(purchases):
            number = rng.choice(member_numbers) if rng.random() > 0.001 else "123456789"
            when = (end - timedelta(seconds=rng.randrange(300 * 86400))).isoformat()
            cents = rng.randrange(100, 20001)
            amount = f"{cents // 100}.{cents % 100:02d}"
            external_id = f"B-{n:07d}"
            if rng.random() < 0.1 and cents > 200:
                coffee = rng.randrange(100, cents - 50)
                other = cents - coffee
                for sku, part, category in (("coffee", coffee, "coffee"), ("bag", other, "food")):
                    line = f"{part // 100}.{part % 100:02d}"
                    writer.writerow([number, external_id, when, amount, sku, line, category])
                    rows += 1
            else:
                writer.writerow([number, external_id, when, amount, "", "", ""])
                rows += 1
    tmp.rename(path)
    return rows


def seed(member_numbers: list[str]):
    """Tiers, rules, the partner, a staff user and the members (bulk: a fixture, not what is
    measured)."""
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import Member, Partner, User
    from loyalty.core.models import EarningRule, Tier

    tiers = [
        Tier.objects.create(code="bronze", name="Bronze", rank=0),
        Tier.objects.create(code="silver", name="Silver", rank=1, qualifying_points=5000,
                            earn_multiplier=Decimal("1.25")),
        Tier.objects.create(code="gold", name="Gold", rank=2, qualifying_points=15000,
                            earn_multiplier=Decimal("1.5")),
    ]  # fmt: skip
    today = timezone.localdate()
    EarningRule.objects.create(name="1 point per euro", points_per_unit=1)
    EarningRule.objects.create(name="2 points per euro on coffee", points_per_unit=2,
                               category="coffee")  # fmt: skip
    month = today - timedelta(days=30)
    EarningRule.objects.create(name="Coffee month ×2", points_per_unit=0, multiplier=2,
                               category="coffee", valid_from=month)  # fmt: skip
    partner = Partner.objects.create(name="Bench Import Shop", max_purchase_amount=10000,
                                     max_points_per_purchase=100000)  # fmt: skip
    staff = User.objects.create_user(email="importer@bench.invalid", is_staff=True)
    rng = random.Random(7)
    batch = 5000
    for start in range(0, len(member_numbers), batch):
        chunk = member_numbers[start : start + batch]
        users = User.objects.bulk_create(
            User(email=f"m{number}@bench.invalid", password="!") for number in chunk
        )
        Member.objects.bulk_create(
            Member(
                user=user,
                member_number=number,
                joined_on=today - timedelta(days=400),
                tier=tiers[0] if rng.random() < 0.9 else rng.choice(tiers[1:]),
                tier_since=today,
            )
            for user, number in zip(users, chunk, strict=True)
        )
    return partner, staff


def invariants_hold() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COUNT(*) FROM accounts_member m
            LEFT JOIN (SELECT member_id, SUM(points) s FROM loyalty_ledgerentry GROUP BY 1) e
                ON e.member_id = m.id
            LEFT JOIN (SELECT member_id, SUM(remaining) s FROM loyalty_pointlot GROUP BY 1) l
                ON l.member_id = m.id
            WHERE m.points_balance <> COALESCE(e.s, 0) OR m.points_balance <> COALESCE(l.s, 0)
            """
        )
        return cursor.fetchone()[0] == 0


def main(argv) -> int:
    args = parse_args(argv)
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    server = server or DEFAULT_SERVER_URL
    if not (is_postgres(server) and is_loopback(server)):
        sys.exit(
            f"bench/import_purchases.py only talks to PostgreSQL on 127.0.0.1, not {server!r}."
        )
    member_numbers = numbers(args.members)
    OUT.mkdir(exist_ok=True)
    path = OUT / f"import_purchases_{args.purchases}_{args.members}_v{FILE_VERSION}.csv"
    if args.fresh or not path.exists():
        print(f"Writing {path.relative_to(BENCH_DIR.parent)} ...", flush=True)
        started = time.monotonic()
        rows = write_file(path, args.purchases, member_numbers)
        print(f"  {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
    size_mb = path.stat().st_size / 2**20
    print(f"Database {RUN_DB}: anew, migrated, seeded ...", flush=True)
    admin_execute(server, f"DROP DATABASE IF EXISTS {RUN_DB} WITH (FORCE)",
                  f"CREATE DATABASE {RUN_DB}")  # fmt: skip
    env = django_env(database_url(server, RUN_DB), LOG_LEVEL="WARNING", EMAIL_URL="dummymail://")
    migrate(env)
    setup_django(env)
    from django.db import connection

    from imports.services import import_job_create, import_job_run
    from imports.sources import Source

    started = time.monotonic()
    partner, staff = seed(member_numbers)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded {args.members:,} members in {time.monotonic() - started:.0f} s", flush=True)
    busy = cpu_busy()
    print(f"Importing ({size_mb:.0f} MB; the machine was {busy:.0%} busy) ...", flush=True)
    job = import_job_create(kind="purchases", actor=staff, partner=partner,
                            file_name=path.name, check=False)  # fmt: skip
    statements: dict[str, list[float]] = {}

    def timed(execute, sql, params, many, context):
        began = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:100]
            statements.setdefault(key, []).append(time.monotonic() - began)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    cpu_before = (process_cpu(backend) or 0.0) + (process_cpu(os.getpid()) or 0.0)
    started = time.monotonic()
    if args.profile:
        with connection.execute_wrapper(timed):
            job = import_job_run(job=job, source=Source(path), way="sql")
    else:
        job = import_job_run(job=job, source=Source(path), way="sql")
    seconds = time.monotonic() - started
    cpu = (process_cpu(backend) or 0.0) + (process_cpu(os.getpid()) or 0.0) - cpu_before
    cpu_rate = job.done / cpu if cpu > 0 else float("nan")
    for key, took in sorted(statements.items(), key=lambda item: -sum(item[1]))[:15]:
        print(f"  {sum(took):7.2f} s  {len(took):4d} x  {key}")
    rate = job.done / seconds
    print(
        f"  {job.done:,} purchases imported ({job.bad:,} refused, {job.points:,} points) in "
        f"{seconds:.1f} s: {rate:,.0f} purchases/s; CPU {cpu:.1f} s (PostgreSQL's backend and "
        f"this process): {cpu_rate:,.0f} purchases per CPU second",
        flush=True,
    )
    ok = invariants_hold()
    print(f"Ledger invariants: {'hold' if ok else 'BROKEN'}", flush=True)
    connection.close()
    tps = None if args.no_pgbench else run_pgbench(server, args.pgbench_seconds)
    ratio = f"{rate / tps:.2f}" if tps else "n/a"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"## import_purchases: {job.done:,} purchases from a file ({stamp})",
            "",
            f"- Machine: {machine()}; PostgreSQL {server_version(server)} on 127.0.0.1; "
            f"{busy:.0%} of the CPU busy with other work just before the run.",
            f"- Command: `.venv/bin/python bench/import_purchases.py {' '.join(argv)}`".rstrip()
            + f" ({path.name}: {size_mb:.0f} MB, {job.rows:,} rows, one purchase in ten of two "
            f"lines; {args.members:,} members; set-based way).",
            f"- {job.done:,} purchases imported, {job.bad:,} refused (unknown member), "
            f"{job.points:,} points, in **{seconds:.1f} s: {rate:,.0f} purchases/s** "
            "(COPY, checks, earning, chunked writes of purchases, lines, entries, lots and "
            "balances, tier upgrades: the whole `import_job_run`). Target: 5,000/s.",
            f"- CPU: {cpu:.1f} s of the import's PostgreSQL backend and this process together: "
            f"{cpu_rate:,.0f} purchases per CPU second, the rate on an otherwise idle core (the "
            "import runs on one connection; the wall time above includes waiting for a core).",
            f"- pgbench simple-update: {tps:,.0f} tps; purchases/s ÷ tps = {ratio}."
            if tps
            else "- pgbench: not run.",
            f"- Ledger invariants after the import: {'hold' if ok else 'BROKEN'}.",
        ]
    )
    print(report)
    if not args.no_results:
        append_results(report)
    return 0 if ok and job.done else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
