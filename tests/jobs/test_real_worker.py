"""A real Celery worker process against Redis and the test database.

The tasks go through the broker (not eager): the beat task plans on the worker, the batches are
enqueued after its commit and paid by the worker. A worker killed with SIGKILL in the middle of
a batch leaves nothing behind; its unacknowledged message comes back after the visibility
timeout and another worker pays every member exactly once.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from loyalty.celery import app as celery_app
from loyalty.core.models import JobBatch, JobRun, LedgerEntry
from notifications.models import Message
from rewards.models import OccasionGrant
from rewards.tasks import anniversary_task
from tests.jobs.conftest import enroll

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-03-01"
# A short visibility timeout, swept every second: a killed worker's message returns quickly.
TRANSPORT = {"visibility_timeout": 2, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def _test_database_url() -> str:
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
            **os.environ,
            "DATABASE_URL": _test_database_url(),
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


def _wait_for_run(timeout: float) -> JobRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = JobRun.objects.filter(name="anniversary", finished_at__isnull=False).first()
        if run is not None:
            return run
        time.sleep(0.2)
    runs = list(JobRun.objects.values())
    pytest.fail(f"the anniversary run did not finish within {timeout} s: {runs}")


@contextlib.contextmanager
def _eager():
    """Set-up runs its tasks (the welcome e-mails) in process: only the job goes to Redis."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.update(task_always_eager=True, CELERY_TASK_ALWAYS_EAGER=True)
    try:
        yield
    finally:
        celery_app.conf.update(task_always_eager=saved, CELERY_TASK_ALWAYS_EAGER=saved)


def _members(count: int) -> list:
    with _eager():
        return [enroll(joined_on=date(2015 + n, 3, 1)) for n in range(count)]


def _assert_paid_once(members) -> None:
    for member in members:
        assert OccasionGrant.objects.filter(member=member).count() == 1
        assert LedgerEntry.objects.filter(member=member, kind="gift").count() == 1
        assert Message.objects.filter(member=member, kind="anniversary").count() == 1


def test_a_real_worker_pays_the_anniversaries_sent_through_redis(tiers, workers, queue):
    # given
    members = _members(4)
    worker = workers("w1", LOYALTY_JOB_BATCH_SIZE=2)
    # when: what beat does, through the broker
    anniversary_task.apply_async(kwargs={"day": DAY}, queue=queue)
    # then
    run = _wait_for_run(timeout=30)
    assert (run.trigger, run.batches_planned, run.batches_done, run.paid, run.errors) == (
        "schedule",
        2,
        2,
        4,
        0,
    )
    _assert_paid_once(members)
    assert "job_batch_task" in worker.text()
    # the cards' e-mails went out from the worker too, after the batches committed
    deadline = time.monotonic() + 15
    while Message.objects.filter(kind="anniversary", emailed_at__isnull=True).exists():
        assert time.monotonic() < deadline, "the e-mails were not sent"
        time.sleep(0.2)


def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing_and_pays_nothing_twice(
    tiers, workers, queue
):
    # given: two batches of 3; the first worker is slow (1.5 s per member before each commit)
    members = _members(6)
    first = workers("w1", LOYALTY_JOB_BATCH_SIZE=3, LOYALTY_JOB_BATCH_DELAY=1.5)
    anniversary_task.apply_async(kwargs={"day": DAY}, queue=queue)
    first.wait_for("batch 1/2 (anniversary, 3 ids) started", timeout=30)
    time.sleep(1.0)
    # when: SIGKILL in the middle of the first batch
    first.kill(signal.SIGKILL)
    # then: nothing of it was committed
    assert not OccasionGrant.objects.exists()
    assert not JobBatch.objects.exists()
    # when: another worker starts
    second = workers("w2", LOYALTY_JOB_BATCH_SIZE=3)
    # then: both batches are paid, the killed one after its message came back, each member once
    run = _wait_for_run(timeout=40)
    assert (run.batches_planned, run.batches_done, run.paid, run.errors) == (2, 2, 6, 0)
    assert JobBatch.objects.filter(run=run).count() == 2
    _assert_paid_once(members)
    assert "batch 1/2 (anniversary, 3 ids) started" in second.text()
