"""Fault injection on a served stack (DEBUG off, throttling on, a Celery worker, a partner with
a webhook endpoint): Redis killed during a stream of requests, PostgreSQL restarted, a worker
killed in the middle of a job, a member's tier changing under their purchases. After each the
ledger invariants hold, nothing that answered success is lost, and what must leave the building
leaves it, once."""

import os
import signal
import threading
import time
import uuid

import pytest
import redis
import requests

from tests.worker import wait_until

# (one process of a run takes them all: the stack is started once, not once a process)
pytestmark = [pytest.mark.faults, pytest.mark.xdist_group("faults")]


def _enrol(partner, email: str):
    return partner.post("/api/v1/members/", {"email": email}, key=f"enrol-{email}")


def _purchase(partner, number: str, external_id: str, amount: str = "10.00"):
    body = {
        "member_number": number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
    }
    return partner.post("/api/v1/purchases/", body, key=f"key-{external_id}")


def test_redis_killed_during_a_stream_loses_nothing_and_everything_goes_out_once(stack, partner):
    # given: a member to buy for
    member = _enrol(partner, f"stream-{uuid.uuid4().hex[:6]}@example.com").json()
    run = uuid.uuid4().hex[:6]
    answers = {}

    def stream(start: int, count: int) -> None:
        for i in range(start, start + count):
            external_id = f"R-{run}-{i}"
            if i % 5 == 0:  # an enrolment now and then: its welcome e-mail must go out too
                response = _enrol(partner, f"r{run}-{i}@example.com")
            else:
                response = _purchase(partner, member["member_number"], external_id)
            answers[external_id] = response.status_code if response is not None else None

    # when: requests before, during and after an outage of Redis (broker and throttle cache)
    stream(0, 20)
    stack.redis.kill()
    stream(20, 30)
    stack.redis.start()
    stream(50, 20)
    # then: every request answered, and none with a 500 (the throttle fails open, the broker's
    # outage only delays what it carries)
    assert set(answers.values()) <= {201}, answers
    purchases = stack.postgres.scalar(
        "SELECT count(*) FROM loyalty_purchase WHERE external_id LIKE %s", (f"R-{run}-%",)
    )
    assert purchases == sum(1 for i in range(70) if i % 5)
    # and once the dispatcher has run, every webhook event and every e-mail went out, once each
    stack.dispatch()
    events = stack.postgres.scalar("SELECT count(*) FROM webhooks_webhookevent")
    wait_until(lambda: len(stack.receiver.events) >= events, 60, "the webhook events")
    assert set(stack.receiver.events.values()) == {1}
    emails = stack.postgres.scalar("SELECT count(*) FROM notifications_outgoingemail")
    wait_until(
        lambda: (
            stack.postgres.scalar(
                "SELECT count(*) FROM notifications_outgoingemail WHERE status = 'sent'"
            )
            == emails
        ),
        60,
        "the e-mails",
    )
    assert set(stack.mails().values()) == {1}
    assert len(stack.mails()) >= 14  # the welcome e-mail of each enrolment
    assert stack.ledger_problems() == ""


def test_postgres_restarted_answers_503_then_retries_take_effect_once(stack, partner):
    # given
    member = _enrol(partner, f"pg-{uuid.uuid4().hex[:6]}@example.com").json()
    run = uuid.uuid4().hex[:6]
    ids = [f"P-{run}-{i}" for i in range(30)]
    answers = {}
    # when: PostgreSQL stops in the middle of a stream, and comes back
    for i, external_id in enumerate(ids):
        if i == 10:
            stack.postgres.stop("fast")
        if i == 20:
            stack.postgres.start()
        response = _purchase(partner, member["member_number"], external_id)
        answers[external_id] = response
    # then: during the outage a 503 problem with Retry-After, never a 500
    statuses = {external_id: r.status_code for external_id, r in answers.items()}
    assert set(statuses.values()) <= {201, 503}, statuses
    unavailable = [r for r in answers.values() if r.status_code == 503]
    assert unavailable, "the outage did not show"
    assert all(r.json()["code"] == "service_unavailable" for r in unavailable)
    assert all(r.headers["Retry-After"] == "30" for r in unavailable)
    # when: the partner retries every request, with the same keys
    retried = {
        external_id: _purchase(partner, member["member_number"], external_id) for external_id in ids
    }
    # then: each purchase exactly once
    assert {r.status_code for r in retried.values()} == {201}
    for external_id in ids:
        assert (
            stack.postgres.scalar(
                "SELECT count(*) FROM loyalty_purchase WHERE external_id = %s", (external_id,)
            )
            == 1
        )
    balance = stack.postgres.scalar(
        "SELECT points_balance FROM accounts_member WHERE member_number = %s",
        (member["member_number"],),
    )
    assert balance == 10 * len(ids)
    assert stack.ledger_problems() == ""


