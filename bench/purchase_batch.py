"""Benchmark: purchases in batches (POST /api/v1/purchases/batch/) against single purchases.

A till catching up after being offline sends up to 1,000 purchases in one request: one
authentication, one Idempotency-Key, one transaction, two statements a purchase. This measures
what that buys, over real HTTP against one gunicorn (bench/api_earn.py's bare shape: DEBUG off,
no throttling, no Redis, CONN_MAX_AGE=60), on api_earn's database and members (`loyalty_bench`,
seeded as api_earn seeds it; BENCH_DATABASE_URL names another):

1. Single purchases for --duration seconds after --warmup, with api_earn's load (wrk when
   installed, else Python client processes: --clients × --client-threads connections, each a
   new Idempotency-Key and external_id per request, concurrent requests for distinct members).
2. Batches for as long: --batch-clients threads of this process, each with its own keep-alive
   connection and its own slice of the members (so two batches never wait for each other's
   buyers), post batches of --batch-size purchases (a new key and new purchase ids each) one after
   the other. purchases/s = purchases recorded (201 results) ÷ the seconds from the first batch
   sent to the last answered.
3. Both in turns, --rounds times (single, batch; then batch, single; ...), each after the machine
   has been quiet for 2 s (--wait-quiet), so a swing of this shared VM's speed hits both alike.
   Each measurement also has the CPU a purchase took (gunicorn, its PostgreSQL backends and the
   clients, from /proc) and the share of the cores other processes used meanwhile.
4. Stops gunicorn (always, also on Ctrl-C or SIGTERM), runs pgbench's simple-update on the same
   server (as api_earn does), prints each figure as a ratio to its tps, and appends a section to
   RESULTS.md (unless --no-results).

First, in process (--in-process ROUNDS, 3), the CPU a purchase takes in Python and in
PostgreSQL, single purchases and a batch in turns through loyalty.wsgi: on a busy machine the
steadier figure, as it counts only the CPU of this process and its backend.

Usage: `make bench` (runs every benchmark), `.venv/bin/python bench/run.py purchase_batch`, or
`.venv/bin/python bench/purchase_batch.py --help`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import api_earn
from _earn_load import (
    PURCHASE_PATH,
    ServerCpu,
    free_port,
    purchase_body,
    run_load,
    run_load_wrk,
    start_gunicorn,
    stop_gunicorn,
    wait_until_ready,
)
from _shared import (
    add_common_options,
    append_results,
    ensure_database,
    machine,
    migrate,
    parse_known,
    percentile,
    process_cpu,
    run_pgbench,
    server_version,
    setup_django,
    wait_quiet,
)

BATCH_PATH = "/api/v1/purchases/batch/"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000, help="members to seed (5000)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of each load (20)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first (3)")
    parser.add_argument("--rounds", type=int, default=2, help="single+batch pairs (2)")
    parser.add_argument("--batch-size", type=int, default=1000, help="purchases a batch (1000)")
    parser.add_argument("--batch-clients", type=int, default=4, help="batches at once (4)")
    parser.add_argument("--clients", type=int, default=2, help="single: client processes (2)")
    parser.add_argument(
        "--client-threads", type=int, default=8, help="single: connections per process (8)"
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=3,
        metavar="ROUNDS",
        help="first measure the CPU a purchase in process: ROUNDS turns of 200 single purchases "
        "and one batch (3; 0: not)",
    )
    parser.add_argument("--pgbench-duration", type=int, default=30, help="seconds (30)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each load wait up to this long for the machine to be idle (60; 0: no wait)",
    )
    add_common_options(parser, fresh="drop and recreate api_earn's database")
    args = parse_known(parser, argv, name="purchase_batch")
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size is 1 to 1000 (the endpoint's limit)")
    args.client = "wrk" if shutil.which("wrk") else "python"
    return args


# --- the batches --------------------------------------------------------------------------------


def batch_body(numbers: list[str], start: int, size: int, run: str) -> str:
    """A batch of the purchases api_earn posts one by one (12.34 EUR each), new ids."""
    purchases = [
        json.loads(purchase_body(numbers[(start + i) % len(numbers)], f"{run}-{i}"))
        for i in range(size)
    ]
    return json.dumps({"purchases": purchases})


def run_batches(args, port: int, api_key: str, numbers: list[str], meter: ServerCpu) -> dict:
    """--batch-clients threads: each warms up with a batch of 10, then, all at once, posts
    batches one after the other for --duration seconds (a batch begun in time is counted).
    purchases/s = the purchases recorded ÷ the seconds from the start to the last answer."""
    run = secrets.token_hex(4)
    slices = [numbers[i :: args.batch_clients] for i in range(args.batch_clients)]
    results = [None] * args.batch_clients
    window: dict[str, float] = {}

    def begin() -> None:  # (the barrier's action: once, when every client is warm)
        window["start"] = time.monotonic()
        window["stop"] = window["start"] + args.duration

    warm = threading.Barrier(args.batch_clients + 1, action=begin)

    def client(index: int, members: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}

        def post(ident: str, start: int, size: int) -> tuple[int, bytes]:
            body = batch_body(members, start, size, ident)
            connection.request("POST", BATCH_PATH, body, {**headers, "Idempotency-Key": ident})
            response = connection.getresponse()
            return response.status, response.read()

        try:
            post(f"w-{run}-{index}", len(members) // 2, 10)
        finally:
            warm.wait()
        recorded, latencies, errors, last_done, sent = 0, [], [], window["start"], 0
        while (began := time.monotonic()) < window["stop"]:
            status, payload = post(
                f"b-{run}-{index}-{sent}", sent * args.batch_size, args.batch_size
            )
            sent += 1
            last_done = time.monotonic()
            answer = json.loads(payload) if status == 200 else {}
            if answer.get("recorded") != args.batch_size and len(errors) < 3:
                errors.append(f"{status}: {payload[:300]!r}")
            recorded += answer.get("recorded", 0)
            latencies.append(last_done - began)
        connection.close()
        results[index] = {
            "recorded": recorded,
            "latencies": latencies,
            "errors": errors,
            "end": last_done,
        }

    threads = [
        threading.Thread(target=client, args=(i, members), daemon=True)
        for i, members in enumerate(slices)
    ]
    for thread in threads:
        thread.start()
    warm.wait()
    before, cpu_before = meter.snapshot(), time.process_time()
    for thread in threads:
        thread.join(timeout=args.duration + 900)
    after, cpu_after = meter.snapshot(), time.process_time()
    finished = [result for result in results if result is not None]
    recorded = sum(result["recorded"] for result in finished)
    seconds = max([result["end"] for result in finished] + [window["stop"]]) - window["start"]
    cpu = ServerCpu.used(before, after)
    system = cpu.pop("system", None)
    cpu["clients"] = cpu_after - cpu_before
    cores = os.cpu_count() or 1
    others = None if system is None else max(0.0, system - sum(cpu.values()))
    latencies = sorted(x for result in finished for x in result["latencies"])
    return {
        "rps": recorded / seconds,
        "purchases": recorded,
        "batches": len(latencies),
        "p50_ms": 1000 * percentile(latencies, 50),
        "max_ms": 1000 * latencies[-1] if latencies else float("nan"),
        "cpu_ms": {name: 1000 * used / max(recorded, 1) for name, used in cpu.items()},
        "others": None if others is None else others / (cores * seconds),
        "errors": [error for result in finished for error in result["errors"]],
        "stuck": len(results) - len(finished),
    }


def in_process(api_key: str, numbers: list[str], rounds: int, size: int) -> dict:
    """CPU ms a purchase of this process (loyalty.wsgi without HTTP, as gunicorn calls it) and
    of its PostgreSQL backend: `rounds` turns of 200 single purchases and one batch of `size`,
    after one of each unmeasured. Steadier than the loads' figures on a busy machine: it counts
    the CPU of these two processes alone."""
    import io

    from django.db import connection

    from loyalty.wsgi import application

    run = secrets.token_hex(4)

    def request(path: str, body: str, ident: str):
        data = body.encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
            "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
            "HTTP_IDEMPOTENCY_KEY": ident,
        }  # fmt: skip
        return path, environ

    def send(requests: list, expect: str) -> None:
        answer = {}

        def start_response(status, headers):
            answer["s"] = status

        for path, environ in requests:
            content = b"".join(application(environ, start_response))
            if not answer["s"].startswith(expect):
                raise SystemExit(f"{path} answered {answer['s']}: {content[:300]!r}")

    def singles(block: int) -> tuple[list, str, int]:
        idents = [f"i-{run}-{block}-{i}" for i in range(200)]
        bodies = [purchase_body(numbers[i % len(numbers)], x) for i, x in enumerate(idents)]
        return (
            [request(PURCHASE_PATH, b, x) for b, x in zip(bodies, idents, strict=True)],
            "201",
            200,
        )

    def batch(block: int) -> tuple[list, str, int]:
        ident = f"ib-{run}-{block}"
        body = batch_body(numbers, block * size, size, ident)
        return [request(BATCH_PATH, body, ident)], "200", size

    kinds = {"single": singles, "batch": batch}
    for kind in kinds.values():  # warm both
        send(*kind(-1)[:2])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    figures: dict[str, list[tuple[float, float]]] = {"single": [], "batch": []}
    for number in range(rounds):
        order = list(kinds) if number % 2 == 0 else list(kinds)[::-1]
        for name in order:
            requests, expect, purchases = kinds[name](number)
            postgres, python = process_cpu(backend) or 0.0, time.process_time()
            send(requests, expect)
            python = 1000 * (time.process_time() - python) / purchases
            postgres = 1000 * ((process_cpu(backend) or 0.0) - postgres) / purchases
            figures[name].append((python, postgres))
    return figures


def run_singles(args, port: int, api_key: str, numbers: list[str], meter: ServerCpu) -> dict:
    load = SimpleNamespace(
        clients=args.clients,
        client_threads=args.client_threads,
        warmup=args.warmup,
        duration=args.duration,
    )
    run = run_load_wrk if args.client == "wrk" else run_load
    result = run(load, port, api_key, numbers, meter)
    result["errors"] = result["samples"] if result["errors"] else []
    return result


# --- report -------------------------------------------------------------------------------------


def cpu_text(cpu_ms: dict) -> str:
    parts = " + ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())
    return f"{sum(cpu_ms.values()):.2f} ms ({parts})"


def share(value) -> str:
    return "?" if value is None else f"{100 * value:.0f}%"


def in_process_text(cpu: dict) -> dict[str, str]:
    """Per kind: each round's Python + PostgreSQL ms a purchase, and their median sum."""
    return {
        kind: ", ".join(f"{py:.2f} + {pg:.2f}" for py, pg in rounds)
        + f" ms (median {statistics.median(py + pg for py, pg in rounds):.2f} ms)"
        for kind, rounds in cpu.items()
    }


