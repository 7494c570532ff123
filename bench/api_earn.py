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

Usage: `make bench`, or `.venv/bin/python bench/api_earn.py --help`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = "loyalty_bench"
PGBENCH_DB = "loyalty_pgbench"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PARTNER_NAME = "Bench Shop"
RULE_NAME = "Bench: 1 point per euro"
EMAIL_DOMAIN = "bench.invalid"
PURCHASE_PATH = "/api/v1/purchases/"
TARGET_RPS = 300
TARGET_P99_MS = 150
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
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--profile", action="store_true", help="cProfile 200 purchases in process")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="first post N purchases through loyalty.wsgi in this process, one at a time, and "
        "print the Python and PostgreSQL CPU per purchase (steadier than the load's figures)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each run wait up to this long for the machine to be idle (60; 0: no wait)",
    )
    # bench/run.py passes options after -- to every benchmark: ignore the ones for others
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"api_earn ignores {' '.join(unknown)}")
    args.server = [parse_server(spec) for spec in (args.server or [f"gthread:{cores}x4"])]
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    elif args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (make bench installs it)")
    if args.members < args.clients * args.client_threads:
        parser.error("need at least one member per client thread")
    return args


def parse_server(spec: str) -> tuple[str, int, int]:
    match = re.fullmatch(r"(sync|gthread):(\d+)(?:x(\d+))?", spec)
    if not match:
        raise SystemExit(f"--server {spec!r}: write sync:WORKERS or gthread:WORKERSxTHREADS")
    worker_class, workers, threads = match[1], int(match[2]), int(match[3] or 1)
    if worker_class == "sync":
        threads = 1
    return worker_class, workers, threads


def server_label(server: tuple[str, int, int]) -> str:
    worker_class, workers, threads = server
    return f"{worker_class} {workers}" + (f"×{threads}" if worker_class == "gthread" else "")


def database_urls() -> tuple[str, dict]:
    """The benchmark database URL and the server's connection parameters (loopback only)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        url = os.environ["BENCH_DATABASE_URL"]
    else:
        server = os.environ.get("DATABASE_URL", "")
        if not server.startswith(("postgres://", "postgresql://")):
            server = DEFAULT_SERVER_URL  # unset, or SQLite: the local PostgreSQL
        parts = urlsplit(server)
        url = parts._replace(path=f"/{BENCH_DB}", query="").geturl()
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"The benchmark needs PostgreSQL, not {parts.scheme}.")
    host = parts.hostname or "127.0.0.1"
    if host not in LOOPBACK:
        raise SystemExit(f"The benchmark only talks to 127.0.0.1, not {host}.")
    params = {
        "host": host,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")) or BENCH_DB,
    }
    return url, params


# --- database -----------------------------------------------------------------------------------


def ensure_database(params: dict, name: str, *, fresh: bool = False) -> None:
    import psycopg2
    from psycopg2 import sql

    server = {k: v for k, v in params.items() if k != "dbname"}
    connection = psycopg2.connect(dbname="postgres", **server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            if fresh:
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"Created database {name}.")
    finally:
        connection.close()


def server_version(params: dict) -> str:
    import psycopg2

    connection = psycopg2.connect(**params)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def server_env(url: str) -> dict[str, str]:
    """The environment of gunicorn and of the in-process Django: production-like, local."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        DEBUG="false",
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or "bench-" + secrets.token_urlsafe(32),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        LOYALTY_API_RATE="",
        SECURE_SSL_REDIRECT="false",
        CONN_MAX_AGE="60",
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    return env


def migrate(env: dict[str, str]) -> None:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    print(f"Migrated in {time.monotonic() - started:.1f} s.")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(members: int) -> tuple[str, list[str]]:
    """Tiers, a rule, the partner with a new API key and `members` members; returns the key."""
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Member, Partner, User
    from accounts.services import api_key_create, new_member_number, partner_create
    from loyalty.core.models import EarningRule
    from loyalty.demo import SeedReport, seed_tiers

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


