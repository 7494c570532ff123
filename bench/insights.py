"""Benchmark: the nightly insights job and the staff dashboard on 1,000,000 members.

The issue's targets, on this machine (2 cores): the nightly run over 1,000,000 members and
20,000,000 ledger entries in under 60 s with the worker's memory under 300 MB, and the
dashboard's p95 under 200 ms at that size.

What it does, only on 127.0.0.1:

1. The dataset: bench/_insights_data.py finds `loyalty_bench_insights` or builds it (about
   15 minutes the first time: see its docstring for what it holds), then `migrate`.
2. The nightly run through a real worker: a Celery worker of the project's app (`celery -A
   loyalty worker --pool=solo --concurrency=1`, broker Redis database 5, BENCH_REDIS_URL), then
   `manage.py run_job insights --date D --via-broker`; the wall time runs from that command's
   start to the JobRun's finished_at, and the worker's peak memory is its VmHWM (and its
   children's, if any) from /proc. What the job writes (member insights, rung changes,
   snapshots) is emptied before each run, so each run is the first night's: every member's
   row to write.
3. The same inline (`run_job insights --date D`, the batches in that process): wall time, and
   its peak RSS from getrusage(RUSAGE_CHILDREN) in a small parent whose only child it is.
4. The next night (`run_job insights --date D+1`, inline): the steady state, where last
   night's rows are there and only what changed is written.
   Meanwhile the CPU seconds of the job's process and of PostgreSQL's backends on the
   database are read from /proc: where the time goes.
5. The dashboard (bench/_insights_web.py): gunicorn with the project's gunicorn.conf.py
   (DEBUG off, Redis cache as shipped, static files collected), a staff superuser logged in
   through the admin's login form (LOYALTY_STAFF_OTP=false: no second factor), then the
   dashboard (the URL named admin:insights_dashboard, /admin/insights/memberinsight/dashboard/)
   --warmup times unmeasured and --requests times measured, one after the other on one
   keep-alive connection; p50, p95 and max. The same for each panel's CSV download (the links
   on the page), --csv-requests times. It shows the latest snapshot: run the job first.
6. --explain (or `--only explain`, alone) prints EXPLAIN (ANALYZE, BUFFERS) of the ladder's
   statement and of the slowest statements of the figures, into bench/out/ too.
7. Prints the figures and appends them to bench/RESULTS.md (unless --no-results).

Usage: `make bench` (bench/run.py runs every benchmark; the first run of this one loads the
dataset, about 10 minutes here, and later runs reuse it), `.venv/bin/python bench/run.py
insights`, or `.venv/bin/python bench/insights.py --help`; BENCH_INSIGHTS_MEMBERS (or --members)
makes a smaller dataset for a try (it replaces the one there).
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _earn_load import redis_answers, stop_gunicorn
from _insights_data import DB_NAME, DEFAULT_MEMBERS, TODAY, bench_env, ensure, server_url
from _insights_web import OUT, manage, serve_dashboard
from _shared import (
    ROOT,
    add_common_options,
    append_results,
    children,
    connect,
    machine,
    migrate,
    parse_known,
    process_cpu,
    wait_quiet,
)

TARGET_SECONDS = 60
TARGET_MB = 300
TARGET_P95_MS = 200
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
RUN_TIMEOUT = 1800  # seconds a run may take before the benchmark gives up on it
# What the job writes: emptied before a run that should be the first night's.
JOB_TABLES = "insights_memberinsight, insights_rungchange, insights_snapshot"
# The parent of an inline run: its only child is manage.py, so RUSAGE_CHILDREN is that run's.
PEAK_PARENT = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'BENCH_CHILD_MAXRSS_KB {peak}\\n')\n"
    "sys.exit(code)\n"
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--members",
        type=int,
        default=int(os.environ.get("BENCH_INSIGHTS_MEMBERS", DEFAULT_MEMBERS)),
        help="members of the dataset (BENCH_INSIGHTS_MEMBERS, default 1,000,000)",
    )
    parser.add_argument("--day", type=date.fromisoformat, default=TODAY, help=str(TODAY))
    parser.add_argument("--requests", type=int, default=200, help="measured dashboard requests")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests first")
    parser.add_argument("--csv-requests", type=int, default=20, help="measured, per CSV")
    parser.add_argument("--only", action="append", help="broker, inline, next, dashboard, explain")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the job's SQL")
    parser.add_argument("--wait-quiet", type=float, default=60, help="seconds, before runs")
    add_common_options(parser, fresh="load the dataset again")
    return parse_known(parser, argv, name="insights")


# --- processes: what they use -------------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Meter:
    """Every 0.2 s while a run goes: the peak memory (VmHWM) of a process and of each of its
    descendants, and the CPU seconds they and PostgreSQL's backends on the database used."""

    def __init__(self, server: str, root: int, *, count_root: bool = True):
        self.server, self.root, self.count_root = server, root, count_root
        self.peak_kb: dict[int, int] = {}
        self.cpu: dict[int, tuple[float, float]] = {}  # pid: (first seen, last seen)
        self.backend_cpu: dict[int, tuple[float, float]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.conn = connect(server, "postgres")
        self.conn.autocommit = True
        self.take()
        self.thread.start()

    def _family(self) -> list[int]:
        found, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children(pid))
        return found

    def take(self) -> None:
        for pid in self._family():
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), _status_kb(pid, "VmHWM"))
            self._cpu(self.cpu, pid)
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME])
            for (pid,) in cursor.fetchall():
                self._cpu(self.backend_cpu, pid)

    @staticmethod
    def _cpu(table: dict, pid: int) -> None:
        seconds = process_cpu(pid)
        if seconds is not None:
            table[pid] = (table.get(pid, (seconds, seconds))[0], seconds)

    def _loop(self) -> None:
        while not self.stopping.wait(0.2):
            self.take()

    def stop(self) -> dict:
        self.take()
        self.stopping.set()
        self.thread.join()
        self.conn.close()
        own = sum(
            last - first
            for pid, (first, last) in self.cpu.items()
            if self.count_root or pid != self.root
        )
        postgres = sum(last - first for first, last in self.backend_cpu.values())
        peak_kb = sum(kb for pid, kb in self.peak_kb.items() if self.count_root or pid != self.root)
        return {"peak_mb": peak_kb / 1024, "cpu": own, "pg_cpu": postgres}


