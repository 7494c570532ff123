"""The webhook relay: one process (`manage.py webhooks_relay`) that sends the outbox's due
deliveries in batches.

Why a process of its own: a Celery task a delivery costs the request a broker publish after
commit and the worker a task (receive, acknowledge, a claim, a read, a record, each its own
round trip), for every purchase; the production-shaped benchmark measured those as the largest
part of a purchase's CPU (bench/RESULTS.md). With `LOYALTY_WEBHOOK_RELAY` on, a request records
the event and its deliveries in its own transaction and enqueues nothing; the relay finds them
within `IDLE_SECONDS` and, per batch:

1. claims up to `BATCH_SIZE` due deliveries in one transaction (`FOR UPDATE SKIP LOCKED`, so
   two relays, or a relay and a Celery attempt, never take the same delivery; the claim is the
   same lease `delivery_claim` takes, so a relay that dies mid-batch leaves the lease to run
   out and its deliveries are sent again, at least once);
2. reads them with their events and endpoints in one query;
3. sends each endpoint's deliveries one after another on a kept-alive connection, the
   endpoints side by side (`SEND_THREADS`); after an endpoint's first unanswered attempt (down,
   refusing, timing out) its other deliveries of the batch are not tried but put back for the
   same backoff, so a dead endpoint costs one timeout a batch, not one a delivery;
4. records the successes in one UPDATE per status code and each failure as `delivery_attempt`
   does (backoff, the retry window, failing for good).

Nothing is lost when the relay is down: the deliveries stay due, and the beat's minutely
dispatcher still hands whatever is due to the Celery worker. The relay needs no Redis.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.db import DatabaseError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone

from .delivery import (
    CLAIM_LEASE,
    AttemptResult,
    _record,
    _record_failed,
    backoff_delay,
    delivery_request,
    erased_events_settle,
    http_post,
)
from .models import ERASED_EVENT, WebhookDelivery

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
IDLE_SECONDS = 0.2  # the longest an event waits for the relay when it is idle
SEND_THREADS = 8  # endpoints sent to side by side
ERROR_PAUSE_SECONDS = 2.0  # after the database is out of reach


def deliveries_claim(*, limit: int = BATCH_SIZE, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due deliveries, oldest due first, for one attempt each: their lease
    starts now. Rows another transaction holds are skipped, not waited for."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                :limit
            ]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(
                next_attempt_at=now + CLAIM_LEASE, last_attempt_at=now
            )
    return ids


def _send_to_endpoint(deliveries: list[WebhookDelivery]) -> list[AttemptResult | None]:
    """POST each delivery in order; None for those not tried after the endpoint stopped
    answering."""
    results: list[AttemptResult | None] = []
    unanswered = False
    for delivery in deliveries:
        if unanswered:
            results.append(None)
            continue
        body, headers = delivery_request(delivery)
        result = http_post(delivery.endpoint.url, body, headers)
        unanswered = result.status_code is None
        results.append(result)
    return results


def _send(groups: list[list[WebhookDelivery]]) -> list[list[AttemptResult | None]]:
    if len(groups) <= 1:
        return [_send_to_endpoint(group) for group in groups]
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(groups))) as pool:
        return list(pool.map(_send_to_endpoint, groups))


def relay_batch(*, limit: int = BATCH_SIZE) -> int:
    """Claim, send and record one batch. Returns how many deliveries it claimed."""
    ids = deliveries_claim(limit=limit)
    if not ids:
        return 0
    deliveries = list(
        WebhookDelivery.objects.filter(pk__in=ids)
        .select_related("event", "endpoint")
        .order_by("next_attempt_at", "pk")
    )
    by_endpoint: dict[int, list[WebhookDelivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.endpoint.is_active:
            by_endpoint[delivery.endpoint_id].append(delivery)
        else:
            _record_failed(delivery, error="The endpoint is not active; nothing was sent.")
    groups = list(by_endpoint.values())
    delivered: dict[int, list[int]] = defaultdict(list)  # status code -> delivery ids
    not_tried: list[int] = []
    failed = 0
    erased_done: list = []
    for group, results in zip(groups, _send(groups), strict=True):
        for delivery, result in zip(group, results, strict=True):
            if result is None:
                not_tried.append(delivery.pk)
            elif result.ok:
                delivered[result.status_code].append(delivery.pk)
                if delivery.event.type == ERASED_EVENT:
                    erased_done.append(delivery.event_id)
            else:
                failed += 1
                status = _record(delivery, result)
                if delivery.event.type == ERASED_EVENT and status != WebhookDelivery.Status.PENDING:
                    erased_done.append(delivery.event_id)
    now = timezone.now()
    for status_code, delivered_ids in delivered.items():
        WebhookDelivery.objects.filter(
            pk__in=delivered_ids, status=WebhookDelivery.Status.PENDING
        ).update(
            status=WebhookDelivery.Status.DELIVERED,
            delivered_at=now,
            last_status_code=status_code,
            last_error="",
            attempts=F("attempts") + 1,
        )
    if not_tried:  # back with the failed attempt's backoff, no attempt counted
        WebhookDelivery.objects.filter(
            pk__in=not_tried, status=WebhookDelivery.Status.PENDING
        ).update(next_attempt_at=Least(F("retry_until"), Value(now + backoff_delay(1))))
    if erased_done:
        erased_events_settle(event_ids=erased_done)
    logger.info(
        "Webhook relay: %d delivered, %d failed attempts, %d put back (endpoint unreachable).",
        sum(map(len, delivered.values())),
        failed,
        len(not_tried),
    )
    return len(ids)


def relay_run(
    *, stop: threading.Event, batch_size: int = BATCH_SIZE, idle_seconds: float = IDLE_SECONDS
) -> None:
    """Send batches until `stop` is set: at once again after a full batch, else after
    `idle_seconds`. The database out of reach pauses the relay, it does not end it."""
    while not stop.is_set():
        try:
            claimed = relay_batch(limit=batch_size)
        except DatabaseError as exc:
            logger.warning("Webhook relay: the database is out of reach (%r); trying again.", exc)
            connections.close_all()
            stop.wait(ERROR_PAUSE_SECONDS)
            continue
        if claimed < batch_size:
            stop.wait(idle_seconds)
