"""The demo's worker runs the day's scheduled jobs when it starts (LOYALTY_DEMO_RUN_JOBS_AT_START,
set only by `make run`): a demo started at noon would otherwise wait until the small hours for
the anniversary, birthday and expiry jobs, so its member's anniversary would never be paid while
anyone looks. Production leaves it off: beat alone runs the schedule at its hours.

What it sends is the schedule itself (django-celery-beat's PeriodicTask rows): every enabled
crontab task due today (its day of month, month and weekday match today) that has not run
today, with its own arguments and queue. A job run twice for a day pays nothing twice
(loyalty/core/jobs.py), so beat's own send at the usual hour changes nothing.
"""

from __future__ import annotations

import json
import logging

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

logger = logging.getLogger(__name__)


def due_today(task: PeriodicTask, now=None) -> bool:
    """Whether a crontab task fires on today's date (in its schedule's time zone) and did not
    run yet today."""
    now = timezone.localtime(now)
    cron = task.crontab.schedule
    here = now.astimezone(task.crontab.timezone)
    if (
        here.month not in cron.month_of_year
        or here.day not in cron.day_of_month
        or here.isoweekday() % 7 not in cron.day_of_week
    ):
        return False
    last = task.last_run_at
    return last is None or timezone.localtime(last, here.tzinfo).date() < here.date()


def scheduled_jobs_send(app, now=None) -> list[str]:
    """Send every enabled crontab task due today that has not run today; their names."""
    sent = []
    tasks = PeriodicTask.objects.filter(enabled=True, crontab__isnull=False, one_off=False)
    for task in tasks.select_related("crontab").order_by("crontab__hour", "crontab__minute"):
        if not due_today(task, now):
            continue
        logger.info("Demo start: running the scheduled job %r (%s) now.", task.name, task.task)
        app.send_task(
            task.task,
            args=json.loads(task.args or "[]"),
            kwargs=json.loads(task.kwargs or "{}"),
            queue=task.queue or None,
        )
        sent.append(task.name)
    return sent