# --- the runs -----------------------------------------------------------------------------------


def reset(server: str) -> None:
    """Empty what the job writes, so the next run is the first night's."""
    conn = connect(server, DB_NAME)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(f"TRUNCATE {JOB_TABLES}")
    finally:
        conn.close()


def job_row(server: str, run_id: int) -> tuple:
    conn = connect(server, DB_NAME)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at), "
                "considered, paid, errors, details, error_log FROM loyalty_jobrun WHERE id = %s",
                [run_id],
            )
            return cursor.fetchone()
    finally:
        conn.close()


def run_id_of(output: str) -> int:
    match = re.search(r": run (\d+)", output)
    if match is None:
        sys.exit(f"run_job said no run id:\n{output}")
    return int(match[1])


def result(server: str, label: str, run_id: int, began: float, meter: dict, **more) -> dict:
    started, finished, considered, paid, errors, details, error_log = job_row(server, run_id)
    if errors:
        sys.exit(f"{label}: {errors} error(s):\n{error_log}")
    figures = {
        "label": label,
        "run": run_id,
        "wall": float(finished) - began,
        "own": float(finished) - float(started),
        "considered": considered,
        "written": paid,
        "details": details or {},
        **meter,
        **more,
    }
    print(
        f"  {figures['wall']:.1f} s (the run's own {figures['own']:.1f} s), peak "
        f"{figures['peak_mb']:.0f} MB, CPU {figures['cpu']:.1f} s in the job's process and "
        f"{figures['pg_cpu']:.1f} s in PostgreSQL; {considered:,} members, {paid:,} rows "
        f"written",
        flush=True,
    )
    return figures


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The project's Celery app in one process that runs one task at a time (the job's one
    batch runs in it, not in a pool's child), ready when it says so in its log."""
    worker_args = ["-A", "loyalty", "worker", "--pool=solo", "--concurrency=1", "-l", "INFO"]
    command = [sys.executable, "-m", "celery", *worker_args]
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            sys.exit(f"The Celery worker stopped (exit {worker.returncode}):\n{log.read_text()}")
        if " ready." in log.read_text():
            return worker
        time.sleep(0.2)
    stop_group(worker)
    sys.exit(f"The Celery worker was not ready within 60 s:\n{log.read_text()}")


