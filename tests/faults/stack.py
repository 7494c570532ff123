"""A served stack of the program on processes of its own, for the fault-injection tests: a
PostgreSQL cluster made with initdb, a Redis server, gunicorn (DEBUG off, throttling on), a
Celery worker, a webhook receiver and an e-mail directory, each on a free port or in a temporary
folder, so a test can kill and restart any of them without touching the machine's own services.
"""

from __future__ import annotations

import contextlib
import glob
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} within {timeout} s")


def _stop(process: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class Postgres:
    """A cluster of its own (initdb as the postgres user: the server refuses to run as root)."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL's server binaries are not installed")
        self.bin = Path(found[-1]).parent
        # a folder of its own that the postgres user can reach (pytest's are the runner's only)
        self.folder = Path(tempfile.mkdtemp(prefix="loyalty-faults-pg-"))
        self.data = self.folder / "data"
        self.socket = self.folder / "socket"
        self.log = self.folder / "postgres.log"
        self.port = free_port()
        self.socket.mkdir()
        if os.geteuid() == 0:
            for path in (self.folder, self.socket):
                shutil.chown(path, "postgres")
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"])

    def _run(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/loyalty"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log)]
            + ["-o", options, "-w", "start"]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def connect(self, database: str = "loyalty"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)

    def create_database(self) -> None:
        connection = self.connect("postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE loyalty")
        connection.close()

    def rows(self, sql: str, params=()) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def scalar(self, sql: str, params=()):
        return self.rows(sql, params)[0][0]


class Redis:
    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait(self.answers, 15, "Redis did not answer")

    def answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def kill(self) -> None:
        _stop(self.process, signal.SIGKILL)


class Receiver:
    """A partner's webhook endpoint: answers 200 and counts each event id it receives."""

    def __init__(self):
        self.events: Counter = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.events[json.loads(body)["id"]] += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


class Stack:
    """PostgreSQL, Redis, gunicorn and a Celery worker of their own, and what talks to them."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.postgres = Postgres()
        self.redis = Redis(folder)
        self.receiver = Receiver()
        self.mail = folder / "mail"
        self.mail.mkdir()
        # (gunicorn.conf.py empties it when the web starts; its workers' counts add up there)
        self.metrics = folder / "prometheus"
        self.metrics.mkdir()
        self.port = free_port()
        self.queue = f"faults-{uuid.uuid4().hex[:8]}"
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self.relay: subprocess.Popen | None = None

    def env(self, **extra) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST", "DJANGO_", "CELERY_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="loyalty.settings",
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.redis.url,
            DEBUG="false",
            SECRET_KEY="faults-" + "x" * 40,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            EMAIL_URL=f"filemail:///{self.mail}",  # (a fourth slash: environ drops one)
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            # a killed worker's message comes back within seconds here (5 minutes by default)
            CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(
                {
                    "visibility_timeout": 5,
                    "unacked_restore_interval": 1,
                    "unacked_restore_throttle": 1,
                }
            ),
            LOYALTY_WELCOME_POINTS="0",
            LOG_LEVEL="WARNING",
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics),
            PYTHONUNBUFFERED="1",
        )
        env.update({key: str(value) for key, value in extra.items()})
        return env

    def _run(self, command: list[str], what: str, timeout: float, env: dict) -> str:
        done = subprocess.run(
            command, cwd=ROOT, env=self.env(**env), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{done.stderr[-4000:]}")
        return done.stdout

    def manage(self, *args: str, timeout: float = 300, **env) -> str:
        return self._run([PYTHON, "manage.py", *args], f"manage.py {' '.join(args)}", timeout, env)

    def python(self, code: str, timeout: float = 120, **env) -> str:
        """Run Python with Django set up on this stack's services: its printed output."""
        prelude = "import django; django.setup()\n"
        return self._run([PYTHON, "-c", prelude + code], "python", timeout, env)

    def start(self) -> None:
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        self.manage("migrate", "--noinput", "-v", "0")
        self.start_web()
        self.start_worker()

    def start_web(self) -> None:
        command = [PYTHON, "-m", "gunicorn", "loyalty.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", "2", "--threads", "4", "--worker-class", "gthread"]
        command += ["--timeout", "60", "--log-level", "warning"]
        log = (self.folder / "web.log").open("ab")
        self.web = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=log, stderr=log, start_new_session=True
        )

        def up() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(self.url("/api/v1/rewards/"), timeout=2).status_code == 401
            return False

        _wait(up, 60, "gunicorn did not answer")

    def start_worker(self, **env) -> subprocess.Popen:
        command = [PYTHON, "-m", "celery", "-A", "loyalty", "worker", "--pool", "solo"]
        command += ["--queues", self.queue, "--hostname", f"{uuid.uuid4().hex[:6]}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        log_path = self.folder / f"worker-{len(self.workers)}.log"
        log = log_path.open("ab")
        worker = subprocess.Popen(
            command, cwd=ROOT, env=self.env(**env), stdout=log, stderr=log, start_new_session=True
        )
        self.workers.append(worker)
        _wait(lambda: " ready." in log_path.read_text(errors="replace"), 60, "no worker")
        worker.log_path = log_path
        return worker

    def start_beat(self) -> None:
        """Celery beat on the database schedule; it sends what is due at once and records it."""
        command = [PYTHON, "-m", "celery", "-A", "loyalty", "beat", "-l", "INFO"]
        command += ["--schedule", str(self.folder / "beat-schedule")]
        log_path = self.folder / "beat.log"
        log = log_path.open("ab")
        self.beat = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=log, stderr=log, start_new_session=True
        )
        _wait(lambda: "beat: Starting" in log_path.read_text(errors="replace"), 60, "no beat")

    def start_relay(self) -> None:
        """The webhook relay (`manage.py webhooks_relay`), looking every 0.1 s when idle."""
        log_path = self.folder / "relay.log"
        log = log_path.open("ab")
        before = log.tell()
        command = [PYTHON, "manage.py", "webhooks_relay", "--idle", "0.1"]
        self.relay = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(LOG_LEVEL="INFO"),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        _wait(lambda: b"relay started" in log_path.read_bytes()[before:], 60, "no relay")

    def stop_relay(self) -> None:
        _stop(self.relay)
        self.relay = None

    def stop_beat(self) -> None:
        _stop(self.beat)
        self.beat = None

    def stop_workers(self) -> None:
        for worker in self.workers:
            _stop(worker)
        self.workers = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        for worker in self.workers:
            _stop(worker)
        _stop(self.beat)
        _stop(self.relay)
        _stop(self.web)
        self.redis.kill()
        with contextlib.suppress(Exception):
            self.postgres.stop("immediate")
        shutil.rmtree(self.postgres.folder, ignore_errors=True)
        self.receiver.stop()

    def dispatch(self) -> None:
        """What beat does every minute: hand out the webhook deliveries and e-mails that are due."""
        self.python(
            "from webhooks.delivery import deliveries_dispatch_due\n"
            "from notifications.outbox import emails_dispatch_due\n"
            "from django.db import transaction\n"
            "with transaction.atomic():\n"
            "    deliveries_dispatch_due(); emails_dispatch_due()\n"
        )

    def mails(self) -> Counter:
        """How many times each Message-ID was sent (Django's file backend: a file a connection)."""
        counts: Counter = Counter()
        for path in self.mail.glob("*"):
            for line in path.read_text(errors="replace").splitlines():
                if line.lower().startswith("message-id:"):
                    counts[line.split(":", 1)[1].strip()] += 1
        return counts

    def ledger_problems(self) -> str:
        """The ledger invariants, checked by the test suite's own assertion on this database."""
        return self.python(
            "from tests.ledger import assert_ledger_invariants\n"
            "try:\n"
            "    assert_ledger_invariants()\n"
            "except AssertionError as exc:\n"
            "    print(exc)\n"
        ).strip()


class Client:
    """A partner over HTTP: requests.Session with its key, one Idempotency-Key a request."""

    def __init__(self, stack: Stack, api_key: str):
        self.stack = stack
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Api-Key {api_key}"

    def post(self, path: str, body: dict, key: str) -> requests.Response | None:
        try:
            return self.session.post(
                self.stack.url(path), json=body, headers={"Idempotency-Key": key}, timeout=30
            )
        except requests.RequestException:
            return None
