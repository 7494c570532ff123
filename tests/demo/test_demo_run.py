"""`make run` without Redis, as the Makefile and Procfile.demo run it: migrate and seed a fresh
SQLite file, then a Celery worker with beat on the filesystem broker. Within two minutes its log
shows a scheduled job run and the demo member's anniversary is in her history."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.demo_run


def demo_env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CELERY_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL"):
        keep.pop(name, None)
    return {
        **keep,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOYALTY_DEMO_BROKER": str(tmp_path / "broker"),
        "LOYALTY_DEMO_RUN_JOBS_AT_START": "1",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, **(extra or {})},
        check=True,
        capture_output=True,
        timeout=300,
    )


def anniversary_paid(db: Path) -> bool:
    with sqlite3.connect(db, timeout=20) as conn:
        row = conn.execute(
            "SELECT count(*) FROM rewards_occasiongrant g "
            "JOIN accounts_member m ON m.id = g.member_id "
            "JOIN accounts_user u ON u.id = m.user_id "
            "JOIN loyalty_ledgerentry e ON e.cause_id = g.id AND e.member_id = m.id "
            "WHERE g.occasion = 'anniversary' AND u.email = 'member@example.com'"
        ).fetchone()
    return row[0] > 0


def test_make_run_pays_the_demo_members_anniversary_within_two_minutes(tmp_path):
    env = demo_env(tmp_path)
    seed_mail = {"EMAIL_URL": f"filemail:///{tmp_path / 'mail'}"}
    manage(env, "migrate", "--noinput", extra={"LOYALTY_DEMO_BROKER": ""})
    manage(env, "seed_demo", extra={**seed_mail, "LOYALTY_DEMO_BROKER": ""})
    manage(env, "seed_crowd", extra={**seed_mail, "LOYALTY_DEMO_BROKER": ""})
    assert not anniversary_paid(tmp_path / "db.sqlite3")
    worker_line = next(
        line.split(":", 1)[1].split()
        for line in (ROOT / "Procfile.demo").read_text().splitlines()
        if line.startswith("worker:")
    )
    command = [sys.executable, "-m", "celery", *worker_line[1:]]
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if (
                "Task rewards.tasks.anniversary_task" in text
                and "succeeded" in text
                and anniversary_paid(tmp_path / "db.sqlite3")
            ):
                break
            assert worker.poll() is None, text[-3000:]
            time.sleep(1)
        else:
            pytest.fail("no anniversary within 120 s:\n" + log.read_text()[-3000:])
        text = log.read_text(errors="replace")
        assert "Job anniversary for" in text
        assert "database is locked" not in text
        assert "catch_up" not in text and "could not be covered" not in text
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
