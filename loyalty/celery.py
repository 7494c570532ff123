"""The Celery app. Without REDIS_URL the settings make every task run eagerly in process, except
in the demo (`make run`: LOYALTY_DEMO_BROKER), where a worker takes them from a folder."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **kwargs):
    """Django's end-of-request rule for the worker's database connections (settings'
    CELERY_DB_REUSE_MAX says why); an eager task runs inside its caller's request."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_ready.connect
def _demo_jobs_at_start(sender=None, **kwargs):
    """The demo's worker runs today's scheduled jobs at once (loyalty/core/startup.py)."""
    from django.conf import settings

    if settings.LOYALTY_DEMO_RUN_JOBS_AT_START:
        from loyalty.core.startup import scheduled_jobs_send

        scheduled_jobs_send(app)
