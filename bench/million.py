"""The member's pages and the partner API's member reads on 1,000,000 members, under earn load.

What a business with a million members sees: while tills post purchases (wrk with
bench/purchases.lua, as api_earn does, on --connections keep-alive connections), members open
their dashboard and history and partners read a member and their ledger. Every read is timed
over real HTTP against gunicorn with the project's gunicorn.conf.py, DEBUG off, Redis for the
cache (and the broker, with a Celery worker running, as docker-compose.yml runs it).

The dataset is bench/_insights_data.py's (1,000,000 members, 20,000,000 ledger entries, built
with COPY once and found by later runs); this benchmark migrates it (new migrations since it was
built), makes an API key for its first partner, and gives --page-members members with the
longest histories among a random sample a password, each logged in on its own keep-alive
connection. The reader loop (one thread, one request at a time, as one person's browser does)
walks those members' dashboard and history and, between them, GET /api/v1/members/{n}/ and its
ledger for members drawn at random from the whole million. The purchases the load writes go to
the same dataset (a few thousand a run: well inside the 1 % its reuse check allows).

Targets (issue 20): dashboard and history p95 under 100 ms, member API p95 under 30 ms.

    .venv/bin/python bench/million.py [--duration 30] [--connections 8] [--no-load]
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from _earn_load import (
    ServerCpu,
    free_port,
    redis_answers,
    run_load_wrk,
    start_celery_worker,
    stop_gunicorn,
)
from _insights_data import bench_env, ensure, server_url
from _production import COMPOSE_SETTINGS
from _shared import (
    BENCH_DIR,
    ROOT,
    add_common_options,
    append_results,
    cpu_busy,
    machine,
    migrate,
    parse_known,
    percentile,
    start_pgbouncer,
)

OUT = BENCH_DIR / "out"
PAGE_TARGET_MS = 100
API_TARGET_MS = 30
PAGES = ("dashboard", "history")
API_READS = ("member", "ledger")
SETUP = """
import json, os, random
from django.db import connection
from accounts.models import Member, Partner, User
from accounts.services import api_key_create
from referrals.services import CODE_ALPHABET, CODE_LENGTH

partner = Partner.objects.order_by("pk").first()
_, raw = api_key_create(partner=partner, name="bench million")
with connection.cursor() as cursor:
    # Every member has a referral code, as enrolment and referrals' migration 0002 give them
    # (the dataset's COPY made none): without one, a member read would write one.
    while True:
        cursor.execute(
            "INSERT INTO referrals_referralcode (member_id, code, created_at)"
            " SELECT m.id, (SELECT string_agg(substr(%s, 1 + floor(random() * length(%s))::int,"
            " 1), '') FROM generate_series(1, %s + 0 * m.id)), now()"
            " FROM accounts_member m WHERE NOT EXISTS"
            " (SELECT 1 FROM referrals_referralcode r WHERE r.member_id = m.id)"
            " ON CONFLICT DO NOTHING",
            [CODE_ALPHABET, CODE_ALPHABET, CODE_LENGTH],
        )
        if not cursor.rowcount:
            break
    cursor.execute(
        "SELECT m.id FROM accounts_member m TABLESAMPLE SYSTEM (1) WHERE m.status = 'active'"
        " LIMIT 20000"
    )
    sample = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT member_id FROM loyalty_ledgerentry WHERE member_id = ANY(%s)"
        " GROUP BY member_id ORDER BY count(*) DESC LIMIT %s",
        [sample, int(os.environ["BENCH_PAGE_MEMBERS"])],
    )
    heavy = [row[0] for row in cursor.fetchall()]
password = os.environ["BENCH_MEMBER_PASSWORD"]
emails = []
for member in Member.objects.filter(pk__in=heavy).select_related("user"):
    member.user.set_password(password)
    member.user.save(update_fields=["password"])
    emails.append(member.user.email)
