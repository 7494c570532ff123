"""A real Celery worker process for tests marked real_worker: tasks go through Redis (not eager)
to `celery -A loyalty worker` on the test database, on a queue of the test's own.

Fixtures (imported into tests/conftest.py): `redis_url` (skips without REDIS_URL, fails in
CI), `queue` (this test's queue, cleaned up after), `workers` (start workers: `workers("w1",
SETTING=value)`), and `through_the_broker` (tasks this process sends after commit go to the
test's queue, where the worker takes them). The test database must be committed to for the
worker to see it: such tests use `django_db(transaction=True)`.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from loyalty.celery import app as celery_app


@pytest.fixture
def redis_url():
    """Real-worker tests need Redis: skipped without REDIS_URL, but failed in CI."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        message = "needs Redis (set REDIS_URL)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI must run it", pytrace=False)
        pytest.skip(message)
    return url


ROOT = Path(__file__).resolve().parents[1]
# A short visibility timeout, swept every second: a killed worker's message returns quickly.
TRANSPORT = {"visibility_timeout": 2, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def test_database_url() -> str:
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{db['NAME']}"


class Worker:
    """`celery -A loyalty worker` in its own process group, logging to a file."""

    def __init__(self, name: str, log: Path, env: dict[str, str], queue: str):
        self.log = log
        self.name = name
        command = [
            *(sys.executable, "-m", "celery", "-A", "loyalty", "worker"),
            *("--pool", "solo", "--queues", queue, "--hostname", f"{name}-{queue}@%h"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            *("--loglevel", "INFO"),
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return
            if self.process.poll() is not None:
                pytest.fail(f"worker {self.name} exited:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"worker {self.name}: no {text!r} within {timeout} s:\n{self.text()[-3000:]}")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it takes too long."""
        self.kill(signal.SIGTERM)


@pytest.fixture
def queue(redis_url):
    """A queue of this test's own, so nothing is left for (or taken from) another run."""
    name = f"loyalty-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    for tag, payload in client.hgetall("unacked").items():
        if name.encode() in payload:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.fixture
def workers(tmp_path, queue, redis_url):
    """Start workers on the test database and the test's queue; all are stopped afterwards."""
    started: list[Worker] = []

    def start(name: str, **settings) -> Worker:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CELERY_"))},
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": redis_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(TRANSPORT),
            "EMAIL_URL": "memorymail://",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in settings.items()},
        }
        worker = Worker(name, tmp_path / f"{name}.log", env, queue)
        started.append(worker)
        worker.wait_for(" ready.", timeout=30)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def through_the_broker(queue):
    """What this process sends (the services' after-commit tasks) goes to the test's queue."""
    saved = celery_app.conf.task_default_queue
    celery_app.conf.update(task_default_queue=queue, CELERY_TASK_DEFAULT_QUEUE=queue)
    yield queue
    celery_app.conf.update(task_default_queue=saved, CELERY_TASK_DEFAULT_QUEUE=saved)


def wait_until(condition, timeout: float, what: str):
    """Poll until condition() is truthy (its value), or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout} s")
