"""Catch-up jobs: a job that pays for days (the anniversary and birthday gifts) covers every day
since its last completed run, so days the job did not run are paid later, never lost.

A run of such a job (hooks.Job with `catch_up=True`) covers its day and the days before it back
to the day after the last *completed* run of that job (finished, without errors) with an
earlier day, at least LOYALTY_JOB_CATCHUP_DAYS and at most MAX_DAYS days back (the window must
stay shorter than a year, so it never holds two of a member's yearly occasions). When the last
completed run is further back, or none is on record, the run covers the usual window and says
so loudly: the numbers in the run's `details["catch_up"]` (worded in the admin by
`catch_up_notice`), an error in the log, and an e-mail to the alerts group through the outbox.
Staff then run the job by hand for the missed days (`run_job NAME --date YYYY-MM-DD`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.outbox import email_enqueue
from notifications.staff import staff_emails

from .models import JobRun

logger = logging.getLogger(__name__)

# The farthest back a run reaches: 364 days before its day, 365 days in all. Two occurrences of
# a yearly occasion are at least 365 days apart, so the window never holds two of them.
MAX_DAYS = 364

EMAIL_KIND = "job_catch_up"


@dataclass(frozen=True)
class Coverage:
    """The days a run covers (`first` to its day) and what it could not cover."""

    first: date
    last_completed: date | None  # the day of the last completed run before this one
    not_covered: int  # days between the last completed run and `first` left unpaid

    @property
    def alarming(self) -> bool:
        return self.last_completed is None or self.not_covered > 0

    def as_details(self) -> dict:
        return {
            "from": self.first.isoformat(),
            "last_completed": self.last_completed.isoformat() if self.last_completed else None,
            "not_covered": self.not_covered,
        }


def job_coverage(*, name: str, day: date) -> Coverage:
    """What a run of job `name` for `day` covers (read-only: plan and batch agree on it)."""
    usual = day - timedelta(days=settings.LOYALTY_JOB_CATCHUP_DAYS)
    last = (
        JobRun.objects.filter(name=name, day__lt=day, finished_at__isnull=False, errors=0)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    if last is None:
        return Coverage(first=usual, last_completed=None, not_covered=0)
    since = last + timedelta(days=1)
    if since >= day - timedelta(days=MAX_DAYS):
        return Coverage(first=min(since, usual), last_completed=last, not_covered=0)
    return Coverage(first=usual, last_completed=last, not_covered=(usual - since).days)


def covered_days(*, name: str, day: date, run: JobRun | None = None) -> list[date]:
    """The days a run for `day` covers, newest first: the ones its start recorded (so every
    batch covers what the plan did), else as `job_coverage` finds them now."""
    recorded = (run.details or {}).get("catch_up") if run is not None else None
    if recorded:
        first = date.fromisoformat(recorded["from"])
    else:
        first = job_coverage(name=name, day=day).first
    return [day - timedelta(days=n) for n in range((day - first).days + 1)]


def catch_up_record(*, run: JobRun) -> Coverage:
    """At a run's start, in its transaction: record what it covers and, if days are left
    unpaid or no run is on record, log an error and e-mail the alerts group (the outbox)."""
    coverage = job_coverage(name=run.name, day=run.day)
    run.details = {**(run.details or {}), "catch_up": coverage.as_details()}
    run.save(update_fields=["details"])
    if coverage.alarming:
        logger.error(
            "Job %s for %s (run %s): %s day(s) before %s could not be covered "
            "(last completed run: %s); run `manage.py run_job %s --date YYYY-MM-DD` for them.",
            run.name,
            run.day,
            run.pk,
            coverage.not_covered if coverage.last_completed else "unknown",
            coverage.first,
            coverage.last_completed or "none on record",
            run.name,
        )
        email_enqueue(kind=EMAIL_KIND, object_id=run.pk)
    return coverage


def next_date_to_run(run: JobRun) -> date | None:
    """The day to run the job for by hand first to pay what this run could not: the farthest a
    run reaches from the last completed one (None when no run is on record)."""
    recorded = (run.details or {}).get("catch_up") or {}
    last = recorded.get("last_completed")
    if not last:
        return None
    return min(date.fromisoformat(last) + timedelta(days=MAX_DAYS + 1), run.day)


def catch_up_notice(run: JobRun) -> str:
    """What staff should know and do about a run's uncovered days ('' when nothing), in the
    active language."""
    recorded = (run.details or {}).get("catch_up") or {}
    if not recorded:
        return ""
    values = {
        "job": run.name,
        "first": recorded["from"],
        "last": recorded.get("last_completed"),
        "count": recorded.get("not_covered", 0),
        "next": next_date_to_run(run),
        "max": MAX_DAYS + 1,
    }
    if not values["last"]:
        return (
            _(
                "No earlier completed run of this job is on record, so this run covered only "
                "the days from %(first)s. If the job was stopped before, days may be missed: "
                "run `manage.py run_job %(job)s --date YYYY-MM-DD` for the first missed day, "
                "then for a day up to %(max)s days later, until the gap is closed."
            )
            % values
        )
    if not values["count"]:
        return ""
    return ngettext(
        "%(count)s day after the last completed run (%(last)s) could not be covered: this run "
        "covered only the days from %(first)s. Run `manage.py run_job %(job)s --date %(next)s`, "
        "then again up to %(max)s days later each time, until the gap is closed.",
        "%(count)s days after the last completed run (%(last)s) could not be covered: this run "
        "covered only the days from %(first)s. Run `manage.py run_job %(job)s --date %(next)s`, "
        "then again up to %(max)s days later each time, until the gap is closed.",
        values["count"],
    ) % {**values, "next": values["next"].isoformat()}


def catch_up_emails(run_id: int) -> list:
    """The alert's e-mails (the outbox kind "job_catch_up") to the alerts group, one per
    language they read, rendered when sent."""
    run = JobRun.objects.filter(pk=run_id).first()
    if run is None or not catch_up_notice(run):
        return []
    link = settings.SITE_URL + reverse("admin:loyalty_jobrun_change", args=[run.pk])

    def render() -> tuple[str, str]:
        subject = _("Loyalty job %(job)s for %(day)s: days may be missed") % {
            "job": run.label,
            "day": run.day.isoformat(),
        }
        body = "\n".join([catch_up_notice(run), "", _("The job run:"), link, ""])
        return subject, body

    return staff_emails(settings.LOYALTY_ALERTS_GROUP, render)
