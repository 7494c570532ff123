"""Benchmark: the member pages on the demo data, against the 100 ms target.

What it does, in process and only on 127.0.0.1:

1. A scratch database: by default a SQLite file in a temporary folder (removed afterwards);
   with --postgres the PostgreSQL database `loyalty_bench_pages` on the DATABASE_URL server
   (default postgres://postgres@127.0.0.1:5432), created if missing (--fresh drops it first).
   Then `migrate` and the demo data (loyalty.demo.seed_demo: tiers, rules, the demo member Ona
   with a year of purchases, rewards and a voucher).
2. Production-like settings: DEBUG off (so no query log is kept), no Redis (Celery eager), mail
   to a dummy backend, plain static file storage (nothing is collected).
3. Logs in as the demo member with Django's test Client (the whole middleware stack, views and
   templates; no HTTP server) and requests each member page --warmup times unmeasured, then
   --requests times measured; prints p50, p95 and max per page and the queries of one request.
4. With --extra-purchases N (default 2,000) it then adds N purchases to the demo member's
   history and measures again: the query counts must not change, and the times barely.
5. Appends a dated section to bench/RESULTS.md (unless --no-results).

Usage: `make bench`, or `.venv/bin/python bench/pages.py --help`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from _shared import (
    DEFAULT_SERVER_URL,
    add_common_options,
    append_results,
    database_url,
    django_env,
    ensure_database,
    is_loopback,
    is_postgres,
    machine,
    parse_known,
    setup_django,
)

BENCH_DB = "loyalty_bench_pages"
TARGET_MS = 100


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Member pages on the demo data: p50/p95.")
    parser.add_argument("--requests", type=int, default=100, help="measured requests a page")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests a page")
    parser.add_argument(
        "--extra-purchases",
        type=int,
        default=2000,
        help="purchases added for the second round (0: only the demo data)",
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    add_common_options(parser, fresh="drop the PostgreSQL database first")
    return parse_known(parser, argv)


# --- the database --------------------------------------------------------------------------------


def postgres_url(fresh: bool) -> str:
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER_URL)
    if not (is_postgres(server) and is_loopback(server)):
        sys.exit(f"Refusing to benchmark against {urlsplit(server).hostname!r}: only 127.0.0.1.")
    ensure_database(server, BENCH_DB, fresh=fresh)
    return database_url(server, BENCH_DB)


def configure(args, scratch: Path) -> str:
    """Environment for the settings, before Django starts."""
    sqlite = f"sqlite:///{scratch / 'pages.sqlite3'}"
    url = postgres_url(args.fresh) if args.postgres else sqlite
    setup_django(
        django_env(
            url,
            ALLOWED_HOSTS="testserver,127.0.0.1",
            SECURE_SSL_REDIRECT="false",
            EMAIL_URL="dummymail://",
            MEDIA_ROOT=scratch / "media",
            LOG_LEVEL="WARNING",
        )
    )
    from django.test.utils import override_settings

    # Nothing is collected for a benchmark: serve static URLs without the manifest.
    override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()
    return "PostgreSQL" if args.postgres else "SQLite"


# --- the pages -----------------------------------------------------------------------------------


def seed():
    from django.core.management import call_command

    from loyalty.demo import seed_demo

    call_command("migrate", verbosity=0)
    return seed_demo()


def pages(demo) -> list[tuple[str, str]]:
    from django.urls import reverse

    from notifications.models import Message

    message = Message.objects.filter(member=demo.member).order_by("id").first()
    reward = demo.rewards[0]
    result = [
        ("dashboard", reverse("members:dashboard")),
        ("history", reverse("members:history")),
        ("history, purchases only", reverse("members:history") + "?kind=earn"),
        ("history, page 2", reverse("members:history") + "?page=2"),
        ("rewards", reverse("members:rewards")),
        ("redeem (confirm)", reverse("members:redeem", args=[reward.slug])),
        ("vouchers", reverse("members:vouchers")),
        ("profile", reverse("members:profile")),
        ("inbox", reverse("members:inbox")),
    ]
    if demo.voucher is not None:
        result.append(("voucher (QR)", reverse("members:voucher", args=[demo.voucher.code])))
    if message is not None:
        result.append(("message", reverse("members:message", args=[message.pk])))
    return result


def measure(client, url: str, requests: int, warmup: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = len(captured)  # now: the next request clears the connection's query log
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "max": times[-1],
        "queries": queries,
    }


def add_purchases(demo, count: int) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from loyalty.core.purchases import purchase_record

    start = timezone.now() - timedelta(days=360)
    step = timedelta(days=360) / max(count, 1)
    for i in range(count):
        at = start + i * step
        purchase_record(
            partner=demo.partner,
            member=demo.member,
            external_id=f"BENCH-PAGES-{i:06d}",
            amount=Decimal("12.34"),
            currency=demo.partner.currency,
            lines=[
                {"sku": "LATTE", "amount": "4.34", "category": "coffee"},
                {"sku": "BREAD", "amount": "8.00", "category": "food"},
            ],
            occurred_at=at,
            at=at,
        )


def run_round(label: str, demo, args) -> list[tuple[str, dict]]:
    from django.test import Client

    client = Client()
    client.force_login(demo.member.user)
    rows = []
    print(f"\n{label}")
    print(f"  {'page':<26}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
    for name, url in pages(demo):
        figures = measure(client, url, args.requests, args.warmup)
        rows.append((name, figures))
        flag = "" if figures["p95"] < TARGET_MS else "  over target"
        print(
            f"  {name:<26}{figures['p50']:>8.1f}{figures['p95']:>8.1f}{figures['max']:>8.1f}"
            f"{figures['queries']:>9}{flag}"
        )
    return rows


def record_results(args, engine: str, rounds: list[tuple[str, list]]) -> None:
    worst = max(f["p95"] for _label, rows in rounds for _name, f in rows)
    verdict = "met" if worst < TARGET_MS else "NOT met"
    lines = [
        f"## pages: member pages ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {machine()}, {engine}. Command: `bench/pages.py "
        f"--requests {args.requests} --extra-purchases {args.extra_purchases}"
        f"{' --postgres' if args.postgres else ''}` (Django test Client in process, DEBUG off, "
        "the demo member logged in; no HTTP server in the way).",
        "",
        f"Target: every page p95 under {TARGET_MS} ms: {verdict} (worst p95 {worst:.1f} ms).",
        "",
    ]
    for label, rows in rounds:
        lines += [
            f"{label}:",
            "",
            "| page | p50 ms | p95 ms | max ms | queries |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {name} | {f['p50']:.1f} | {f['p95']:.1f} | {f['max']:.1f} | {f['queries']} |"
            for name, f in rows
        ]
        lines.append("")
    print()
    append_results("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    scratch = Path(tempfile.mkdtemp(prefix="loyalty-bench-pages-"))
    try:
        engine = configure(args, scratch)
        print(f"Seeding the demo data into a scratch {engine} database ...", flush=True)
        demo = seed()
        rounds = [("The demo data", run_round("The demo data", demo, args))]
        if args.extra_purchases:
            print(f"\nAdding {args.extra_purchases} purchases to the demo member ...", flush=True)
            add_purchases(demo, args.extra_purchases)
            demo.member.refresh_from_db()
            label = f"The demo data plus {args.extra_purchases:,} purchases"
            rounds.append((label, run_round(label, demo, args)))
        before, after = rounds[0][1], rounds[-1][1]
        changed = [
            name
            for (name, a), (_name, b) in zip(before, after, strict=True)
            if a["queries"] != b["queries"]
        ]
        if changed:
            print(f"\nQuery counts changed with the history size: {', '.join(changed)}")
        worst = max(f["p95"] for _label, rows in rounds for _name, f in rows)
        print(f"\nWorst p95: {worst:.1f} ms (target {TARGET_MS} ms).")
        if not args.no_results:
            record_results(args, engine, rounds)
        return 1 if changed or worst >= TARGET_MS else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
