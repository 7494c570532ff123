"""Benchmark: partner purchases over HTTP (POST /api/v1/purchases/) against gunicorn + PostgreSQL.

What it does, bounded in time and only on 127.0.0.1:

1. PostgreSQL database `loyalty_bench` (server from DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432; BENCH_DATABASE_URL names another database): created if
   missing (`--fresh` drops it first) and migrated.
2. Seeds tiers, an earning rule, the partner "Bench Shop" with a new API key, and N members
   (5,000 by default). Members are a benchmark fixture made with bulk_create (User + Member with
   valid numbers from accounts.services.new_member_number, entry tier, no points), because
   enrolling 5,000 one by one through member_enroll takes much longer and tests nothing here.
   They are reused by later runs.
3. Counts the SQL queries of one purchase in process, for a member of the lowest tier (and with
   --profile, profiles 200).
4. Starts gunicorn (`loyalty.wsgi`, DEBUG=false, throttling off, CONN_MAX_AGE=60, no Redis) on a
   free port, warms up, then for --duration seconds client processes (each several threads with
   its own keep-alive http.client connection) post purchases. Every request has its own
   Idempotency-Key and external_id, and concurrent requests are for distinct members (each
   client thread cycles over its own slice of the members).
5. Prints purchases/s, p50/p99 latency and the count of non-201 answers, the CPU per purchase
   (gunicorn, its PostgreSQL backends, the clients; from /proc) with the ceiling it implies and
   the CPU other processes used meanwhile; stops gunicorn (always, also on Ctrl-C or SIGTERM),
   then runs pgbench's built-in simple-update on the same PostgreSQL server (database
   loyalty_pgbench, `-i -s 10`, then `-c 8 -j 2 -T 30`) and prints its tps and the ratio.
6. Appends a dated section to bench/RESULTS.md (unless --no-results).

`--pgbouncer` routes gunicorn and the in-process Django through a PgBouncer of its own in
transaction mode (bench/_shared.start_pgbouncer), as docker-compose.yml runs the stack.

Usage: `make bench`, or `.venv/bin/python bench/api_earn.py --help`. gunicorn and the load
generators are in bench/_earn_load.py, what the benchmarks share in bench/_shared.py.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from _earn_in_process import count_queries, cpu_in_process, entry_tier_member, profile_in_process
from _earn_load import (
    ServerCpu,
    free_port,
    redis_answers,
    run_load,
    run_load_wrk,
    start_celery_worker,
    start_gunicorn,
    stop_gunicorn,
    wait_until_ready,
)
from _earn_report import format_cpu, format_kinds, parse_server, report_row, server_label
from _production import (
    Receiver,
    describe,
    drained,
    endpoint_off,
    exactly_once,
    production_env,
    receiver_port,
    start_relay,
    tills_and_endpoint,
)
from _shared import (
    DEFAULT_SERVER_URL,
    LOOPBACK,
    ROOT,
    add_common_options,
    append_results,
    database_params,
    database_url,
    django_env,
    ensure_database,
    is_postgres,
    machine,
    migrate,
    parse_known,
    run_pgbench,
    server_version,
    setup_django,
    start_pgbouncer,
    wait_quiet,
)

BENCH_DB = "loyalty_bench"
PARTNER_NAME = "Bench Shop"
RULE_NAME = "Bench: 1 point per euro"
EMAIL_DOMAIN = "bench.invalid"
TARGET_RPS = 300
TARGET_P99_MS = 150
# issue 20: each shape's purchases/s as a share of pgbench simple-update's tps, and its p99 ms
RATIO_TARGETS = {"bare": (0.15, 50), "production": (0.12, 75)}
QUIET = 0.15  # share of the CPU busy before a run above which the figures are not trusted


# --- configuration ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        description="Partner purchases per second over HTTP against gunicorn + PostgreSQL."
    )
    parser.add_argument("--members", type=int, default=5000, help="members to seed (5000)")
    parser.add_argument("--duration", type=float, default=30, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first (3)")
    parser.add_argument(
        "--server",
        action="append",
        metavar="CLASS:WORKERS[xTHREADS]",
        help="gunicorn worker set-up, e.g. sync:5 or gthread:3x4; repeat to compare several "
        f"(default gthread:{cores}x4, as gunicorn.conf.py: the best measured on 2 cores)",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="the load generator: wrk (C; auto picks it when installed, as make bench does) or "
        "python (http.client threads, several times wrk's CPU, taken from the server's cores)",
    )
    parser.add_argument(
        "--clients", type=int, default=2, help="client processes, or wrk's threads (2)"
    )
    parser.add_argument(
        "--client-threads", type=int, default=8, help="connections per client process (8)"
    )
    parser.add_argument("--pgbench-duration", type=int, default=30, help="seconds (30)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument("--profile", action="store_true", help="cProfile 200 purchases in process")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="first post N purchases through loyalty.wsgi in this process, one at a time, and "
        "print the Python and PostgreSQL CPU per purchase (steadier than the load's figures)",
    )
    parser.add_argument(
        "--shape",
        choices=["both", "bare", "shipped", "production"],
        default="both",
        help="bare: no Redis, throttling off (Celery eager); production: as docker-compose.yml "
        "runs it (PgBouncer in transaction mode, Redis for the cache and the broker, the "
        "throttle at its default rate with a key a connection, a Celery worker delivering every "
        "purchase's webhook to a local receiver, JSON logs, an access log; bench/_production.py); "
        "shipped: the same without the bouncer and the webhooks, the throttle at a rate never "
        "reached; both (the default): bare, then production, then pgbench",
    )
    parser.add_argument(
        "--no-lane",
        action="store_true",
        help="serve without the purchase lane (LOYALTY_PURCHASE_LANE=false): DRF's view answers",
    )
    parser.add_argument(
        "--no-prepared",
        action="store_true",
        help="run the hot statements as plain SQL, not prepared (DISABLE_SERVER_SIDE_CURSORS)",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="serve through a PgBouncer of its own in transaction mode (Debian's package, "
        "DATABASE_POOL_MODE=transaction), as docker-compose.yml does; migrations go directly",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each run wait up to this long for the machine to be idle (60; 0: no wait)",
    )
    add_common_options(parser, fresh="drop and recreate the database")
    args = parse_known(parser, argv, name="api_earn")
    args.server = [parse_server(spec) for spec in (args.server or [f"gthread:{cores}x4"])]
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (make bench installs it)")
    if args.members < args.clients * args.client_threads:
        parser.error("need at least one member per client thread")
    return args


def database_urls() -> tuple[str, dict]:
    """The benchmark database URL and its connection parameters (loopback only)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        url = os.environ["BENCH_DATABASE_URL"]
    else:
        server = os.environ.get("DATABASE_URL", "")
        if not is_postgres(server):
            server = DEFAULT_SERVER_URL  # unset, or SQLite: the local PostgreSQL
        url = database_url(server, BENCH_DB)
    if not is_postgres(url):
        raise SystemExit(f"The benchmark needs PostgreSQL, not {urlsplit(url).scheme}.")
    params = database_params(url, default_db=BENCH_DB)
    if params["host"] not in LOOPBACK:
        raise SystemExit(f"The benchmark only talks to 127.0.0.1, not {params['host']}.")
    if not urlsplit(url).path.strip("/"):  # a server without a database: loyalty_bench on it
        url = database_url(url, BENCH_DB)
    return url, params