def entry_tier_member(numbers: list[str]) -> str:
    """A member of the lowest tier, to count the statements of a typical purchase: members in
    the top tier skip the tier-upgrade query, and reused members climb the tiers run after run."""
    from django.db.models import F

    from accounts.models import Member

    return (
        Member.objects.filter(member_number__in=numbers)
        .order_by(F("tier__rank").asc(nulls_first=True), "points_balance", "pk")
        .values_list("member_number", flat=True)
        .first()
    )


def purchase_body(member_number: str, external_id: str) -> str:
    return json.dumps(
        {
            "member_number": member_number,
            "external_id": external_id,
            "amount": "12.34",
            "currency": "EUR",
        }
    )


def count_queries(api_key: str, member_number: str) -> dict:
    """The SQL of one purchase, in process, with the server's settings."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    external_id = f"q-{secrets.token_hex(6)}"
    # the first request warms caches (URL resolver, content types); count the second
    for attempt in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                PURCHASE_PATH,
                purchase_body(member_number, f"{external_id}-{attempt}"),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"{external_id}-{attempt}",
            )
    if response.status_code != 201:
        raise SystemExit(
            f"A purchase in process answered {response.status_code}: {response.content!r}"
        )
    statements = [query["sql"] for query in captured.captured_queries]
    kinds = Counter(_statement_kind(sql) for sql in statements)
    return {"total": len(statements), "kinds": dict(kinds), "statements": statements}


def _statement_kind(sql: str) -> str:
    words = sql.split(None, 2)
    head = words[0].upper() if words else "?"
    if head in {"SAVEPOINT", "RELEASE", "ROLLBACK"}:
        return "savepoint"
    if head == "SELECT" and "FOR UPDATE" in sql.upper():
        return "select for update"
    if head == "EXECUTE":  # a statement prepared once per connection (loyalty.core.services)
        return "execute (prepared)"
    if head == "WITH":
        return "with (writes)"
    return head.lower()


def profile_in_process(api_key: str, numbers: list[str], requests: int = 200) -> None:
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    run = secrets.token_hex(4)

    def post_many():
        for i in range(requests):
            client.post(
                PURCHASE_PATH,
                purchase_body(numbers[i % len(numbers)], f"p-{run}-{i}"),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"p-{run}-{i}",
            )

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(post_many)
    elapsed = time.perf_counter() - started
    print(
        f"\nIn process: {requests} purchases in {elapsed:.2f} s, "
        f"{1000 * elapsed / requests:.1f} ms each (one thread, profiler on)"
    )
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def cpu_in_process(api_key: str, numbers: list[str], requests: int) -> tuple[float, float]:
    """CPU ms per purchase of this process (the WSGI application, as gunicorn calls it, without
    HTTP) and of its PostgreSQL backend, over `requests` purchases after 50 unmeasured."""
    import io

    from django.db import connection

    from loyalty.wsgi import application

    run = secrets.token_hex(4)

    def post(i: int) -> None:
        ident = f"c-{run}-{i}"
        body = purchase_body(numbers[i % len(numbers)], ident).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PURCHASE_PATH,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
            "HTTP_IDEMPOTENCY_KEY": ident,
        }
        answer = {}
        content = b"".join(application(environ, lambda status, headers: answer.update(s=status)))
        if not answer["s"].startswith("201"):
            raise SystemExit(f"A purchase in process answered {answer['s']}: {content[:300]!r}")

    for i in range(50):
        post(i)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    postgres_before, python_before = process_cpu(backend) or 0.0, time.process_time()
    for i in range(50, 50 + requests):
        post(i)
    python = time.process_time() - python_before
    postgres = (process_cpu(backend) or 0.0) - postgres_before
    return 1000 * python / requests, 1000 * postgres / requests


# --- gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(server, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    worker_class, workers, threads = server
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "loyalty.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", str(threads),
        "--backlog", "2048",
        "--keep-alive", "30",
        "--timeout", "60",
        "--log-level", "warning",
    ]  # fmt: skip
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    log = log_path.open("w")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # gunicorn's own session: master and workers
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def wait_until_ready(process, port: int, api_key: str, member_number: str, log_path: Path):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text()
            raise SystemExit(f"gunicorn stopped (exit {process.returncode}):\n{log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request(
                "GET",
                f"/api/v1/members/{member_number}/",
                headers={"Authorization": f"Api-Key {api_key}"},
            )
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                return
            raise SystemExit(f"gunicorn answered {response.status}: {body[:500]!r}")
        except (
            ConnectionRefusedError,
            ConnectionResetError,
            http.client.RemoteDisconnected,
            TimeoutError,  # workers still starting on a busy machine
        ):
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within 60 s:\n{log_path.read_text()}")


# --- load ---------------------------------------------------------------------------------------


def client_process(
    port: int,
    api_key: str,
    slices: list[list[str]],
    run_id: str,
    measure_from: float,
    stop_at: float,
) -> dict:
    """One client process: a thread per slice of members, each with its own connection."""
    results = [None] * len(slices)

    def worker(index: int, numbers: list[str]) -> None:
        latencies: list[float] = []
        statuses: Counter = Counter()
        samples: list[str] = []
        warm = 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}
        sent = 0
        while True:
            started_wall = time.time()
            if started_wall >= stop_at:
                break
            ident = f"{run_id}-{os.getpid()}-{index}-{sent}"
            body = purchase_body(numbers[sent % len(numbers)], ident)
            sent += 1
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", PURCHASE_PATH, body, {**headers, "Idempotency-Key": ident}
                )
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                status, payload = type(exc).__name__, str(exc).encode()
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            if started_wall < measure_from:
                warm += 1
                continue
            latencies.append(elapsed)
            statuses[status] += 1
            if status != 201 and len(samples) < 3:
                samples.append(f"{status}: {payload[:300]!r}")
        connection.close()
        results[index] = {
            "latencies": latencies,
            "statuses": statuses,
            "samples": samples,
            "warm": warm,
        }

    cpu = {}

    def meter() -> None:
        time.sleep(max(0.0, measure_from - time.time()))
        cpu["from"] = time.process_time()
        time.sleep(max(0.0, stop_at - time.time()))
        cpu["to"] = time.process_time()

    threads = [
        threading.Thread(target=worker, args=(i, numbers), daemon=True)
        for i, numbers in enumerate(slices)
    ]
    threads.append(threading.Thread(target=meter, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.time()) + 60)
    merged = {"latencies": [], "statuses": Counter(), "samples": [], "warm": 0, "stuck": 0}
    merged["cpu"] = cpu.get("to", 0.0) - cpu.get("from", 0.0)
    for result in results:
        if result is None:
            merged["stuck"] += 1
            continue
        merged["latencies"] += result["latencies"]
        merged["statuses"].update(result["statuses"])
        merged["samples"] += result["samples"]
        merged["warm"] += result["warm"]
    return merged


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


class ServerCpu:
    """CPU time used by gunicorn (master and workers) and the PostgreSQL backends serving it."""

    def __init__(self, gunicorn_pid: int, params: dict):
        self.gunicorn_pid = gunicorn_pid
        self.params = params

    def backends(self) -> list[int]:
        import psycopg2

        try:
            connection = psycopg2.connect(**self.params)
        except psycopg2.Error:
            return []
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()

    def snapshot(self) -> dict[str, dict[int, float]]:
        groups = {
            "gunicorn": [self.gunicorn_pid, *children(self.gunicorn_pid)],
            "postgres": self.backends(),
        }
        snapshot = {
            name: {pid: cpu for pid in pids if (cpu := process_cpu(pid)) is not None}
            for name, pids in groups.items()
        }
        snapshot["system"] = {0: system_busy_seconds() or 0.0}
        return snapshot

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per group between two snapshots (processes new since count in full)."""
        return {
            name: sum(cpu - before[name].get(pid, 0.0) for pid, cpu in after[name].items())
            for name in after
        }