numbers = list(Member.objects.filter(pk__in=sample).values_list("member_number", flat=True))
random.shuffle(numbers)
print("BENCH_SETUP " + json.dumps({"key": raw, "emails": emails, "numbers": numbers}))
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=5, help="reads before measuring (5 s)")
    parser.add_argument(
        "--connections", type=int, default=8, help="the earn load's connections (8)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="purchases a second the earn load aims at (each connection pausing between "
        "requests); 0, the default: as fast as the server answers, which keeps both cores busy",
    )
    parser.add_argument("--page-members", type=int, default=10, help="members logged in (10)")
    parser.add_argument("--no-load", action="store_true", help="the reads alone, no earn load")
    add_common_options(parser, fresh="build the dataset again")
    return parse_known(parser, argv, name="million")


def production_env(server: str) -> dict[str, str]:
    """docker-compose.yml's settings on the dataset: Redis cache and broker, JSON logs (main
    adds the bouncer and the kept connections once the dataset is migrated)."""
    prometheus = Path(tempfile.gettempdir()) / "bench-million-prometheus"
    prometheus.mkdir(exist_ok=True)
    return bench_env(
        server,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"),
        SECURE_SSL_REDIRECT="false",
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
        PYTHONPATH=str(ROOT),
    )


def set_up(env: dict[str, str], page_members: int) -> tuple[dict, str]:
    password = os.urandom(12).hex()
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SETUP],
        cwd=ROOT,
        env={**env, "BENCH_MEMBER_PASSWORD": password, "BENCH_PAGE_MEMBERS": str(page_members)},
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"BENCH_SETUP (.+)", done.stdout)
    if found is None:
        sys.exit(f"The set-up printed nothing:\n{done.stdout}\n{done.stderr}")
    return json.loads(found[1]), password