def test_a_worker_killed_in_the_middle_of_a_job_is_relieved_and_pays_once(stack):
    # given: members whose anniversary is the job's day, and a slow worker (a second a member)
    members = 6
    stack.python(
        "from datetime import date\n"
        "from loyalty.core.enrolment import member_enroll\n"
        f"for n in range({members}):\n"
        "    member_enroll(email=f'job{n}@example.com', joined_on=date(2015 + n, 3, 1))\n"
    )
    stack.stop_workers()
    slow = stack.start_worker(LOYALTY_JOB_BATCH_DELAY=1.0, LOG_LEVEL="INFO")
    # when: the job starts through the broker, and the worker is killed in its first batch
    stack.manage(
        "run_job", "anniversary", "--date", "2026-03-01", "--via-broker", LOYALTY_JOB_BATCH_SIZE=3
    )
    wait_until(
        lambda: "batch 1/2" in slow.log_path.read_text(errors="replace"), 60, "the first batch"
    )
    time.sleep(1.0)
    os.killpg(slow.pid, signal.SIGKILL)
    slow.wait(15)
    started = time.monotonic()
    stack.start_worker()
    # then: the new worker takes the batch over once its message comes back, and the run ends
    wait_until(
        lambda: stack.postgres.scalar(
            "SELECT count(*) FROM loyalty_jobrun WHERE name = 'anniversary' "
            "AND finished_at IS NOT NULL"
        ),
        120,
        "the anniversary run to finish",
    )
    assert time.monotonic() - started < 120
    errors, planned, done = (
        stack.postgres.scalar(f"SELECT {column} FROM loyalty_jobrun WHERE name = 'anniversary'")
        for column in ("errors", "batches_planned", "batches_done")
    )
    assert (errors, planned, done) == (0, 2, 2)
    assert stack.postgres.scalar("SELECT count(*) FROM rewards_occasiongrant") == members
    assert (
        stack.postgres.scalar("SELECT count(DISTINCT member_id) FROM rewards_occasiongrant")
        == members
    )
    assert stack.ledger_problems() == ""


def test_a_tier_changing_under_a_members_purchases_never_answers_500(stack, partner):
    # given
    member = _enrol(partner, f"race-{uuid.uuid4().hex[:6]}@example.com").json()
    run = uuid.uuid4().hex[:6]
    stop = threading.Event()
    tiers = list(stack.tiers.values())

    def move_tiers():
        connection = stack.postgres.connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            n = 0
            while not stop.is_set():
                cursor.execute("BEGIN")
                cursor.execute(
                    "SELECT id FROM accounts_member WHERE member_number = %s FOR UPDATE",
                    (member["member_number"],),
                )
                cursor.execute(
                    "UPDATE accounts_member SET tier_id = %s WHERE member_number = %s",
                    (tiers[n % len(tiers)], member["member_number"]),
                )
                time.sleep(0.02)
                cursor.execute("COMMIT")
                n += 1
        connection.close()

    mover = threading.Thread(target=move_tiers)
    mover.start()
    # when: purchases from four tills while the member's tier keeps changing
    statuses = []

    def till(t: int) -> None:
        for i in range(15):
            response = _purchase(partner, member["member_number"], f"T-{run}-{t}-{i}")
            statuses.append(response.status_code if response is not None else None)

    tills = [threading.Thread(target=till, args=(t,)) for t in range(4)]
    for thread in tills:
        thread.start()
    for thread in tills:
        thread.join(120)
    stop.set()
    mover.join(30)
    # then
    assert statuses and set(statuses) == {201}, statuses
    assert stack.ledger_problems() == ""


# --- metrics ---------------------------------------------------------------------------------


def _purchases_counted(stack) -> float:
    text = requests.get(stack.url("/metrics"), timeout=30).text
    lines = [line for line in text.splitlines() if line.startswith("loyalty_purchases_total ")]
    return float(lines[0].split()[1]) if lines else 0.0


def test_metrics_add_up_every_web_workers_counts(stack, partner):
    # given: gunicorn with two worker processes (each answering some of the requests)
    member = _enrol(partner, f"metrics-{uuid.uuid4().hex[:6]}@example.com").json()
    before = _purchases_counted(stack)
    # when
    for i in range(20):
        response = _purchase(partner, member["member_number"], f"MET-{uuid.uuid4().hex[:8]}-{i}")
        assert response.status_code == 201
    # then: all twenty, whichever process recorded them and whichever answers (a new
    # connection each time: the processes take turns; each alone would know only its own)
    assert [_purchases_counted(stack) - before for _ in range(8)] == [20] * 8


# --- readiness ---------------------------------------------------------------------------------


def _readiness(stack) -> tuple[int, dict]:
    response = requests.get(stack.url("/readyz"), timeout=30)
    return response.status_code, response.json()