def run_load(args, port: int, api_key: str, numbers: list[str], meter: ServerCpu) -> dict:
    connections = args.clients * args.client_threads
    slices = [numbers[i::connections] for i in range(connections)]
    per_process = [
        slices[p * args.client_threads : (p + 1) * args.client_threads] for p in range(args.clients)
    ]
    run_id = secrets.token_hex(4)
    start = time.time() + 1.0  # the processes start first
    measure_from = start + args.warmup
    stop_at = measure_from + args.duration
    snapshots = []

    def take(at: float) -> None:
        time.sleep(max(0.0, at - time.time()))
        snapshots.append(meter.snapshot())

    metering = threading.Thread(target=lambda: (take(measure_from), take(stop_at)), daemon=True)
    metering.start()
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.clients) as pool:
        async_result = pool.starmap_async(
            client_process,
            [(port, api_key, chunk, run_id, measure_from, stop_at) for chunk in per_process],
        )
        outputs = async_result.get(timeout=args.warmup + args.duration + 120)
    latencies = sorted(x for out in outputs for x in out["latencies"])
    statuses = Counter()
    for out in outputs:
        statuses.update(out["statuses"])
    ok = statuses.get(201, 0)
    metering.join(timeout=30)
    cpu = ServerCpu.used(*snapshots) if len(snapshots) == 2 else {}
    system = cpu.pop("system", None)
    cpu["clients"] = sum(out["cpu"] for out in outputs)
    cpu_ms = {name: 1000 * seconds / max(ok, 1) for name, seconds in cpu.items()}
    cores = os.cpu_count() or 1
    # what other processes (other users' work, PostgreSQL's background writers) used meanwhile
    others = None if system is None else max(0.0, system - sum(cpu.values()))
    return {
        "others": None if others is None else others / (cores * args.duration),
        "cpu_ms": cpu_ms,
        "ceiling": cores * 1000 / sum(cpu_ms.values()) if ok and len(cpu_ms) == 3 else None,
        "connections": connections,
        "requests": len(latencies),
        "ok": ok,
        "errors": len(latencies) - ok,
        "statuses": dict(statuses),
        "samples": [s for out in outputs for s in out["samples"]][:5],
        "stuck": sum(out["stuck"] for out in outputs),
        "rps": ok / args.duration,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "max_ms": 1000 * latencies[-1] if latencies else float("nan"),
    }


