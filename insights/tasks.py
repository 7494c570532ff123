"""Celery tasks of the insights app: thin; the jobs' runs and batches are idempotent."""

from celery import shared_task

from loyalty.core.jobs import job_start, parse_day
from loyalty.core.models import JobRun

from .simulator import simulation_run

JOB_TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**JOB_TASK)
def insights_task(day: str | None = None) -> int:
    """Nightly (beat): the ladder and the dashboard's figures for `day` (default today)."""
    return job_start(name="insights", day=parse_day(day), trigger=JobRun.Trigger.SCHEDULE).pk


@shared_task(**JOB_TASK)
def campaigns_task() -> int:
    """Every 10 minutes (beat): whatever a launched campaign has still to send (a launch starts
    this job itself; the beat picks up what an outage left)."""
    return job_start(name="campaigns", trigger=JobRun.Trigger.SCHEDULE).pk


@shared_task(**JOB_TASK)
def simulation_task(simulation_id: int) -> None:
    """A draft's simulation (queued by insights.drafts.simulation_request after commit)."""
    simulation_run(simulation_id=simulation_id)