def stop_group(process: subprocess.Popen) -> None:
    stop_gunicorn(process)  # (SIGTERM to the process group, then SIGKILL: any server of ours)


def run_via_broker(server: str, env: dict[str, str], day: date, redis_url: str) -> dict:
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # database 5 is the benchmark's own
    log = OUT / "insights-worker.log"
    worker = start_worker(env, log)
    try:
        meter = Meter(server, worker.pid)
        print(f"insights --date {day} --via-broker (worker pid {worker.pid}) ...", flush=True)
        began = time.time()
        sent = subprocess.run(
            manage("run_job", "insights", "--date", day.isoformat(), "--via-broker"),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if sent.returncode:
            sys.exit(f"run_job --via-broker failed:\n{sent.stdout}{sent.stderr}")
        run_id = run_id_of(sent.stdout)
        deadline = time.monotonic() + RUN_TIMEOUT
        while job_row(server, run_id)[1] is None:
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"Run {run_id} did not finish (worker exit {worker.returncode}):\n"
                         f"{log.read_text()[-3000:]}")  # fmt: skip
            time.sleep(0.2)
        used = meter.stop()
    finally:
        stop_group(worker)
    return result(server, "through the worker", run_id, began, used)


def run_inline(server: str, env: dict[str, str], day: date, label: str) -> dict:
    print(f"insights --date {day} inline ({label}) ...", flush=True)
    with tempfile.TemporaryFile() as out:
        began = time.time()
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PEAK_PARENT,
                *manage("run_job", "insights", "--date", day.isoformat()),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        meter = Meter(server, parent.pid, count_root=False)  # (the parent is not the run)
        parent.wait()
        used = meter.stop()
        out.seek(0)
        output = out.read().decode(errors="replace")
    if parent.returncode:
        sys.exit(f"run_job insights --date {day} failed:\n{output}")
    maxrss_kb = int(re.search(r"BENCH_CHILD_MAXRSS_KB (\d+)", output)[1])
    return result(server, label, run_id_of(output), began, used, maxrss_mb=maxrss_kb / 1024)


# --- where the time goes ------------------------------------------------------------------------


def explain(env: dict[str, str], day: date) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the ladder's statement and of the three slowest statements
    of the side facts and the dashboard's figures (read-only parts of the job), in process."""
    from _shared import setup_django

    setup_django(env)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from insights import figures, ladder

    policy = ladder.policy_current()
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 2")  # (the default; said here)
        began = time.monotonic()
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + ladder._FACTS_SQL, ladder._bounds(day, policy)
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        plans.append(("insights.ladder._FACTS_SQL", time.monotonic() - began, plan))
        with CaptureQueriesContext(connection) as captured:
            ladder.side_facts(day)
            figures.snapshot_figures(day)
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        for query in slowest:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            plans.append((query["sql"], float(query["time"]), plan))
    text = "\n\n".join(f"-- {seconds:.1f} s\n{sql}\n\n{plan}" for sql, seconds, plan in plans)
    (OUT / "insights-explain.txt").write_text(text + "\n")
    print(text)
    return text