WRK_SCRIPT = Path(__file__).resolve().parent / "purchases.lua"


def run_load_wrk(args, port: int, api_key: str, numbers: list[str], meter: ServerCpu) -> dict:
    """The same load from wrk (bench/purchases.lua): --clients threads, --clients ×
    --client-threads keep-alive connections. A C load generator takes a fraction of the CPU of
    Python clients, which on a 2-core machine compete with the server for its cores (real tills
    are other machines)."""
    import resource
    import tempfile

    connections = args.clients * args.client_threads
    run_id = secrets.token_hex(4)
    with tempfile.NamedTemporaryFile("w", suffix=".members", delete=False) as members:
        members.write("\n".join(numbers) + "\n")

    def wrk(seconds: float, run: str) -> subprocess.CompletedProcess:
        command = [
            shutil.which("wrk") or "wrk",
            "-t", str(args.clients), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "30s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}",
            "--", members.name, run, api_key, str(args.clients),
        ]  # fmt: skip
        return subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=False
        )

    try:
        if args.warmup > 0:
            wrk(args.warmup, f"{run_id}-warm")
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = meter.snapshot()
        started = time.monotonic()
        completed = wrk(args.duration, run_id)
        elapsed = time.monotonic() - started
        after = meter.snapshot()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(members.name)
    line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    result = json.loads(line.removeprefix("RESULT "))
    seconds = result["duration_us"] / 1e6
    ok = result["requests"] - result["non201"]
    cpu = ServerCpu.used(before, after)
    system = cpu.pop("system", None)
    cpu["clients"] = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    cpu_ms = {name: 1000 * used / max(ok, 1) for name, used in cpu.items()}
    cores = os.cpu_count() or 1
    others = None if system is None else max(0.0, system - sum(cpu.values()))
    statuses = {201: ok}
    if result["non201"]:
        statuses["other"] = result["non201"]
    if result["socket_errors"]:
        statuses["socket errors"] = result["socket_errors"]
    return {
        "others": None if others is None else others / (cores * elapsed),
        "cpu_ms": cpu_ms,
        "ceiling": cores * 1000 / sum(cpu_ms.values()) if ok else None,
        "connections": connections,
        "requests": result["requests"],
        "ok": ok,
        "errors": result["non201"] + result["socket_errors"],
        "statuses": statuses,
        "samples": result["samples"][:5],
        "stuck": 0,
        "rps": ok / seconds,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


# --- pgbench ------------------------------------------------------------------------------------


def run_pgbench(params: dict, duration: int) -> float | None:
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        print("pgbench is not installed (it comes with the PostgreSQL client); skipped.")
        return None
    ensure_database(params, PGBENCH_DB)
    env = {**os.environ, "PGPASSWORD": params["password"]} if params["password"] else None
    conn = ["-h", params["host"], "-p", str(params["port"]), "-U", params["user"]]
    started = time.monotonic()
    subprocess.run(
        [pgbench, "-i", "-q", "-s", "10", *conn, PGBENCH_DB],
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
    )
    print(f"pgbench -i -s 10 in {time.monotonic() - started:.0f} s; running simple-update...")
    result = subprocess.run(
        [pgbench, "-b", "simple-update", "-c", "8", "-j", "2", "-T", str(duration), *conn,
         PGBENCH_DB],
        env=env,
        check=True,
        timeout=duration + 300,
        capture_output=True,
        text=True,
    )  # fmt: skip
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection|excluding)", result.stdout)
    if not match:
        print(result.stdout)
        return None
    return float(match[1])