# Where the shipped shape's gunicorn workers share their Prometheus counts.
SCRATCH = Path(tempfile.gettempdir()) / "bench-api-earn"


def shipped_env(scratch: Path) -> dict[str, str]:
    """What docker-compose.yml adds to the bare shape: Redis (BENCH_REDIS_URL, default database
    2 of the local server) for the cache and the broker, the throttle on (at a rate one key never
    reaches here, so every request counts in Redis and none is refused), JSON logs at INFO, and
    Prometheus's folder shared by gunicorn's workers."""
    folder = scratch / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"),
        "LOYALTY_API_RATE": "100000000/minute",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }


def server_env(
    url: str, *, lane: bool = True, prepared: bool = True, pool_mode: str = ""
) -> dict[str, str]:
    """The environment of gunicorn and of the in-process Django: production-like, local.
    `lane=False` leaves the purchase lane out, `prepared=False` the prepared statements, to
    measure what each buys; `pool_mode` says what pooler `url` goes through."""
    return django_env(
        url,
        DATABASE_PREPARED_STATEMENTS="true" if prepared else "false",
        DATABASE_POOL_MODE=pool_mode,
        LOYALTY_PURCHASE_LANE="true" if lane else "false",
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        LOYALTY_API_RATE="",
        SECURE_SSL_REDIRECT="false",
        CONN_MAX_AGE="60",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )


def pooled_variants(url: str, bouncer) -> dict:
    """Through PgBouncer, the in-process figures of three set-ups in turns: the prepared
    statements as served (prepared where missing, in the query that runs them), plain SQL
    through it, and directly on PostgreSQL, prepared once per connection."""
    from django.db import connection

    config = connection.settings_dict
    direct = str(database_params(url)["port"])

    def set_up(port: str, prepared: bool, pooled: bool):
        def apply():
            connection.close()
            config.update(
                PORT=port, PREPARED_STATEMENTS=prepared, DISABLE_SERVER_SIDE_CURSORS=pooled
            )

        return apply

    pooled = str(bouncer.port)
    return {
        "through PgBouncer, prepared": set_up(pooled, True, True),
        "through PgBouncer, plain SQL": set_up(pooled, False, True),
        "directly, prepared": set_up(direct, True, False),
    }


# --- database -----------------------------------------------------------------------------------


def seed(members: int) -> tuple[str, list[str]]:
    """Tiers, a rule, the partner with a new API key and `members` members; returns the key."""
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Member, Partner, User
    from accounts.services import api_key_create, new_member_number, partner_create
    from loyalty.core.demo import SeedReport, seed_tiers
    from loyalty.core.models import EarningRule

    started = time.monotonic()
    with transaction.atomic():
        tiers = seed_tiers(report=SeedReport())
        entry_tier = min(tiers.values(), key=lambda tier: tier.rank)
        EarningRule.objects.get_or_create(name=RULE_NAME, defaults={"points_per_unit": Decimal(1)})
        partner = Partner.objects.filter(name__iexact=PARTNER_NAME).first() or partner_create(
            name=PARTNER_NAME, currency="EUR"
        )
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        _, raw_key = api_key_create(partner=partner, name=f"bench {stamp}")
    numbers = list(
        Member.objects.filter(user__email__endswith=f"@{EMAIL_DOMAIN}")
        .order_by("pk")
        .values_list("member_number", flat=True)[:members]
    )
    missing = members - len(numbers)
    today = timezone.localdate()
    while missing > 0:
        batch = min(missing, 1000)
        wanted = {new_member_number() for _ in range(batch)}
        taken = set(
            Member.objects.filter(member_number__in=wanted).values_list("member_number", flat=True)
        )
        fresh = sorted(wanted - taken)
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(email=f"bench-{secrets.token_hex(8)}@{EMAIL_DOMAIN}", password="!")
                for _ in fresh
            )
            Member.objects.bulk_create(
                Member(
                    user=user,
                    member_number=number,
                    joined_on=today,
                    language="en",
                    tier=entry_tier,
                    tier_since=today,
                )
                for user, number in zip(users, fresh, strict=True)
            )
        numbers += fresh
        missing -= len(fresh)
    # Fresh statistics, as autovacuum keeps them on a live database (bulk-loaded tables would
    # otherwise be planned as if empty until its next round).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"Seeded in {time.monotonic() - started:.1f} s: {len(numbers)} members, "
        f"partner {PARTNER_NAME!r} with a new API key."
    )
    return raw_key, numbers


