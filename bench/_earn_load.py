"""The HTTP side of bench/api_earn.py: gunicorn, the load posting purchases to it, their CPU.

start_gunicorn/stop_gunicorn/wait_until_ready run the server under test. Two load generators,
each measuring for --warmup then --duration seconds and returning the same figures
(purchases/s, latency percentiles, non-201 answers, CPU per purchase): run_load_wrk, wrk with
bench/purchases.lua (C; the default when wrk is installed), and run_load, Python client
processes of http.client threads. ServerCpu meters gunicorn and the PostgreSQL backends serving
it from /proc. A library module of api_earn.py: bench/run.py skips _private modules.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from _shared import BENCH_DIR, ROOT, children, connect, percentile, process_cpu, system_busy_seconds

PURCHASE_PATH = "/api/v1/purchases/"
WRK_SCRIPT = BENCH_DIR / "purchases.lua"


def purchase_body(member_number: str, external_id: str) -> str:
    return json.dumps(
        {
            "member_number": member_number,
            "external_id": external_id,
            "amount": "12.34",
            "currency": "EUR",
        }
    )


# --- gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    server, port: int, env: dict[str, str], log_path: Path, *, extra: list[str] | None = None
) -> subprocess.Popen:
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
    command += extra or []
    log = log_path.open("w")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def start_celery_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """The shipped shape's Celery worker (docker-compose.yml's command), logging beside gunicorn;
    stopped like it (stop_gunicorn). Purchases give it little to do without webhook endpoints:
    it is there because production has it (its broker connection, its share of the cores)."""
    log = log_path.with_suffix(".worker.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "loyalty", "worker", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


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


# --- the load -----------------------------------------------------------------------------------


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
        keys = api_key.split(",")  # several: a key a connection, as tills each have their own
        key = keys[(os.getpid() + index) % len(keys)]
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
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


class ServerCpu:
    """CPU time used by gunicorn (master and workers) and the PostgreSQL backends serving it."""

    def __init__(
        self,
        gunicorn_pid: int,
        url: str,
        pooler_pid: int | None = None,
        more: dict[str, int] | None = None,
    ):
        self.gunicorn_pid = gunicorn_pid
        self.url = url  # the benchmark database (directly, not through the pooler)
        self.pooler_pid = pooler_pid  # a PgBouncer between them (--pgbouncer)
        self.more = more or {}  # other processes by name (the Celery worker, a receiver)

    def backends(self) -> list[int]:
        import psycopg2

        try:
            connection = connect(self.url)
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
        if self.pooler_pid is not None:
            groups["pgbouncer"] = [self.pooler_pid]
        for name, pid in self.more.items():
            groups[name] = [pid, *children(pid)]
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
    """The load from --clients Python processes (spawned) × --client-threads threads."""
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
        "ceiling": cores * 1000 / sum(cpu_ms.values()) if ok and len(cpu_ms) >= 3 else None,
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
        pace = getattr(args, "pace_ms", None)  # (million.py --rate)
        env = {**os.environ, "WRK_PACE_MS": str(pace)} if pace else None
        return subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=False, env=env
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