def system_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def cpu_busy(seconds: float = 2.0) -> float:
    """The share of all cores busy over `seconds` (before a run: other load on the machine)."""

    def sample():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1 - (idle2 - idle1) / max(1, total2 - total1)


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def report_row(server, load: dict) -> str:
    return (
        f"| {server_label(server)} | {load['connections']} | {load['rps']:.0f} | "
        f"{load['p50_ms']:.1f} | {load['p99_ms']:.1f} | {load['errors']} | "
        f"{percent(load['others'])} | {format_cpu(load['cpu_ms'])} | "
        + (f"{load['ceiling']:.0f} |" if load["ceiling"] else "? |")
    )


def append_results(args, runs, queries: dict, pg_version: str, tps: float | None) -> None:
    best = max(runs, key=lambda run: run[1]["rps"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python bench/api_earn.py", *sys.argv[1:]])
    if os.environ.get("BENCH_DATABASE_URL"):
        command = f"BENCH_DATABASE_URL=…/{database_urls()[1]['dbname']} {command}"
    lines = [
        "",
        f"## {stamp}: api_earn",
        "",
        f"- Command: `{command}` (`make bench` runs it with its defaults)",
        f"- Machine: {machine()}; Python {platform.python_version()}; PostgreSQL {pg_version} "
        "on the same machine",
        f"- Server: gunicorn, DEBUG=false, CONN_MAX_AGE=60, throttling off, no Redis "
        f"(Celery eager, no webhook endpoints); {args.members} members",
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
        "| gunicorn | connections | purchases/s | p50 ms | p99 ms | non-201 | other load "
        "| CPU per purchase | ceiling/s |",
        "|---|---|---|---|---|---|---|---|---|",
        *[report_row(server, load) for server, load in runs],
        "",
    ]
    if tps is not None:
        lines.append(
            f"pgbench simple-update (`-c 8 -j 2 -T {args.pgbench_duration}`, scale 10): "
            f"{tps:.0f} tps; best purchases/s ÷ pgbench tps = {best[1]['rps'] / tps:.3f}"
        )
    else:
        lines.append("pgbench: not run")
    met = best[1]["rps"] >= TARGET_RPS and best[1]["p99_ms"] < TARGET_P99_MS
    lines += [
        "",
        f"Target (≥ {TARGET_RPS} purchases/s with p99 < {TARGET_P99_MS} ms): "
        + ("met" if met else "missed")
        + f" (best: {server_label(best[0])}).",
        "",
    ]
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `make bench`; newest last.\n")
    with RESULTS.open("a") as out:
        out.write("\n".join(lines))
    print(f"Appended to {RESULTS.relative_to(ROOT)}.")


def load_label(args) -> str:
    connections = args.clients * args.client_threads
    if args.client == "wrk":
        return (
            f"wrk (bench/purchases.lua), {args.clients} threads, {connections} keep-alive "
            "connections"
        )
    return f"{args.clients} Python client processes × {args.client_threads} keep-alive connections"


def percent(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f}%"


def format_cpu(cpu_ms: dict) -> str:
    parts = " + ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())
    return f"{sum(cpu_ms.values()):.2f} ms ({parts})"


def format_kinds(kinds: dict) -> str:
    ordered = sorted(kinds.items(), key=lambda item: -item[1])
    return ", ".join(f"{count} {kind}" for kind, count in ordered)


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so gunicorn is always stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    url, params = database_urls()
    print(f"Database {params['dbname']} on {params['host']}:{params['port']}; {machine()}")
    ensure_database(params, params["dbname"], fresh=args.fresh)
    env = server_env(url)
    migrate(env)
    setup_django(env)
    api_key, numbers = seed(args.members)
    queries = count_queries(api_key, entry_tier_member(numbers))
    print(f"SQL per purchase (in process): {queries['total']} ({format_kinds(queries['kinds'])})")
    if args.profile:
        for sql in queries["statements"]:
            print("   ", sql[:160])
        profile_in_process(api_key, numbers)
    if args.in_process:
        python_ms, postgres_ms = cpu_in_process(api_key, numbers, args.in_process)
        print(
            f"In process, {args.in_process} purchases one at a time through loyalty.wsgi: "
            f"{python_ms:.2f} ms of Python + {postgres_ms:.2f} ms of PostgreSQL each"
        )
    from django.db import connections

    connections.close_all()
    pg_version = server_version(params)

    runs = []
    for server in args.server:
        busy = cpu_busy()
        waited_until = time.monotonic() + args.wait_quiet
        while busy > QUIET and time.monotonic() < waited_until:
            busy = cpu_busy(5)
        if busy > QUIET:
            print(
                f"Warning: the machine is {100 * busy:.0f}% busy before the run; figures are low."
            )
        port = free_port()
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gunicorn-{port}.log"
        process = start_gunicorn(server, port, env, log_path)
        try:
            wait_until_ready(process, port, api_key, numbers[0], log_path)
            print(
                f"gunicorn {server_label(server)} on 127.0.0.1:{port}; "
                f"{args.warmup:g} s warm-up, {args.duration:g} s measured; {load_label(args)}...",
                flush=True,
            )
            run = run_load_wrk if args.client == "wrk" else run_load
            load = run(args, port, api_key, numbers, ServerCpu(process.pid, params))
        finally:
            stop_gunicorn(process)
        load["busy_before"] = busy
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

    tps = None if args.no_pgbench else run_pgbench(params, args.pgbench_duration)
    best = max(runs, key=lambda run: run[1]["rps"])[1]
    if tps is not None:
        print(f"pgbench simple-update: {tps:.0f} tps; purchases/s ÷ tps = {best['rps'] / tps:.3f}")
    if not args.no_results:
        append_results(args, runs, queries, pg_version, tps)
    failed = any(load["errors"] or load["stuck"] or not load["ok"] for _, load in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
