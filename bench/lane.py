"""Benchmark: the purchase lane alone, with and without it, in one process at the same moments.

The purchase lane (loyalty/core/api/lane.py) answers POST /api/v1/purchases/ without DRF's
dispatch. This VM's speed swings by 20% within minutes, more than the lane is worth, so runs of
the server one after the other cannot tell the two apart. Here one process builds the API's WSGI
handler twice, with the lane and without it (settings.API_MIDDLEWARE, as LOYALTY_PURCHASE_LANE
does), and sends purchases through them in turns, blocks of --block purchases each, the same
members and bodies: a swing hits both alike. It reports the Python and PostgreSQL CPU per
purchase of each (median over the blocks) and what the lane saves of both together.

With --http SECONDS it also serves both over HTTP at once (two gunicorns as bench/api_earn.py
starts them, one with LOYALTY_PURCHASE_LANE=false) and sends wrk's load to one, then the other,
in slices of SECONDS (ABBA order, --slices of each), and reports purchases/s of each slice pair.

Usage: `.venv/bin/python bench/lane.py [--blocks 20] [--block 100] [--http 5 --slices 8]`
(PostgreSQL from DATABASE_URL as bench/api_earn.py, whose database and seed it reuses).
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import api_earn
from _earn_load import (
    PURCHASE_PATH,
    WRK_SCRIPT,
    free_port,
    purchase_body,
    start_gunicorn,
    stop_gunicorn,
    wait_until_ready,
)
from _shared import ensure_database, machine, migrate, parse_known, process_cpu, setup_django

LANE = "loyalty.core.api.lane.PurchaseLaneMiddleware"


def handlers():
    """The API's WSGI handler with the lane (as settings give it) and without it."""
    from django.conf import settings

    from loyalty.base.api.handlers import ApiWSGIHandler

    with_lane = ApiWSGIHandler()
    chain = settings.API_MIDDLEWARE
    settings.API_MIDDLEWARE = [name for name in chain if name != LANE]
    try:
        without_lane = ApiWSGIHandler()
    finally:
        settings.API_MIDDLEWARE = chain
    if LANE not in chain:
        raise SystemExit("The settings leave the lane out (LOYALTY_PURCHASE_LANE=false).")
    return with_lane, without_lane


def poster(api_key: str, numbers: list[str]):
    run = secrets.token_hex(4)
    sequence = iter(range(10**9))

    def post(handler) -> None:
        i = next(sequence)
        ident = f"l-{run}-{i}"
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
        content = b"".join(handler(environ, lambda status, headers: answer.update(s=status)))
        if not answer["s"].startswith("201"):
            raise SystemExit(f"A purchase answered {answer['s']}: {content[:300]!r}")

    return post


def over_http(url: str, api_key: str, numbers: list[str], seconds: float, slices: int) -> None:
    """Both variants served at once; wrk's load on one, then the other, in ABBA slices."""
    cores = os.cpu_count() or 1
    server = ("gthread", cores, 4)
    servers = {}
    logs = Path(tempfile.mkdtemp(prefix="lane-"))
    members = logs / "members"
    members.write_text("\n".join(numbers) + "\n")
    try:
        for name, lane in [("with the lane", True), ("without it", False)]:
            port = free_port()
            log = logs / f"{lane}.log"
            process = start_gunicorn(server, port, api_earn.server_env(url, lane=lane), log)
            servers[name] = (process, port)
            wait_until_ready(process, port, api_key, numbers[0], log)

        def load(port: int, run: str) -> float:
            command = [
                shutil.which("wrk") or "wrk", "-t", "2", "-c", "16", "-d", f"{round(seconds)}s",
                "--timeout", "30s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}",
                "--", str(members), run, api_key, "2",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), "")
            result = json.loads(line.removeprefix("RESULT ") or "{}")
            if done.returncode != 0 or not result or result["non201"]:
                raise SystemExit(f"wrk failed: {done.stderr[-1000:]} {result}")
            return result["requests"] / (result["duration_us"] / 1e6)

        run = secrets.token_hex(4)
        for _process, port in servers.values():  # warm both
            load(port, f"{run}-warm-{port}")
        rates = {name: [] for name in servers}
        names = list(servers)
        for number in range(slices):
            for name in names if number % 2 == 0 else names[::-1]:
                rates[name].append(load(servers[name][1], f"{run}-{number}-{servers[name][1]}"))
        print(f"Over HTTP, {slices} slices of {seconds:g} s each way, in ABBA turns (purchases/s):")
        for name, values in rates.items():
            print(
                f"  {name:<14} median {statistics.median(values):.0f}: "
                + ", ".join(f"{value:.0f}" for value in values)
            )
        gains = [a / b for a, b in zip(rates[names[0]], rates[names[1]], strict=True)]
        print(
            f"  with the lane / without it: median {statistics.median(gains):.3f} "
            f"(range {min(gains):.3f} to {max(gains):.3f})"
        )
    finally:
        for process, _port in servers.values():
            stop_gunicorn(process)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20, help="blocks of each (20)")
    parser.add_argument("--block", type=int, default=100, help="purchases a block (100)")
    parser.add_argument("--members", type=int, default=5000, help="members to seed (5000)")
    parser.add_argument("--http", type=float, default=0, metavar="SECONDS", help="also over HTTP")
    parser.add_argument("--slices", type=int, default=8, help="HTTP slices of each (8)")
    args = parse_known(parser, argv, name="lane")
    url, params = api_earn.database_urls()
    print(f"Database {params['dbname']} on {params['host']}:{params['port']}; {machine()}")
    ensure_database(url, params["dbname"])
    env = api_earn.server_env(url)
    migrate(env, timeout=600)
    setup_django(env)
    api_key, numbers = api_earn.seed(args.members)
    from django.db import connection

    post = poster(api_key, numbers)
    with_lane, without_lane = handlers()
    for handler in (with_lane, without_lane):  # warm both
        for _ in range(50):
            post(handler)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    figures = {"with the lane": ([], []), "without it": ([], [])}
    for number in range(args.blocks):
        order = [("with the lane", with_lane), ("without it", without_lane)]
        for name, handler in order if number % 2 == 0 else order[::-1]:
            postgres, python = process_cpu(backend) or 0.0, time.process_time()
            for _ in range(args.block):
                post(handler)
            figures[name][0].append(1000 * (time.process_time() - python) / args.block)
            figures[name][1].append(1000 * ((process_cpu(backend) or 0.0) - postgres) / args.block)
    print(f"{args.blocks} blocks of {args.block} purchases each way, in turns (median per block):")
    totals = {}
    for name, (python, postgres) in figures.items():
        py, pg = statistics.median(python), statistics.median(postgres)
        totals[name] = py + pg
        print(f"  {name:<14} {py:.2f} ms of Python + {pg:.2f} ms of PostgreSQL = {py + pg:.2f} ms")
    ratios = [
        (wp + wg) / (op + og)
        for wp, wg, op, og in zip(*figures["with the lane"], *figures["without it"], strict=True)
    ]
    saved = 1 - statistics.median(ratios)
    print(
        f"  the lane saves {100 * saved:.0f}% of the CPU per purchase (median of the blocks' "
        f"ratios; range {100 * (1 - max(ratios)):.0f}% to {100 * (1 - min(ratios)):.0f}%), "
        f"so on CPU-bound cores {100 * (1 / (1 - saved) - 1):.0f}% more purchases a second"
    )
    if args.http:
        over_http(url, api_key, numbers, args.http, args.slices)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
