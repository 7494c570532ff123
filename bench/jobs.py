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
--members 100000`, or `BENCH_MEMBERS=100000 .venv/bin/python bench/run.py jobs`. Step 1 is in
bench/_jobs_seed.py, what the benchmarks share in bench/_shared.py.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from _jobs_seed import EXPIRY_MONTHS, SEED_DB, TZ, check_seed, job_env, seed, seed_info
from _shared import (
    DEFAULT_SERVER_URL,
    ROOT,
    add_common_options,
    admin_execute,
    append_results,
    connect,
    is_loopback,
    is_postgres,
    machine,
    migrate,
    parse_known,
)

RUN_DB = "loyalty_bench_jobs"
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
    parser.add_argument("--batch-size", type=int, default=1000, help="LOYALTY_JOB_BATCH_SIZE")
    parser.add_argument("--only", action="append", help="run only these measurements")
    parser.add_argument(
        "--eager-email",
        action="store_true",
        help="send the cards' e-mails in the job's process (default: enqueue them to Redis)",
    )
    add_common_options(parser, fresh="seed the template again")
    return parse_known(parser, argv)


def server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    url = url or DEFAULT_SERVER_URL
    if not (is_postgres(url) and is_loopback(url)):
        sys.exit(f"bench/jobs.py only talks to PostgreSQL on 127.0.0.1, not {url!r}.")
    return url  # the server: its databases are database_url(server, name)


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
    env = job_env(server, RUN_DB, LOYALTY_JOB_BATCH_SIZE=batch_size, **settings)
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
    migrate(job_env(server, RUN_DB))
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
        append_results(report)
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
