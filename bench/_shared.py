"""The benchmarks' shared library: not a benchmark (bench/run.py skips _private modules).

The benchmarks are scripts run as `python bench/NAME.py`, so bench/ is sys.path[0] and they
`import _shared`. Here, once each: where the project and RESULTS.md are; the description of the
machine; the Luhn check digit (for bench/jobs.py, which writes member numbers before and without
Django); the local PostgreSQL server (URLs, connections, creating databases, pgbench); the
environment, migration and set-up of Django; CPU time from /proc (a process's, the machine's,
waiting for the machine to be quiet); percentile; appending to RESULTS.md; the options every
benchmark has.
"""
# ruff: noqa: T201 - benchmarks report on stdout

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PGBENCH_DB = "loyalty_pgbench"


# --- the machine --------------------------------------------------------------------------------


def machine() -> str:
    """Cores, CPU model, OS, memory and Python version: what every benchmark prints and records."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_kb = next(
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{int(memory_kb) / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "RAM unknown"
    return (
        f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
        f"{memory}, Python {platform.python_version()}"
    )


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit of `digits`, as accounts.services.luhn_check_digit computes it.

    A copy, the only one in bench/: bench/jobs.py needs it before and without Django (it writes
    member numbers with COPY), where the project's function cannot be imported. Benchmarks that
    set Django up use accounts.services (new_member_number) instead."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


# --- PostgreSQL on 127.0.0.1 --------------------------------------------------------------------


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgres", "postgresql"}


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in LOOPBACK


def database_url(url: str, name: str) -> str:
    """The URL of database `name` on the server `url` names (its database and query dropped)."""
    return urlsplit(url)._replace(path=f"/{name}", query="", fragment="").geturl()


def database_params(url: str, default_db: str = "postgres") -> dict:
    """psycopg2's connection parameters of a postgres:// URL (as pgbench needs them too)."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": unquote(parts.path.lstrip("/")) or default_db,
    }


def connect(url: str, dbname: str | None = None):
    """A psycopg2 connection to the database of `url`, or to `dbname` on its server."""
    import psycopg2

    params = database_params(url)
    if dbname is not None:
        params["dbname"] = dbname
    return psycopg2.connect(**params)


def admin_execute(url: str, *statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) on the server's `postgres` database, autocommit."""
    connection = connect(url, "postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def ensure_database(url: str, name: str, *, fresh: bool = False) -> bool:
    """Create database `name` on the server of `url` if missing (`fresh`: drop it first, with
    its connections); True if it was created."""
    from psycopg2 import sql

    connection = connect(url, "postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            if fresh:
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is not None:
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def server_version(url: str) -> str:
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def run_pgbench(url: str, duration: int) -> float | None:
    """pgbench's built-in simple-update on the server of `url` (database loyalty_pgbench,
    `-i -s 10`, then `-c 8 -j 2 -T duration`): its tps, or None if it could not run."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        print("pgbench is not installed (it comes with the PostgreSQL client); skipped.")
        return None
    if ensure_database(url, PGBENCH_DB):
        print(f"Created database {PGBENCH_DB}.")
    params = database_params(url)
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


def start_pgbouncer(url: str, folder: Path):
    """A PgBouncer in transaction mode (Debian's package, tests/pgbouncer/bouncer.py) in front of
    the server of `url`, on a free port: (the bouncer, `url` through it). Stop it with .stop()."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.pgbouncer.bouncer import Bouncer

    params = database_params(url)
    server = {key: params[key] for key in ("host", "port", "user", "password")}
    bouncer = Bouncer(folder, **server).start()
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return bouncer, parts._replace(netloc=f"{netloc}127.0.0.1:{bouncer.port}").geturl()


# --- Django -------------------------------------------------------------------------------------


def django_env(url: str, **settings) -> dict[str, str]:
    """The environment of the benchmark's Django (in this process or another): this one's,
    without REDIS_URL (Celery eager, unless `settings` sets it) and its broker options, with
    DATABASE_URL `url`, DEBUG off, a random SECRET_KEY (BENCH_SECRET_KEY if set) and `settings`."""
    dropped = {"REDIS_URL", "DATABASE_URL", "CELERY_BROKER_TRANSPORT_OPTIONS"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or "bench-" + secrets.token_urlsafe(32),
    )
    env.update({key: str(value) for key, value in settings.items()})
    return env


def migrate(env: dict[str, str], *, timeout: float | None = None) -> float:
    """`manage.py migrate` in a process of its own with `env`; returns the seconds it took."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=timeout,
    )
    return time.monotonic() - started


def setup_django(env: dict[str, str]) -> None:
    """Start Django in this process with `env` (from django_env)."""
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- CPU time from /proc ------------------------------------------------------------------------


def _cpu_fields() -> list[int]:
    """The machine's CPU times since boot (clock ticks): /proc/stat's first line."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def system_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot, from /proc/stat."""
    try:
        fields = _cpu_fields()
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def cpu_busy(seconds: float = 2.0) -> float:
    """The share of all cores busy over `seconds` (before a run: other load on the machine)."""

    def sample():
        fields = _cpu_fields()
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1 - (idle2 - idle1) / max(1, total2 - total1)


def wait_quiet(seconds: float, threshold: float) -> float:
    """Wait up to `seconds` for the machine to be at most `threshold` busy (2 s, then 5 s
    samples); returns the share busy last measured."""
    busy = cpu_busy()
    waited_until = time.monotonic() + seconds
    while busy > threshold and time.monotonic() < waited_until:
        busy = cpu_busy(5)
    return busy


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


# --- figures and results ------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile of sorted `values` by rank, the way wrk counts it; nan if empty."""
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


def append_results(section: str) -> None:
    """Append a section (Markdown, from its ## heading) to bench/RESULTS.md, and say so."""
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `make bench`; newest last.\n")
    with RESULTS.open("a") as out:
        out.write("\n" + section.strip("\n") + "\n")
    print(f"Appended to {RESULTS.relative_to(ROOT)}.")


# --- options ------------------------------------------------------------------------------------


def add_common_options(parser: argparse.ArgumentParser, *, fresh: str) -> None:
    """--fresh (what it starts again is the benchmark's: `fresh` is its help) and --no-results."""
    parser.add_argument("--fresh", action="store_true", help=fresh)
    parser.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")


def parse_known(
    parser: argparse.ArgumentParser, argv: list[str], *, name: str | None = None
) -> argparse.Namespace:
    """bench/run.py passes the options after -- to every benchmark: ignore those meant for the
    others (and, given the benchmark's `name`, say which)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown and name:
        print(f"{name} ignores {' '.join(unknown)}")
    return args