# --- the report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render(args, dataset, command: str, runs: list[dict], pages: list[dict], busy: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    loaded = (
        f"loaded by this run in {dataset.load_seconds:.0f} s"
        if dataset.loaded_now
        else f"an earlier run's (loaded in {dataset.load_seconds:.0f} s)"
    )
    lines = [
        f"## insights: the nightly job and the dashboard on {dataset.members:,} members ({stamp})",
        "",
        f"- Machine: {machine()}; PostgreSQL and Redis on 127.0.0.1 (the same machine); the "
        f"cores were {busy:.0%} busy with other work just before.",
        f"- Command: `{command}`; day D = {args.day}.",
        f"- Dataset `{DB_NAME}`: {dataset.members:,} members, {dataset.entries:,} ledger "
        f"entries, {dataset.purchases:,} purchases over the three years before D, {loaded} "
        "(bench/_insights_data.py, bench/_insights_rows.py).",
    ]
    if runs:
        lines += [
            "- Each run started from empty insights tables (the first night: every member's row "
            "written), except the next night's, which found D's. Wall: from `run_job`'s start to "
            "the JobRun's finished_at; Own: the JobRun's started to finished; Peak: VmHWM of the "
            "worker (through the worker) or of `run_job`'s process (inline; ru_maxrss "
            "of RUSAGE_CHILDREN in brackets); CPU: of that process, and of PostgreSQL's backends.",
            "",
            "| Run | Command | Wall | Own | Peak memory | CPU job / PostgreSQL | Members | Rows "
            "written | Target |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
    for run in runs:
        command_of = {"through the worker": "--via-broker, worker --pool=solo --concurrency=1"}
        peak = f"{run['peak_mb']:.0f} MB" + (
            f" ({run['maxrss_mb']:.0f} MB)" if "maxrss_mb" in run else ""
        )
        ok = run["wall"] < TARGET_SECONDS and run["peak_mb"] < TARGET_MB
        lines.append(
            f"| {run['label']} | `run_job insights --date {run['day']}` "
            f"{command_of.get(run['label'], 'inline')} | {run['wall']:.1f} s | "
            f"{run['own']:.1f} s | {peak} | {run['cpu']:.1f} s / {run['pg_cpu']:.1f} s | "
            f"{run['considered']:,} | {run['written']:,} | < {TARGET_SECONDS} s, "
            f"< {TARGET_MB} MB: {verdict(ok)} |"
        )
    if pages:
        lines += [
            "",
            f"The dashboard over HTTP (gunicorn with gunicorn.conf.py, DEBUG off, Redis cache, a "
            f"staff superuser logged in, one keep-alive connection, requests one after the "
            f"other after {args.warmup} (CSV: 2) unmeasured):",
            "",
            "| Page | Requests | p50 | p95 | max | Bytes | Target |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in pages:
            target = f"p95 < {TARGET_P95_MS} ms: {verdict(row['p95'] < TARGET_P95_MS)}"
            lines.append(
                f"| `{row['path']}` | {row['requests']} | {row['p50']:.1f} ms | "
                f"{row['p95']:.1f} ms | {row['max']:.1f} ms | {row['bytes']:,} | {target} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = server_url()
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    if not redis_answers(redis_url):
        sys.exit(f"Redis at {redis_url} does not answer: the worker needs it as its broker.")
    OUT.mkdir(exist_ok=True)
    dataset = ensure(server, args.members, fresh=args.fresh)
    env = bench_env(
        server, REDIS_URL=redis_url, LOYALTY_STAFF_OTP="false", SECURE_SSL_REDIRECT="false"
    )
    migrate(env)

    def wanted(key: str) -> bool:
        return not args.only or key in args.only

    runs = []
    busy = wait_quiet(args.wait_quiet, 0.1)
    if wanted("broker"):
        reset(server)
        runs.append({**run_via_broker(server, env, args.day, redis_url), "day": args.day})
    if wanted("inline"):
        reset(server)
        runs.append({**run_inline(server, env, args.day, "inline"), "day": args.day})
    if wanted("next"):
        following = args.day + timedelta(days=1)
        runs.append({**run_inline(server, env, following, "the next night"), "day": following})
    pages = serve_dashboard(env, args) if wanted("dashboard") else []
    if args.explain or wanted("explain") and args.only:
        explain(env, args.day)
    command = " ".join([".venv/bin/python bench/insights.py", *argv])
    report = render(args, dataset, command, runs, pages, busy)
    print(report)
    if not args.no_results and (runs or pages):
        append_results(report)
    missed = [r for r in runs if r["wall"] >= TARGET_SECONDS or r["peak_mb"] >= TARGET_MB]
    return 1 if missed or any(p["p95"] >= TARGET_P95_MS for p in pages) else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    sys.exit(main(sys.argv[1:]))
