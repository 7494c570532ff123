"""How jobs run: run_job, the Celery tasks, JobRun and its batches, the beat schedule, admin."""

import importlib
from datetime import date
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from loyalty.celery import app as celery_app
from loyalty.core import jobs, tasks
from loyalty.core.models import JobBatch, JobRun, LedgerEntry, Tier
from rewards import occasions
from rewards import tasks as reward_tasks
from rewards.models import OccasionGrant
from tests.jobs.conftest import enroll, run

pytestmark = pytest.mark.django_db


JOB_TASKS = {
    "anniversary": "rewards.tasks.anniversary_task",
    "birthdays": "rewards.tasks.birthdays_task",
    "tier_review": "loyalty.tasks.tier_review_task",
    "expiry": "loyalty.tasks.points_expiry_task",
    "housekeeping": "loyalty.tasks.housekeeping_task",
}


def _command(*args) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name", list(JOB_TASKS))
def test_run_job_runs_any_job_for_a_given_day(tiers, name):
    # when
    output = _command(name, "--date", "2026-03-01")
    # then
    job = JobRun.objects.get()
    assert (job.name, job.day, job.trigger) == (name, date(2026, 3, 1), "manual")
    assert job.finished_at is not None and job.batches_done == job.batches_planned
    assert output.startswith(f"{job.label} for 2026-03-01: run {job.pk}, ")


def test_run_job_pays_and_reports_the_counts(tiers):
    # given
    enroll(joined_on=date(2023, 3, 1))
    # when
    output = _command("anniversary", "--date", "2026-03-01")
    # then
    assert "1 considered, 1 paid or changed, 0 skipped, 0 error(s)" in output
    assert "anniversary_points 80" in output


def test_run_job_refuses_an_unknown_job_and_a_bad_date(db):
    with pytest.raises(CommandError):
        _command("nonsense")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        _command("anniversary", "--date", "1 March")
    assert not JobRun.objects.exists()


def test_the_beat_task_plans_and_enqueues_the_batches_after_commit(
    tiers, settings, django_capture_on_commit_callbacks
):
    # given
    settings.LOYALTY_JOB_BATCH_SIZE = 2
    members = [enroll(joined_on=date(2020 + n, 3, 1)) for n in range(3)]
    # when: eager Celery, as without REDIS_URL; the batches go out when the plan commits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_id = reward_tasks.anniversary_task.delay(day="2026-03-01").get()
        assert not OccasionGrant.objects.exists()  # nothing paid before the commit
    # then
    job = JobRun.objects.get(pk=run_id)
    assert len(callbacks) >= 1
    assert (job.trigger, job.batches_planned, job.batches_done, job.paid) == ("schedule", 2, 2, 3)
    assert OccasionGrant.objects.filter(member__in=members).count() == 3


def test_every_job_task_acks_late_and_is_rejected_when_its_worker_is_lost():
    celery_app.loader.import_default_modules()
    for name in [*JOB_TASKS.values(), "loyalty.tasks.job_batch_task"]:
        task = celery_app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost, name


