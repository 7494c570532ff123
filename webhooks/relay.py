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
3. sends each endpoint's first delivery alone, then the rest in up to `LANES_PER_ENDPOINT`
   lanes, each in order on a kept-alive connection of its own, the endpoints and lanes side by
   side (`SEND_THREADS`), for at most `BATCH_SECONDS` (what is left goes back, due, so no claim
   outlives its lease); after an endpoint's first unanswered attempt (down, refusing, timing
   out) its other deliveries of the batch are not tried: they wait as long as the failed
   attempt (no attempt counted; past their window they fail), and this relay leaves the
   endpoint's deliveries alone until then, so a dead endpoint costs one timeout per backoff
   (a few, when it dies while its lanes are sending) and its backlog does not hold up the
   other partners. Receivers get an endpoint's events in about the order they happened, not
   exactly (as with retries: they order by the event's own time where it matters);
4. records the successes in one UPDATE per status code and each failure as `delivery_attempt`
   does (backoff, the retry window, failing for good), each only while the batch still holds
   the delivery (its lease unchanged).

Nothing is lost when the relay is down: the deliveries stay due, and the beat's minutely
dispatcher still hands whatever is due to the Celery worker. The relay needs no Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.db import Error as DjangoDatabaseError
from django.db import connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone

from .delivery import (
    CLAIM_LEASE,
    DONE,
    AttemptResult,
    _record,
    _record_failed,
    backoff_delay,
    delivery_request,
    erased_events_settle,
    held_by_claim,
    http_post,
)
from .models import ERASED_EVENT, WebhookDelivery

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
IDLE_SECONDS = 0.2  # the longest an event waits for the relay when it is idle
SEND_THREADS = 8  # lanes sent side by side
# An endpoint's deliveries go out in up to this many lanes at once, each on a kept-alive
# connection of its own (urllib3 keeps 4 an origin): a partner answering in 200 ms takes 20 a
# second from one relay instead of 5.
LANES_PER_ENDPOINT = 4
# A batch sends for at most this long (plus one request's timeout), far inside the claim's lease:
# what it has not sent by then goes back, due, for the next batch; so no claim outlives its lease
# and nobody else sends a delivery this relay still holds.
BATCH_SECONDS = 60
ERROR_PAUSE_SECONDS = 2.0  # after the database is out of reach

# Endpoints this process found not answering, and until when it leaves their deliveries alone
# (the failed attempt's backoff): a dead endpoint's backlog does not fill every batch ahead of
# the other partners' deliveries.
_down: dict[int, datetime] = {}
_down_lock = threading.Lock()

UNANSWERED = "unanswered"  # not tried: the endpoint did not answer another of the batch
LATER = "later"  # not tried: the batch's time was up, or the relay is stopping


def _endpoints_down(now: datetime) -> list[int]:
    with _down_lock:
        for endpoint_id, until in list(_down.items()):
            if until <= now:
                del _down[endpoint_id]
        return list(_down)


def deliveries_claim(
    *, limit: int = BATCH_SIZE, now: datetime | None = None
) -> tuple[list[int], datetime]:
    """Take up to `limit` due deliveries, oldest due first, for one attempt each, skipping the
    endpoints this process knows are down: (their ids, the end of their lease). Rows another
    transaction holds are skipped, not waited for."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    down = _endpoints_down(now)
    if down:
        due = due.exclude(endpoint_id__in=down)
    lease_until = now + CLAIM_LEASE
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[
                :limit
            ]
        )
        if ids:
            # (last_attempt_at is set when the delivery is recorded, tried or failed: what the
            # batch puts back untried keeps its own)
            WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=lease_until)
    return ids, lease_until


class _Endpoint:
    """One endpoint's sending in a batch: whether it stopped answering (its lanes see it)."""

    def __init__(self):
        self.unanswering = threading.Event()


def _send_lane(
    deliveries: list[WebhookDelivery],
    results: list,
    indices: range,
    endpoint: _Endpoint,
    deadline: float,
    stop: threading.Event | None,
) -> None:
    """POST the deliveries at `indices` in order, each result in its place in `results`:
    UNANSWERED for those after the endpoint stopped answering (in this lane or another), LATER
    for those the batch had no time left for."""
    for index in indices:
        if endpoint.unanswering.is_set():
            results[index] = UNANSWERED
        elif time.monotonic() > deadline or (stop is not None and stop.is_set()):
            results[index] = LATER
        else:
            delivery = deliveries[index]
            body, headers = delivery_request(delivery)
            results[index] = http_post(delivery.endpoint.url, body, headers)
            if results[index].status_code is None:
                endpoint.unanswering.set()


def _send(groups, deadline: float, stop) -> list[list[AttemptResult | str]]:
    """Each endpoint's deliveries: the first alone (an endpoint that does not answer costs one
    attempt), then the rest in up to LANES_PER_ENDPOINT lanes side by side, each lane in order
    on a kept-alive connection of its own. Returns each group's results in its order."""
    answers = [[None] * len(group) for group in groups]
    endpoints = [_Endpoint() for _ in groups]
    together = list(zip(groups, answers, endpoints, strict=True))
    _run(
        [(group, results, range(1), endpoint) for group, results, endpoint in together],
        deadline,
        stop,
    )
    lanes = []
    for group, results, endpoint in together:
        rest = range(1, len(group))
        count = min(LANES_PER_ENDPOINT, len(rest))
        lanes += [(group, results, rest[lane::count], endpoint) for lane in range(count)]
    _run(lanes, deadline, stop)
    return answers


def _run(lanes, deadline: float, stop) -> None:
    """Send each (deliveries, results, indices, endpoint) lane, up to SEND_THREADS at once."""
    if len(lanes) <= 1:
        for lane in lanes:
            _send_lane(*lane, deadline, stop)
        return
    for _ in _senders().map(lambda lane: _send_lane(*lane, deadline, stop), lanes):
        pass  # (waits for every lane; a lane's error is raised here)


_pool: list[ThreadPoolExecutor] = []  # the process's sending threads, started once
_pool_lock = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            _pool.append(ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="webhook-relay"))
        return _pool[0]