def record_results(args, runs, queries: dict, pg_version: str, tps: float | None) -> None:
    best = max(runs, key=lambda run: run[1]["rps"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python bench/api_earn.py", *sys.argv[1:]])
    if os.environ.get("BENCH_DATABASE_URL"):
        command = f"BENCH_DATABASE_URL=…/{database_urls()[1]['dbname']} {command}"
    lines = [
        f"## {stamp}: api_earn",
        "",
        f"- Command: `{command}` (`make bench` runs it with its defaults)",
        f"- Machine: {machine()}; PostgreSQL {pg_version} on the same machine",
        f"- Server: gunicorn, DEBUG=false, CONN_MAX_AGE=60; {args.members} members. Shapes: "
        "bare (throttling off, no Redis, Celery eager, no webhook endpoint); production (as "
        "docker-compose.yml: PgBouncer in transaction mode, kept connections checked before "
        "each request (CONN_HEALTH_CHECKS), Redis for cache and broker, the "
        "throttle at its default rate with a key a connection, a Celery worker, the webhook "
        "relay sending every purchase's event to a local receiver, JSON logs and an access "
        "log, Prometheus's shared folder); shipped (the older middle shape: Redis and a "
        "worker, no bouncer, no webhooks)",
        f"- Load: {load_label(args)}, {args.warmup:g} s warm-up, {args.duration:g} s measured; "
        "every request "
        "a new Idempotency-Key and external_id, concurrent requests for distinct members",
        f"- SQL per purchase: {queries['total']} statements ({format_kinds(queries['kinds'])})",
        "- Other load: the share of the cores that other processes used during the measured "
        "seconds (above a few %, the figures are low). CPU per purchase: CPU time of "
        "the gunicorn processes, the PostgreSQL backends of the benchmark database and the "
        "client processes during the measured seconds ÷ purchases; ceiling/s: the cores ÷ that, "
        "what the machine could do if it ran nothing else (less robust than it looks, but far "
        "less sensitive to other load than purchases/s)",
        "",
        "| shape | gunicorn | connections | purchases/s | p50 ms | p99 ms | non-201 "
        "| other load | CPU per purchase | ceiling/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[report_row(server, load) for server, load in runs],
        "",
    ]
    if tps is not None:
        ratios = "; ".join(
            f"{load.get('shape', 'bare')} {server_label(server)} {load['rps'] / tps:.3f}"
            for server, load in runs
        )
        lines.append(
            f"pgbench simple-update (`-c 8 -j 2 -T {args.pgbench_duration}`, scale 10): "
            f"{tps:.0f} tps; purchases/s ÷ pgbench tps: {ratios}"
        )
    else:
        lines.append("pgbench: not run")
    met = best[1]["rps"] >= TARGET_RPS and best[1]["p99_ms"] < TARGET_P99_MS
    lines += [
        "",
        f"Target (≥ {TARGET_RPS} purchases/s with p99 < {TARGET_P99_MS} ms): "
        + ("met" if met else "missed")
        + f" (best: {server_label(best[0])}).",
    ]
    if tps is not None:  # issue 20's, as a ratio to pgbench in the same run
        for server, load in runs:
            shape = load.get("shape", "bare")
            if shape in RATIO_TARGETS:
                ratio, p99 = RATIO_TARGETS[shape]
                ok = load["rps"] / tps >= ratio and load["p99_ms"] < p99
                lines.append(
                    f"Target {shape} (≥ {ratio} of pgbench with p99 < {p99} ms): "
                    f"{'met' if ok else 'missed'} ({load['rps'] / tps:.3f}, p99 "
                    f"{load['p99_ms']:.1f} ms, {server_label(server)})."
                )
    append_results("\n".join(lines))


def load_label(args) -> str:
    connections = args.clients * args.client_threads
    without = [
        name for name, off in [("lane", args.no_lane), ("prepared", args.no_prepared)] if off
    ]
    variant = f"; without {' and '.join(without)}" if without else ""
    if args.pgbouncer:
        variant += "; through PgBouncer in transaction mode"
    if args.client == "wrk":
        return (
            f"wrk (bench/purchases.lua), {args.clients} threads, {connections} keep-alive "
            f"connections{variant}"
        )
    return (
        f"{args.clients} Python client processes × {args.client_threads} keep-alive "
        f"connections{variant}"
    )


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so gunicorn is always stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    url, params = database_urls()
    print(f"Database {params['dbname']} on {params['host']}:{params['port']}; {machine()}")
    if ensure_database(url, params["dbname"], fresh=args.fresh):
        print(f"Created database {params['dbname']}.")
    env = server_env(url, lane=not args.no_lane, prepared=not args.no_prepared)
    print(f"Migrated in {migrate(env, timeout=600):.1f} s.")
    bouncer = None
    if args.pgbouncer:
        bouncer, pooled_url = start_pgbouncer(url, SCRATCH / "pgbouncer")
        env = server_env(
            pooled_url,
            lane=not args.no_lane,
            prepared=not args.no_prepared,
            pool_mode="transaction",
        )
        print(f"Through PgBouncer in transaction mode on 127.0.0.1:{bouncer.port}.")
    try:
        return measure(args, url, env, bouncer)
    finally:
        if bouncer is not None:
            bouncer.stop()


def measure(args, url: str, env: dict[str, str], bouncer) -> int:
    pooler_pid = bouncer.process.pid if bouncer is not None else None
    if args.no_lane or args.no_prepared:
        left_out = [
            name
            for name, off in [("lane", args.no_lane), ("prepared statements", args.no_prepared)]
            if off
        ]
        print(f"Without: {', '.join(left_out)}.")
    setup_django(env)
    api_key, numbers = seed(args.members)
    queries = count_queries(api_key, entry_tier_member(numbers))
    print(f"SQL per purchase (in process): {queries['total']} ({format_kinds(queries['kinds'])})")
    if args.profile:
        for sql in queries["statements"]:
            print("   ", sql[:160])
        profile_in_process(api_key, numbers)
    if args.in_process:
        variants = pooled_variants(url, bouncer) if bouncer and not args.no_prepared else None
        figures = cpu_in_process(api_key, numbers, args.in_process, pooler_pid, variants)
        print(
            f"In process, {args.in_process} purchases one at a time through loyalty.wsgi"
            + (f", {' / '.join(figures)} in turns" if variants else "")
            + ":"
        )
        for name, (python_ms, postgres_ms, pooler_ms) in figures.items():
            print(
                f"  {name + ': ' if name else ''}{python_ms:.2f} ms of Python + "
                f"{postgres_ms:.2f} ms of PostgreSQL each"
                + (f" + {pooler_ms:.2f} ms of PgBouncer" if pooler_ms else "")
            )
    from django.db import connections

    connections.close_all()
    pg_version = server_version(url)

    runs = []
    shapes = ["bare", "production"] if args.shape == "both" else [args.shape]
    for redis_shape in {"shipped", "production"} & set(shapes):
        if not redis_answers(shipped_env(SCRATCH)["REDIS_URL"]):
            print(f"Redis does not answer (BENCH_REDIS_URL): the {redis_shape} shape is left out.")
            shapes.remove(redis_shape)
    for shape, server in [(shape, server) for shape in shapes for server in args.server]:
        busy = wait_quiet(args.wait_quiet, QUIET)
        if busy > QUIET:
            print(
                f"Warning: the machine is {100 * busy:.0f}% busy before the run; figures are low."
            )
        load = run_shape(args, shape, server, url, env, api_key, numbers, pooler_pid)
        load["busy_before"] = busy
        load["shape"] = shape
        runs.append((server, load))
        print(
            f"  {load['rps']:.1f} purchases/s, p50 {load['p50_ms']:.1f} ms, "
            f"p99 {load['p99_ms']:.1f} ms, max {load['max_ms']:.0f} ms, "
            f"{load['errors']} non-201 of {load['requests']}; CPU busy before {100 * busy:.0f}%"
            + (f" {load['statuses']}" if load["errors"] else "")
        )
        if load["others"] is not None:
            print(f"  other processes used {100 * load['others']:.0f}% of the CPU meanwhile")
        if load["ceiling"]:
            print(
                f"  CPU per purchase: {format_cpu(load['cpu_ms'])}; on {os.cpu_count()} idle "
                f"cores that is a ceiling of {load['ceiling']:.0f} purchases/s"
            )
        for sample in load["samples"]:
            print("   ", sample)
        if load["stuck"]:
            print(f"  {load['stuck']} client threads did not finish in time")

    tps = None if args.no_pgbench else run_pgbench(url, args.pgbench_duration)
    if tps is not None:
        for server, load in runs:
            print(
                f"pgbench simple-update: {tps:.0f} tps; {load['shape']} {server_label(server)}: "
                f"purchases/s ÷ tps = {load['rps'] / tps:.3f}"
            )
    if not args.no_results:
        record_results(args, runs, queries, pg_version, tps)
    failed = any(load["errors"] or load["stuck"] or not load["ok"] for _, load in runs)
    lost = any("outbox" in load and not exactly_once(load["outbox"]) for _, load in runs)
    return 1 if failed or lost else 0


def run_shape(args, shape, server, url, env, api_key, numbers, pooler_pid) -> dict:
    """One shape served and loaded: gunicorn (and for shipped and production a Celery worker;
    for production PgBouncer, a key a connection and a webhook receiver, bench/_production.py)."""
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gunicorn-{port}.log"
    served, keys, bouncer, receiver, endpoint, relay = env, [api_key], None, None, None, None
    if shape == "shipped":
        served = {**env, **shipped_env(SCRATCH)}
    if shape == "production":
        bouncer, pooled_url = start_pgbouncer(url, SCRATCH / "pgbouncer-production")
        pooler_pid = bouncer.process.pid
        served = production_env(env, pooled_url, shipped_env(SCRATCH))
        receiver = Receiver(SCRATCH / "receiver", receiver_port())
        keys, endpoint = tills_and_endpoint(args.clients * args.client_threads, receiver.url)
    extra = ["--access-logfile", "-"] if shape in {"shipped", "production"} else []
    process = start_gunicorn(server, port, served, log_path, extra=extra)
    worker = start_celery_worker(served, log_path) if shape != "bare" else None
    if shape == "production":
        relay = start_relay(served, log_path)
    try:
        wait_until_ready(process, port, keys[0], numbers[0], log_path)
        print(
            f"{shape}: gunicorn {server_label(server)} on 127.0.0.1:{port}; "
            f"{args.warmup:g} s warm-up, {args.duration:g} s measured; {load_label(args)}...",
            flush=True,
        )
        run = run_load_wrk if args.client == "wrk" else run_load
        more = {"worker": worker.pid} if worker is not None else {}
        if relay is not None:
            more["relay"] = relay.pid
        if receiver is not None:
            more["receiver"] = receiver.process.pid
        meter = ServerCpu(process.pid, url, pooler_pid, more)
        load = run(args, port, ",".join(keys), numbers, meter)
        if endpoint is not None:
            load["outbox"] = drained(endpoint, receiver)
            print("  webhooks:", describe(load["outbox"]))
    finally:
        stop_gunicorn(process)
        for helper in (worker, relay):
            if helper is not None:
                stop_gunicorn(helper)
        if endpoint is not None:
            endpoint_off(endpoint)
        if receiver is not None:
            receiver.stop()
        if bouncer is not None:
            bouncer.stop()
    return load


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
