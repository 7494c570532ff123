"""What the people who run the program look at: liveness, readiness and metrics.

- /healthz: the process answers (it asks nothing else), for a restart policy: 200.
- /readyz: whether it can do its work, each dependency by name: the database, Redis (the cache
  and the broker), a Celery worker (it answers a ping through the broker), the beat (the
  every-minute dispatchers were sent within the last three minutes). 200 when all are well,
  503 otherwise, JSON either way (django-health-check runs the checks). Without REDIS_URL (the
  embedded default, tasks run in process) only the database is asked.
- /metrics: Prometheus. Counted as they happen (loyalty.base.metrics, and django-prometheus's
  requests and responses), and read from the database when scraped: the job runs (the last
  run's duration and errors a job, failed batches in the last day), the e-mail and webhook
  outboxes (pending and failed), webhook deliveries that failed in the last day. With
  LOYALTY_METRICS_TOKEN set, /metrics asks for `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hmac
import os

import prometheus_client
from django.conf import settings
from django.db import connections
from django.db.models import Max
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django_celery_beat.models import PeriodicTask
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily

from loyalty.celery import app as celery_app
from loyalty.core.models import JobBatch, JobRun
from notifications.models import OutgoingEmail
from webhooks.models import WebhookDelivery

BEAT_LATE_AFTER = datetime.timedelta(minutes=3)


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@dataclasses.dataclass
class Beat(HealthCheck):
    """The beat is alive if the every-minute tasks were sent lately (it records each send:
    CELERY_BEAT_SYNC_EVERY = 1)."""

    def run(self):
        every_minute = PeriodicTask.objects.filter(
            enabled=True, interval__every=1, interval__period="minutes"
        )
        try:
            last = every_minute.aggregate(last=Max("last_run_at"))["last"]
        finally:
            # (a thread of the check's pool: its connection would outlive the request)
            connections.close_all()
        if last is None:
            raise ServiceUnavailable("no tick of the beat seen yet")
        if timezone.now() - last > BEAT_LATE_AFTER:
            raise ServiceUnavailable(f"the beat's last tick was at {last.isoformat()}")


NAMES = {"Database": "database", "Cache": "redis", "Ping": "worker", "Beat": "beat"}


class ReadyView(HealthCheckView):
    def get_checks(self):
        checks = [Database()]
        if settings.REDIS_URL:
            checks += [Cache(), Ping(app=celery_app), Beat()]
        return checks

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        ready = not any(result.error for result in self.results)
        body = {
            NAMES.get(type(result.check).__name__, type(result.check).__name__): (
                "ok" if result.error is None else str(result.error)
            )
            for result in self.results
        }
        answer = JsonResponse({"ready": ready, **body}, status=200 if ready else 503)
        for name in ("Cache-Control", "Expires", "Vary"):
            if name in response:
                answer[name] = response[name]
        return answer


readyz = ReadyView.as_view()


# --- metrics ------------------------------------------------------------------------------------


class DatabaseCollector:
    """What the database already knows, read when Prometheus scrapes (a few indexed queries)."""

    NAMES = (
        "loyalty_job_last_run_seconds",
        "loyalty_job_last_run_errors",
        "loyalty_job_last_run_age_seconds",
        "loyalty_job_failed_batches_last_day",
        "loyalty_outbox_pending",
        "loyalty_outbox_overdue_seconds",
        "loyalty_outbox_failed",
        "loyalty_webhook_deliveries_failed_last_day",
    )

    def describe(self):
        # (what registering asks: the names, without reading the database)
        return [GaugeMetricFamily(name, name) for name in self.NAMES]

    def collect(self):
        since = timezone.now() - datetime.timedelta(days=1)
        duration = GaugeMetricFamily(
            "loyalty_job_last_run_seconds",
            "Duration of the job's last finished run",
            labels=["job"],
        )
        errors = GaugeMetricFamily(
            "loyalty_job_last_run_errors", "Errors in the job's last finished run", labels=["job"]
        )
        age = GaugeMetricFamily(
            "loyalty_job_last_run_age_seconds",
            "Seconds since the job's last run ended",
            labels=["job"],
        )
        now = timezone.now()
        for name in JobRun.objects.values_list("name", flat=True).distinct():
            run = (
                JobRun.objects.filter(name=name, finished_at__isnull=False)
                .order_by("-finished_at")
                .first()
            )
            if run is None:
                continue
            duration.add_metric([name], (run.finished_at - run.started_at).total_seconds())
            errors.add_metric([name], run.errors)
            age.add_metric([name], (now - run.finished_at).total_seconds())
        yield from (duration, errors, age)
        yield GaugeMetricFamily(
            "loyalty_job_failed_batches_last_day",
            "Job batches that failed in the last 24 hours",
            value=JobBatch.objects.filter(finished_at__gte=since, errors__gt=0).count(),
        )
        # Each count reads one partial index (pending or failed rows, the few), never the whole
        # outbox: one aggregate with FILTERs read every row on every scrape.
        emails = {
            "pending": OutgoingEmail.objects.filter(status="pending").count(),
            "failed": OutgoingEmail.objects.filter(status="failed").count(),
        }
        outbox = GaugeMetricFamily(
            "loyalty_outbox_pending", "What waits to leave the building", labels=["outbox"]
        )
        failed_deliveries = WebhookDelivery.objects.filter(status="failed")
        webhooks = {
            "pending": WebhookDelivery.objects.filter(status="pending").count(),
            "failed": failed_deliveries.count(),
            "failed_lately": failed_deliveries.filter(last_attempt_at__gte=since).count(),
        }
        outbox.add_metric(["email"], emails["pending"])
        outbox.add_metric(["webhook"], webhooks["pending"])
        yield outbox
        # How long the longest-waiting due row has waited: a few minutes means nothing is
        # sending (the webhook relay or the workers are down, or the broker is): alert on it.
        # 0 when nothing is due. Read from the pending rows' partial index (its first entry).
        overdue = GaugeMetricFamily(
            "loyalty_outbox_overdue_seconds",
            "Seconds the longest-waiting due row has waited past its time",
            labels=["outbox"],
        )
        for name, model in (("email", OutgoingEmail), ("webhook", WebhookDelivery)):
            due = (
                model.objects.filter(status="pending", next_attempt_at__lte=now)
                .order_by("next_attempt_at")
                .values_list("next_attempt_at", flat=True)
                .first()
            )
            overdue.add_metric([name], (now - due).total_seconds() if due else 0.0)
        yield overdue
        failed = GaugeMetricFamily(
            "loyalty_outbox_failed", "What was given up on", labels=["outbox"]
        )
        failed.add_metric(["email"], emails["failed"])
        failed.add_metric(["webhook"], webhooks["failed"])
        yield failed
        yield GaugeMetricFamily(
            "loyalty_webhook_deliveries_failed_last_day",
            "Webhook deliveries given up on in the last 24 hours",
            value=webhooks["failed_lately"],
        )


_database = DatabaseCollector()
prometheus_client.REGISTRY.register(_database)


@never_cache
def metrics(request):
    token = settings.LOYALTY_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("Unauthorized", status=401, content_type="text/plain")
    registry = prometheus_client.REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # every gunicorn worker's counts, added up from the shared folder
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_database)
    return HttpResponse(
        prometheus_client.generate_latest(registry),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
