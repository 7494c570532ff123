"""The daily `housekeeping` job: partners' Idempotency-Keys past their retention and old
webhook deliveries are deleted, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from webhooks.delivery import deliveries_delete_older_than

from .jobs import Counts, keyset
from .models import IdempotencyRecord, JobRun


def _idempotency_cutoff() -> datetime:
    hours = max(int(settings.LOYALTY_IDEMPOTENCY_RETENTION_HOURS), 24)
    return timezone.now() - timedelta(hours=hours)


def idempotency_keys_plan(day: date, size: int) -> Iterator[list[int]]:
    return keyset(IdempotencyRecord.objects.filter(created_at__lt=_idempotency_cutoff()), size)


def idempotency_keys_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Delete partners' Idempotency-Keys past their retention (at least 24 hours)."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        pk__in=ids, created_at__lt=_idempotency_cutoff()
    ).delete()
    counts = Counts(considered=len(ids), paid=deleted, skipped=len(ids) - deleted)
    counts.details.update(idempotency_keys_deleted=deleted)
    return counts


def webhook_deliveries_cleanup(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    deliveries, events = deliveries_delete_older_than(days=settings.LOYALTY_WEBHOOK_RETENTION_DAYS)
    counts = Counts(considered=deliveries + events, paid=deliveries + events)
    counts.details.update(webhook_deliveries_deleted=deliveries, webhook_events_deleted=events)
    return counts