class Client:
    """One keep-alive connection that keeps its cookies, as a browser or a till does."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.headers = headers or {}

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def request(self, method: str, path: str, body: str | None = None):
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        began = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # the server closed an idle keep-alive connection: a browser opens a new one
            self.connection.close()
            began = time.perf_counter()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        content = response.read()
        took = (time.perf_counter() - began) * 1000
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, content, took

    def log_in(self, email: str, password: str) -> None:
        status, page, _ = self.get("/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None:
            sys.exit(f"The login page answered {status}: {page[:300]!r}")
        form = {"csrfmiddlewaretoken": token[1].decode(), "username": email, "password": password}
        status, page, _ = self.request("POST", "/login/", urlencode(form))
        if status != 302 or "sessionid" not in self.cookies:
            sys.exit(f"Logging in as {email} answered {status}: {page[:300]!r}")


def wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn stopped:\n{log.read_text()}")
        try:
            if Client(port).get("/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"gunicorn did not answer within 90 s:\n{log.read_text()}")


def logged_in(port: int, setup: dict, password: str) -> list[Client]:
    """The members' browsers, logged in before anything is measured (hashing their passwords
    takes a while)."""
    members = []
    for email in setup["emails"]:
        client = Client(port)
        client.log_in(email, password)
        members.append(client)
    return members


def read_loop(port: int, setup: dict, members: list[Client], measure_from: float, stop_at: float):
    """One reader: a member page, then an API read, in turns, until stop_at."""
    api = Client(port, {"Authorization": f"Api-Key {setup['key']}"})
    times: dict[str, list[float]] = {name: [] for name in PAGES + API_READS}
    failures: list[str] = []
    numbers = setup["numbers"]
    turn = 0
    while time.time() < stop_at:
        member = members[turn % len(members)]
        number = numbers[turn % len(numbers)]
        page = PAGES[turn % len(PAGES)]
        read = API_READS[(turn // 2) % len(API_READS)]
        api_path = f"/api/v1/members/{number}/" + ("ledger/" if read == "ledger" else "")
        for name, client, path in ((page, member, f"/{page}/"), (read, api, api_path)):
            status, body, took = client.get(path)
            if status != 200:
                failures.append(f"{path}: {status} {body[:200]!r}")
            elif time.time() >= measure_from:
                times[name].append(took)
        turn += 1
    return times, failures


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = server_url()
    dataset = ensure(server, fresh=args.fresh)
    env = production_env(server)
    if not redis_answers(env["REDIS_URL"]):
        sys.exit("Redis does not answer (BENCH_REDIS_URL): this benchmark runs the shipped shape.")
    print("migrate (what is new since the dataset was built) ...", flush=True)
    migrate(env)
    setup, password = set_up(env, args.page_members)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    OUT.mkdir(exist_ok=True)
    log = OUT / "million-gunicorn.log"
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    # served as the stack serves it: through PgBouncer in transaction mode, connections kept
    bouncer, pooled_url = start_pgbouncer(dataset.url, OUT / "million-pgbouncer")
    env = {**env, **COMPOSE_SETTINGS}
    env.update(DATABASE_URL=pooled_url, DATABASE_POOL_MODE="transaction")
    web = subprocess.Popen(
        [str(gunicorn), "loyalty.wsgi", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = start_celery_worker(env, log)
    busy = cpu_busy()
    load: dict = {}
    try:
        wait_for(port, web, log)
        members = logged_in(port, setup, password)
        measure_from = time.time() + args.warmup
        stop_at = measure_from + args.duration
        if not args.no_load:
            load_args = argparse.Namespace(
                clients=2,
                client_threads=max(1, args.connections // 2),
                warmup=0,
                duration=args.warmup + args.duration,
                pace_ms=args.connections * 1000 / args.rate if args.rate else None,
            )
            numbers = setup["numbers"][: max(2000, args.connections)]
            meter = ServerCpu(web.pid, dataset.url, bouncer.process.pid)

            def earn() -> None:
                load.update(run_load_wrk(load_args, port, setup["key"], numbers, meter))

            loader = threading.Thread(target=earn, daemon=True)
            loader.start()
        times, failures = read_loop(port, setup, members, measure_from, stop_at)
        if not args.no_load:
            loader.join(timeout=args.duration + 180)
    finally:
        stop_gunicorn(web)
        stop_gunicorn(worker)
        bouncer.stop()
    if failures:
        print("Reads that failed:", *failures[:10], sep="\n  ")
        return 1
    rows = summarise(times)
    section = render(args, dataset, rows, load, busy)
    print(section)
    if not args.no_results:
        append_results(section)
    met = all(row["met"] for row in rows)
    return 0 if met and not load.get("errors") else 1


def summarise(times: dict[str, list[float]]) -> list[dict]:
    rows = []
    for name, values in times.items():
        values.sort()
        target = PAGE_TARGET_MS if name in PAGES else API_TARGET_MS
        p95 = percentile(values, 95)
        rows.append(
            {
                "name": name,
                "requests": len(values),
                "p50": percentile(values, 50),
                "p95": p95,
                "max": values[-1] if values else float("nan"),
                "target": target,
                "met": bool(values) and p95 < target,
            }
        )
    return rows


LABELS = {
    "dashboard": "member dashboard `/dashboard/`",
    "history": "member history `/history/`",
    "member": "`GET /api/v1/members/{n}/`",
    "ledger": "`GET /api/v1/members/{n}/ledger/`",
}


def render(args, dataset, rows: list[dict], load: dict, busy: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## million: member pages and API reads on 1,000,000 members under earn load ({now})",
        "",
        f"- Machine: {machine()}; the cores were {busy:.0%} busy with other work just before.",
        f"- Command: `bench/million.py --duration {args.duration:g} --connections "
        f"{args.connections}{f' --rate {args.rate:g}' if args.rate else ''}"
        f"{' --no-load' if args.no_load else ''}`.",
        f"- Dataset `loyalty_bench_insights`: {dataset.members:,} members, "
        f"{dataset.entries:,} ledger entries (bench/_insights_data.py).",
        "- Served as docker-compose.yml runs it: gunicorn with gunicorn.conf.py, DEBUG off, "
        "PgBouncer in transaction mode with connections kept (CONN_MAX_AGE=60) and checked "
        "(CONN_HEALTH_CHECKS), Redis cache and "
        "broker, a Celery worker, JSON logs; one reader, one request at a time, "
        f"{args.page_members} members logged in, API reads of members drawn from the million.",
    ]
    if load:
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in load["cpu_ms"].items())
        lines.append(
            f"- Earn load meanwhile (wrk, {load['connections']} connections"
            f"{f', paced to aim at {args.rate:g} a second' if args.rate else ', flat out'}): "
            f"{load['rps']:.0f} purchases/s, p50 {load['p50_ms']:.1f} ms, p99 "
            f"{load['p99_ms']:.1f} ms, {load['errors']} non-201; CPU ms a purchase: {cpu}."
        )
    lines += [
        "",
        "| read | requests | p50 ms | p95 ms | max ms | target p95 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        verdict = "met" if row["met"] else "MISSED"
        lines.append(
            f"| {LABELS[row['name']]} | {row['requests']} | {row['p50']:.1f} | "
            f"{row['p95']:.1f} | {row['max']:.1f} | < {row['target']} ms: {verdict} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    random.seed()
    sys.exit(main(sys.argv[1:]))