def record(args, figures: dict, cpu: dict, tps: float | None, pg_version: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python bench/purchase_batch.py", *sys.argv[1:]])
    single_load = (
        f"wrk, {args.clients} threads"
        if args.client == "wrk"
        else f"{args.clients} Python client processes"
    ) + f", {args.clients * args.client_threads} keep-alive connections"
    lines = [
        f"## {stamp}: purchase_batch",
        "",
        f"- Command: `{command}` (`make bench` runs it with its defaults)",
        f"- Machine: {machine()}; PostgreSQL {pg_version} on the same machine",
        f"- Server: gunicorn gthread {os.cpu_count()}×4, bare shape (as api_earn), "
        f"{args.members} members",
        f"- Single: POST /api/v1/purchases/, {single_load}. Batch: POST {BATCH_PATH}, "
        f"{args.batch_clients} connections each posting batches of {args.batch_size}, for "
        "distinct members. In turns, "
        f"{args.rounds} rounds of {args.duration:g} s each after {args.warmup:g} s of warm-up",
        "- CPU per purchase: gunicorn + its PostgreSQL backends + the clients, ÷ purchases; "
        "other load: the share of the cores other processes used meanwhile",
        "",
        "| round | kind | purchases/s | ratio to pgbench | CPU per purchase | other load |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("single", "batch"):
        for number, load in enumerate(figures[kind], start=1):
            ratio = f"{load['rps'] / tps:.3f}" if tps else "?"
            lines.append(
                f"| {number} | {kind} | {load['rps']:.0f} | {ratio} | {cpu_text(load['cpu_ms'])} "
                f"| {share(load['others'])} |"
            )
    single = statistics.median(load["rps"] for load in figures["single"])
    batch = statistics.median(load["rps"] for load in figures["batch"])
    lines.append("")
    if tps:
        lines.append(
            f"pgbench simple-update (`-c 8 -j 2 -T {args.pgbench_duration}`, scale 10): "
            f"{tps:.0f} tps; medians ÷ tps: single {single / tps:.3f}, batch {batch / tps:.3f}"
        )
    else:
        lines.append("pgbench: not run")
    lines += ["", f"Batch ÷ single (medians): {batch / single:.1f}×"]
    if cpu:
        texts = in_process_text(cpu)
        medians = {k: statistics.median(py + pg for py, pg in v) for k, v in cpu.items()}
        lines += [
            "",
            f"In process (loyalty.wsgi without HTTP, {args.in_process} rounds in turns of 200 "
            f"single purchases and a batch of {args.batch_size}), Python + PostgreSQL CPU a "
            f"purchase: single {texts['single']}; batch {texts['batch']}; "
            f"single ÷ batch {medians['single'] / medians['batch']:.1f}×",
        ]
    append_results("\n".join(lines))


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    url, params = api_earn.database_urls()
    print(f"Database {params['dbname']} on {params['host']}:{params['port']}; {machine()}")
    if ensure_database(url, params["dbname"], fresh=args.fresh):
        print(f"Created database {params['dbname']}.")
    env = api_earn.server_env(url)
    print(f"Migrated in {migrate(env, timeout=600):.1f} s.")
    setup_django(env)
    api_key, numbers = api_earn.seed(args.members)
    if len(numbers) < args.batch_clients * args.batch_size:
        print("Note: fewer members than a batch holds; a batch names some members twice.")
    cpu = {}
    if args.in_process:
        cpu = in_process(api_key, numbers, args.in_process, args.batch_size)
        print(f"In process, CPU a purchase (Python + PostgreSQL, {args.in_process} rounds):")
        for kind, text in in_process_text(cpu).items():
            print(f"  {kind}: {text}")
    from django.db import connections

    connections.close_all()
    pg_version = server_version(url)
    server = ("gthread", os.cpu_count() or 1, 4)
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-batch-gunicorn-{port}.log"
    process = start_gunicorn(server, port, env, log_path)
    figures: dict[str, list[dict]] = {"single": [], "batch": []}
    loads = {"single": run_singles, "batch": run_batches}
    try:
        wait_until_ready(process, port, api_key, numbers[0], log_path)
        for number in range(args.rounds):
            order = ["single", "batch"] if number % 2 == 0 else ["batch", "single"]
            for kind in order:
                busy = wait_quiet(args.wait_quiet, api_earn.QUIET)
                print(f"Round {number + 1}, {kind} (the machine {100 * busy:.0f}% busy)...")
                load = loads[kind](args, port, api_key, numbers, ServerCpu(process.pid, url))
                figures[kind].append(load)
                print(
                    f"  {load['rps']:.0f} purchases/s; CPU a purchase {cpu_text(load['cpu_ms'])}; "
                    f"other processes {share(load['others'])}"
                    + (
                        f"; {load['batches']} batches, p50 {load['p50_ms']:.0f} ms"
                        if kind == "batch"
                        else ""
                    )
                )
                for error in load["errors"]:
                    print("   ", error)
    finally:
        stop_gunicorn(process)
    tps = None if args.no_pgbench else run_pgbench(url, args.pgbench_duration)
    single = statistics.median(load["rps"] for load in figures["single"])
    batch = statistics.median(load["rps"] for load in figures["batch"])
    print(f"Medians: single {single:.0f}, batch {batch:.0f} purchases/s ({batch / single:.1f}×)")
    if tps:
        print(
            f"pgbench simple-update: {tps:.0f} tps; ÷ tps: single {single / tps:.3f}, "
            f"batch {batch / tps:.3f}"
        )
    if not args.no_results:
        record(args, figures, cpu, tps, pg_version)
    every = [load for kind in figures.values() for load in kind]
    failed = any(load["errors"] or load.get("stuck") for load in every)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