def relay_batch(*, limit: int = BATCH_SIZE, stop: threading.Event | None = None) -> int:
    """Claim, send and record one batch. Returns how many deliveries it claimed."""
    ids, lease_until = deliveries_claim(limit=limit)
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
            _record_failed(
                delivery,
                error="The endpoint is not active; nothing was sent.",
                lease_until=lease_until,
            )
    groups = list(by_endpoint.values())
    deadline = time.monotonic() + BATCH_SECONDS
    delivered: dict[int, list[int]] = defaultdict(list)  # status code -> delivery ids
    later: list[int] = []
    unanswered: list[tuple[WebhookDelivery, datetime]] = []  # and when to try again
    failed = 0
    erased_done: list = []
    for group, results in zip(groups, _send(groups, deadline, stop), strict=True):
        retry_at = None
        untried = []  # (its lanes may have left some untried before the attempt that failed)
        for delivery, result in zip(group, results, strict=True):
            if result == LATER:
                later.append(delivery.pk)
            elif result == UNANSWERED:
                untried.append(delivery)
            elif result.ok:
                delivered[result.status_code].append(delivery.pk)
                if delivery.event.type == ERASED_EVENT:
                    erased_done.append(delivery.event_id)
            else:
                failed += 1
                status = _record(delivery, result, lease_until=lease_until)
                if result.status_code is None:  # the endpoint does not answer: its backoff
                    backoff_end = timezone.now() + backoff_delay(delivery.attempts + 1)
                    retry_at = max(retry_at, backoff_end) if retry_at else backoff_end
                    with _down_lock:
                        _down[delivery.endpoint_id] = retry_at
                if delivery.event.type == ERASED_EVENT and status in DONE:
                    erased_done.append(delivery.event_id)
        unanswered.extend((delivery, retry_at) for delivery in untried)
    now = timezone.now()
    held = held_by_claim(lease_until)
    for status_code, delivered_ids in delivered.items():
        held.filter(pk__in=delivered_ids).update(
            status=WebhookDelivery.Status.DELIVERED,
            delivered_at=now,
            last_attempt_at=now,
            last_status_code=status_code,
            last_error="",
            attempts=F("attempts") + 1,
        )
    if later:  # due again at once, no attempt counted
        held.filter(pk__in=later).update(next_attempt_at=now)
    erased_done += _put_back_unanswered(held, unanswered, now)
    if erased_done:
        erased_events_settle(event_ids=erased_done)
    logger.info(
        "Webhook relay: %d delivered, %d failed attempts, %d put back (endpoint unreachable), "
        "%d for the next batch.",
        sum(map(len, delivered.values())),
        failed,
        len(unanswered),
        len(later),
    )
    return len(ids)


def _put_back_unanswered(held, unanswered, now: datetime) -> list:
    """Deliveries not tried because their endpoint did not answer another: they wait as long as
    the failed attempt's (no attempt counted against them); past their retry window they fail
    for good. Returns the erased events among those failed."""
    given_up = [d for d, _retry_at in unanswered if d.retry_until <= now]
    if given_up:
        held.filter(pk__in=[d.pk for d in given_up]).update(
            status=WebhookDelivery.Status.FAILED,
            last_error="Gave up: the endpoint did not answer when the retry window closed.",
            last_attempt_at=now,  # (when it failed: what the failures' alert and housekeeping read)
        )
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for delivery, retry_at in unanswered:
        if delivery.retry_until > now:  # (retry_at: the endpoint's failed attempts' backoff)
            by_time[retry_at].append(delivery.pk)
    for retry_at, pks in by_time.items():
        held.filter(pk__in=pks).update(next_attempt_at=Least(F("retry_until"), Value(retry_at)))
    return [d.event_id for d in given_up if d.event.type == ERASED_EVENT]


def relay_run(
    *, stop: threading.Event, batch_size: int = BATCH_SIZE, idle_seconds: float = IDLE_SECONDS
) -> None:
    """Send batches until `stop` is set: at once again after a full batch, else after
    `idle_seconds`. Trouble (the database out of reach, anything unexpected) pauses the relay
    and is logged; it does not end it."""
    while not stop.is_set():
        try:
            claimed = relay_batch(limit=batch_size, stop=stop)
        except DjangoDatabaseError as exc:
            logger.warning("Webhook relay: the database is out of reach (%r); trying again.", exc)
            connections.close_all()
            stop.wait(ERROR_PAUSE_SECONDS)
            continue
        except Exception:
            logger.exception("Webhook relay: a batch failed; trying again.")
            connections.close_all()
            stop.wait(ERROR_PAUSE_SECONDS)
            continue
        if claimed < batch_size:
            stop.wait(idle_seconds)