def test_retries_wait_well_within_the_visibility_timeout(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert [tasks.retry_countdown(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4}
    assert tasks.retry_countdown(3) == 2


def test_a_batch_delivered_twice_is_done_and_counted_once(tiers):
    # given: a run whose one batch was done
    member = enroll(joined_on=date(2022, 3, 1))
    job = run("anniversary", date(2026, 3, 1))
    # when: the broker hands the same batch out again
    again = jobs.batch_run(run_id=job.pk, number=1, step="anniversary", ids=[member.pk])
    # then
    assert again is None
    job.refresh_from_db()
    assert (job.batches_done, job.considered, job.paid) == (1, 1, 1)
    assert JobBatch.objects.filter(run=job).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind="gift").count() == 1


def test_a_failing_batch_is_rolled_back_recorded_and_the_run_completes(
    tiers, settings, monkeypatch
):
    # given: batches of 1; the second member's batch fails
    settings.LOYALTY_JOB_BATCH_SIZE = 1
    first = enroll(joined_on=date(2021, 3, 1))
    second = enroll(joined_on=date(2022, 3, 1))
    pay = occasions.anniversary_batch

    def flaky(*, ids, day, run=None):
        counts = pay(ids=ids, day=day, run=run)
        if second.pk in ids:
            raise ValueError("boom")
        return counts

    monkeypatch.setattr(occasions, "anniversary_batch", flaky)
    # when
    job = run("anniversary", date(2026, 3, 1))
    # then
    assert OccasionGrant.objects.filter(member=first).count() == 1
    assert not OccasionGrant.objects.filter(member=second).exists()
    assert not LedgerEntry.objects.filter(member=second, kind="gift").exists()
    assert (job.batches_done, job.paid, job.errors) == (2, 1, 1)
    assert job.finished_at is not None
    assert "batch 2 (anniversary, 1 ids): ValueError: boom" in job.error_log
    # and a second run pays what is left
    monkeypatch.undo()
    assert run("anniversary", date(2026, 3, 1)).paid == 1


def test_a_transient_failure_is_retried_not_recorded(tiers, monkeypatch):
    # given
    member = enroll(joined_on=date(2022, 3, 1))
    job = JobRun.objects.create(name="anniversary", day=date(2026, 3, 1), batches_planned=1)

    def deadlock(**kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(occasions, "anniversary_batch", deadlock)
    # when / then
    with pytest.raises(jobs.RetryLater):
        jobs.batch_run(
            run_id=job.pk, number=1, step="anniversary", ids=[member.pk], final_attempt=False
        )
    assert not JobBatch.objects.exists()
    job.refresh_from_db()
    assert (job.errors, job.batches_done) == (0, 0)


def test_the_schedule_is_in_the_database_in_the_programs_time_zone(db):
    # given
    migration = importlib.import_module("loyalty.core.migrations.0005_job_schedule")
    # when: run twice (the test database ran it once already)
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)
    # then
    celery_app.loader.import_default_modules()
    scheduled = PeriodicTask.objects.filter(name__startswith="jobs: ")
    assert sorted(scheduled.values_list("task", flat=True)) == sorted(JOB_TASKS.values())
    for task in scheduled:
        assert task.enabled and task.crontab is not None and task.task in celery_app.tasks
        assert str(task.crontab.timezone) == settings.TIME_ZONE
    review = scheduled.get(task=JOB_TASKS["tier_review"])
    assert (review.crontab.day_of_month, review.crontab.hour) == ("1", "3")


def test_the_admin_shows_job_runs_read_only(admin_client, tiers):
    # given
    enroll(joined_on=date(2023, 3, 1))
    job = run("anniversary", date(2026, 3, 1))
    # when
    changelist = admin_client.get(reverse("admin:loyalty_jobrun_changelist"))
    page = admin_client.get(reverse("admin:loyalty_jobrun_change", args=[job.pk]))
    add = admin_client.get(reverse("admin:loyalty_jobrun_add"))
    # then
    assert changelist.status_code == 200 and "Anniversary thank-you" in changelist.text
    assert page.status_code == 200 and "anniversary_points" in page.text
    assert add.status_code == 403
    assert 'name="_save"' not in page.text
    tiers_page = admin_client.get(reverse("admin:loyalty_tier_changelist"))
    assert "anniversary bonus" in tiers_page.text.lower()


def test_staff_set_a_tiers_anniversary_bonus_or_leave_it_empty(admin_client, tiers):
    # given
    url = reverse("admin:loyalty_tier_change", args=[tiers["silver"].pk])
    form = {
        "code": "silver",
        "name": "Silver",
        "rank": "1",
        "qualifying_points": "500",
        "earn_multiplier": "1.25",
        "discount_percent": "5",
        "benefits_en": "",
    }
    # when
    saved = admin_client.post(
        url, {**form, "anniversary_bonus_base": "150", "anniversary_bonus_per_year": ""}
    )
    refused = admin_client.post(url, {**form, "anniversary_bonus_base": "-5"})
    # then
    assert saved.status_code == 302
    assert refused.status_code == 200
    silver = Tier.objects.get(pk=tiers["silver"].pk)
    assert (silver.anniversary_bonus_base, silver.anniversary_bonus_per_year) == (150, 0)