def _ready_again(stack) -> dict:
    def ready():
        status, body = _readiness(stack)
        return body if status == 200 else None

    return wait_until(ready, 90, "/readyz did not say ready again")


def _beat_last_ran(stack, minutes_ago: int) -> None:
    """Moves the every-minute tasks' last send back (as if the beat had been away so long)."""
    stack.python(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from django_celery_beat.models import PeriodicTask\n"
        "PeriodicTask.objects.filter(interval__every=1, interval__period='minutes').update("
        f"last_run_at=timezone.now() - timedelta(minutes={minutes_ago}))\n"
    )


def test_readyz_names_each_dependency_that_is_stopped_and_says_ready_when_it_is_back(stack):
    # given: the beat running (its every-minute tasks due at once), and a worker
    _beat_last_ran(stack, 2)
    stack.start_beat()
    if not stack.workers:
        stack.start_worker()
    assert _ready_again(stack) == {
        "ready": True,
        "database": "ok",
        "redis": "ok",
        "worker": "ok",
        "beat": "ok",
    }
    try:
        # when: Redis stops; then: not ready, Redis named
        stack.redis.kill()
        status, body = _readiness(stack)
        assert status == 503 and body["ready"] is False
        assert body["redis"] != "ok" and body["database"] == "ok"
        stack.redis.start()
        _ready_again(stack)

        # when: the worker stops; then: not ready, the worker named
        stack.stop_workers()
        status, body = _readiness(stack)
        assert status == 503
        assert body["worker"] != "ok" and body["redis"] == "ok" and body["database"] == "ok"
        stack.start_worker()
        _ready_again(stack)

        # when: the beat stops and its every-minute tick is overdue; then: the beat named
        stack.stop_beat()
        _beat_last_ran(stack, 5)
        status, body = _readiness(stack)
        assert status == 503
        assert body["beat"] != "ok" and body["worker"] == "ok" and body["database"] == "ok"
        stack.start_beat()
        _ready_again(stack)

        # when: PostgreSQL stops; then: not ready, the database named
        stack.postgres.stop("fast")
        status, body = _readiness(stack)
        assert status == 503 and body["database"] != "ok" and body["redis"] == "ok"
        stack.postgres.start()
        assert _ready_again(stack)["database"] == "ok"
    finally:
        if not stack.redis.answers():
            stack.redis.start()
        stack.stop_beat()


def test_the_relay_sends_every_event_once_through_its_restart_and_postgres_restarting(
    stack, partner
):
    # given: the webhook relay runs and no worker does (the web still sends a task a delivery to
    # the broker: those wait there, to be taken later)
    stack.stop_workers()
    stack.start_relay()
    started_at = stack.postgres.scalar("SELECT now()")
    member = _enrol(partner, f"relay-{uuid.uuid4().hex[:6]}@example.com").json()
    run = uuid.uuid4().hex[:6]
    answers = {}

    def ours() -> list[str]:
        return [
            str(row[0])
            for row in stack.postgres.rows(
                "SELECT id FROM webhooks_webhookevent WHERE created_at >= %s", (started_at,)
            )
        ]

    def stream(start: int, count: int) -> None:
        for i in range(start, start + count):
            response = _purchase(partner, member["member_number"], f"W-{run}-{i}")
            answers[i] = response.status_code if response is not None else None

    try:
        # when: purchases while it runs, while it is stopped, after it starts again, while
        # PostgreSQL restarts under it, and after
        stream(0, 15)
        stack.stop_relay()
        stream(15, 15)
        stack.start_relay()
        stream(30, 10)
        # (everything sent first: a restart between a batch's claim and its record leaves
        # those deliveries to their 5-minute lease, longer than this test waits)
        sent_so_far = ours()
        wait_until(
            lambda: all(stack.receiver.events[id] for id in sent_so_far), 60, "the events so far"
        )
        stack.postgres.stop("fast")
        time.sleep(3)  # the relay finds the database gone, and keeps trying
        stack.postgres.start()
        stream(40, 15)
        # then: each event reached the receiver, through the relay alone
        assert set(answers.values()) <= {201}, answers
        events = ours()
        assert len(events) >= 55
        wait_until(
            lambda: all(stack.receiver.events[id] for id in events), 60, "the relay's events"
        )
    finally:
        stack.stop_relay()
        # when: a worker takes the tasks the web sent meanwhile
        worker = stack.start_worker()
    queue = redis.Redis.from_url(stack.redis.url)
    wait_until(lambda: queue.llen(stack.queue) == 0, 60, "the worker to empty its queue")
    time.sleep(1)  # (its last task's attempt, if it made one)
    # then: it sent none again: every event went out exactly once
    assert {stack.receiver.events[id] for id in events} == {1}
    assert sorted(ours()) == sorted(events)
    assert worker.poll() is None
    assert stack.ledger_problems() == ""
