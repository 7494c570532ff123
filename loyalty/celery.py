"""The Celery app. Without REDIS_URL the settings make every task run eagerly in process, except
in the demo (`make run`: LOYALTY_DEMO_BROKER), where a worker takes them from a folder."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _demo_jobs_at_start(sender=None, **kwargs):
    """The demo's worker runs today's scheduled jobs at once (loyalty/core/startup.py)."""
    from django.conf import settings

    if settings.LOYALTY_DEMO_RUN_JOBS_AT_START:
        from loyalty.core.startup import scheduled_jobs_send

        scheduled_jobs_send(app)
