"""A real Celery worker process against Redis and the test database (tests/worker.py).

The tasks go through the broker (not eager): the beat task plans on the worker, the batches are
enqueued after its commit and paid by the worker. A worker killed with SIGKILL in the middle of
a batch leaves nothing behind; its unacknowledged message comes back after the visibility
timeout and another worker pays every member exactly once.
"""

import contextlib
import signal
import time
from datetime import date

import pytest

from loyalty.celery import app as celery_app
from loyalty.core import jobs
from loyalty.core.ledger import points_credit
from loyalty.core.models import JobBatch, JobRun, LedgerEntry, PointLot
from notifications.models import Message
from rewards.models import OccasionGrant
from rewards.tasks import anniversary_task
from tests.jobs.conftest import enroll

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]

DAY = "2026-03-01"


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


def test_the_expiry_job_sent_through_redis_expires_each_lot_once_on_the_worker(
    tiers, workers, queue, through_the_broker
):
    # given: three members with a lot due on the day, and one due later
    members = _members(3)
    for member in members:
        points_credit(
            member=member, points=120, kind="gift", cause=member, expires_on=date(2026, 4, 1)
        )
    later = points_credit(
        member=members[0], points=30, kind="gift", cause=members[0], expires_on=date(2026, 4, 2)
    )
    workers("w1", LOYALTY_JOB_BATCH_SIZE=2)
    # when: planned here (as `run_job expiry --via-broker` does), paid by the worker
    run = jobs.job_start(name="expiry", day=date(2026, 4, 1), trigger=JobRun.Trigger.MANUAL)
    # then
    deadline = time.monotonic() + 30
    while not JobRun.objects.filter(pk=run.pk, finished_at__isnull=False).exists():
        assert time.monotonic() < deadline, list(JobRun.objects.values())
        time.sleep(0.2)
    run.refresh_from_db()
    assert (run.errors, run.error_log) == (0, "")
    assert run.details["points_expired"] == 360
    for member in members:
        assert LedgerEntry.objects.filter(member=member, kind="expire").count() == 1
    assert PointLot.objects.get(entry=later).remaining == 30
