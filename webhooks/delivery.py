"""Delivering webhooks: one signed HTTP POST per attempt, retried with backoff for 24 hours.

An attempt (`delivery_attempt`) goes in three steps, none of them inside a long transaction:

1. Claim. One conditional UPDATE moves `next_attempt_at` a lease ahead (`CLAIM_LEASE`), but only
   while the delivery is pending and due. Of two workers racing for one delivery (a redelivered
   task, the after-commit enqueue and the dispatcher, two dispatchers) exactly one wins; a
   delivered or failed delivery is never claimed, so never sent again. A worker that dies
   mid-attempt leaves the lease to run out, and the dispatcher picks the delivery up again.
2. Send. POST the event's stored payload, serialized once (compact JSON, UTF-8), with the
   headers below. Redirects are not followed (a 3xx is a failed attempt), and the request times
   out after `TIMEOUT_SECONDS` without a connection or a response.
3. Record. A 2xx marks the delivery delivered. Anything else (another status, a timeout, a
   refused connection) records the status or the error and schedules the next attempt after
   30 s x 2^(attempts - 1), at most an hour, and never later than `retry_until`, so the last
   retry falls on the end of the window. An attempt that fails at or after `retry_until`
   (the event's time plus 24 hours, or a staff "Send again" plus 24 hours) fails the delivery
   for good. The UPDATE only applies to a delivery still pending.

Retries are not Celery ETAs: `deliveries_dispatch_due` (every minute, from beat) enqueues
whatever is due. Where the webhook relay runs (webhooks.relay), it sends new deliveries and
retries in batches instead, and requests enqueue nothing. Delivery is at least once: a receiver
may see an event again (a worker lost between the POST and the record, a staff "Send again")
and should skip an event id it has already processed.

What a partner receives:

    POST <endpoint URL>
    Content-Type: application/json
    Loyalty-Event-Id: 5f0c...            (the event's UUID, also "id" in the body)
    Loyalty-Event-Type: points.earned
    Loyalty-Timestamp: 1767225600        (Unix seconds when this attempt was signed)
    Loyalty-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

    {"id":"5f0c...","type":"points.earned","created_at":"...","data":{...}}

Partners check the signature with `verify_signature`, which needs only the standard library
and can be copied as it is into a receiver.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from .models import ERASED_EVENT, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
# Long enough for a 10 s request and the bookkeeping around it.
CLAIM_LEASE = timedelta(minutes=5)
# A pending delivery this long past its window has lost its final attempt (a worker died):
# the dispatcher fails it instead of leaving it pending for ever.
ABANDONED_AFTER = timedelta(hours=1)
DISPATCH_BATCH_SIZE = 500
DELETE_BATCH_SIZE = 1000
USER_AGENT = "Loyalty-Webhooks/1"
SIGNATURE_VERSION = "v1"


# --- signing -----------------------------------------------------------------------------------


def signature_header(secret: str, timestamp: str, body: bytes) -> str:
    """The Loyalty-Signature header: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(secret, timestamp, body, header, tolerance=300):
    """Whether a webhook request is genuine: for partners, to copy into their receiver.

    Needs only `import hashlib, hmac, time`. Pass the shared secret, the Loyalty-Timestamp
    header, the raw request body exactly as received (bytes; do not parse and re-serialize
    it), and the Loyalty-Signature header. The header may list several signatures separated by
    commas (e.g. while a secret is being changed); one valid v1 signature is enough. A request
    signed more than `tolerance` seconds from now is refused, which stops replays; pass
    tolerance=None to skip that check.

        if not verify_signature(SECRET, request.headers["Loyalty-Timestamp"], request.body,
                                request.headers["Loyalty-Signature"]):
            return HttpResponse(status=400)
    """
    timestamp = str(timestamp).strip()
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if tolerance is not None and abs(time.time() - signed_at) > tolerance:
        return False
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    for part in str(header or "").split(","):
        version, _, signature = part.strip().partition("=")
        if version == "v1" and hmac.compare_digest(signature.strip(), expected):
            return True
    return False


# --- one attempt -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 60 s, 120 s, ... at most 1 hour."""
    exponent = min(max(attempts, 1) - 1, 16)
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_CAP_SECONDS))


def delivery_claim(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Take the delivery for one attempt. True for exactly one of any number of racing callers;
    False when it is delivered, failed, not yet due, or already claimed by someone else."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + CLAIM_LEASE, last_attempt_at=now)
    return claimed == 1


def delivery_request(delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt, signed now."""
    event = delivery.event
    body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Loyalty-Event-Id": str(event.id),
        "Loyalty-Event-Type": event.type,
        "Loyalty-Timestamp": timestamp,
        "Loyalty-Signature": signature_header(delivery.endpoint.secret, timestamp, body),
    }
    return body, headers


# One pool of kept-alive connections per origin for the process (urllib3 is thread-safe): an
# endpoint's events go out one after another on one connection instead of a new TCP (and TLS)
# handshake each. Redirects are answered as what they are (a 3xx, so a failed attempt):
# following one would turn the POST into a GET or send the signed event somewhere nobody
# configured. No retries here: backoff is the outbox's. A proxy named in the environment
# (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as urllib reads them) is used as before.
_POOL_OPTIONS = {"num_pools": 50, "maxsize": 4, "block": False, "retries": False}
_pool = urllib3.PoolManager(**_POOL_OPTIONS)
_proxy_pools: dict[str, urllib3.ProxyManager] = {}
# What is read of an answer (its status is what counts): a partner's huge or trickling body
# neither fills the memory nor holds the connection past the timeout.
ANSWER_READ_BYTES = 64 * 1024


def _pool_for(url: str) -> urllib3.PoolManager:
    parts = urllib.parse.urlsplit(url)
    proxy = proxy_for(parts.scheme.lower(), parts.hostname or "")
    if proxy is None:
        return _pool
    with _proxy_pools_lock:
        if proxy not in _proxy_pools:
            _proxy_pools[proxy] = urllib3.ProxyManager(proxy, **_POOL_OPTIONS)
        return _proxy_pools[proxy]


@functools.lru_cache(maxsize=1024)
def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment names for an origin (None: straight there), read once per
    origin and process: urllib reads the whole environment on every call, which cost the relay
    a seventh of its CPU. (A process's environment does not change while it runs.)"""
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


_proxy_pools_lock = threading.Lock()


def _describe(error: BaseException | str) -> str:
    if isinstance(error, urllib3.exceptions.NewConnectionError):  # (a ConnectTimeoutError too)
        return f"{type(error).__name__}: {error}"
    if isinstance(error, TimeoutError | urllib3.exceptions.TimeoutError):
        return f"No response within {TIMEOUT_SECONDS} s (timed out)."
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def http_post(url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    """POST and report the status code or what went wrong. Never raises for network trouble."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        return AttemptResult(None, f"Unsupported URL scheme {scheme!r}.")
    for tries_left in (1, 0):
        try:
            response = _pool_for(url).request(
                "POST",
                url,
                body=body,
                headers=headers,
                redirect=False,
                preload_content=False,
                timeout=urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS),
            )
            break
        except urllib3.exceptions.ProtocolError as exc:
            # The connection closed without an answer: most often a kept-alive one the partner's
            # server ended just as the request went out on it. Once more, on a new connection
            # (the event may arrive twice: delivery is at least once, receivers skip seen ids).
            if not tries_left:
                return AttemptResult(None, _describe(exc))
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # refused, timeout…
            return AttemptResult(None, _describe(exc))
    try:
        if len(response.read(ANSWER_READ_BYTES)) >= ANSWER_READ_BYTES:
            response.close()  # more may follow: the connection is not worth the rest
    except (urllib3.exceptions.HTTPError, OSError):
        response.close()  # the status arrived; the rest of the answer does not count
    finally:
        response.release_conn()
    if 200 <= response.status < 300:
        return AttemptResult(response.status)
    return AttemptResult(response.status, f"HTTP {response.status} {response.reason or ''}".strip())


def delivery_attempt(*, delivery_id: int) -> str | None:
    """Make one attempt if the delivery is pending and due. Returns the delivery's status after
    the attempt, or None when there was nothing to do (claimed elsewhere, done, not due) or the
    attempt outlived its lease (whoever holds the delivery now records it)."""
    now = timezone.now()
    if not delivery_claim(delivery_id=delivery_id, now=now):
        return None
    lease_until = now + CLAIM_LEASE
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if not delivery.endpoint.is_active:
        _record_failed(
            delivery, error="The endpoint is not active; nothing was sent.", lease_until=lease_until
        )
        return WebhookDelivery.Status.FAILED
    body, headers = delivery_request(delivery)
    result = http_post(delivery.endpoint.url, body, headers)
    status = _record(delivery, result, lease_until=lease_until)
    if delivery.event.type == ERASED_EVENT and status in DONE:
        erased_events_settle(event_ids=[delivery.event_id])
    return status


DONE = (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED)


def held_by_claim(lease_until: datetime):
    """The deliveries a claim with this lease still holds: pending, their `next_attempt_at` the
    lease the claim set (nobody claimed them since). Every record of an attempt goes through it."""
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=lease_until
    )


def _record(
    delivery: WebhookDelivery, result: AttemptResult, *, lease_until: datetime
) -> str | None:
    """Record an attempt, only while its claim still holds the delivery (its lease, the
    `next_attempt_at` the claim set, unchanged): an attempt that outlived its lease is not
    recorded over the next holder's (None, logged)."""
    now = timezone.now()
    held = held_by_claim(lease_until).filter(pk=delivery.pk)
    if result.ok:
        status = WebhookDelivery.Status.DELIVERED
        changes = {"status": status, "delivered_at": now, "last_error": ""}
        message = ("Webhook delivery %s delivered (HTTP %s).", delivery.pk, result.status_code)
    else:
        error = result.error[: WebhookDelivery._meta.get_field("last_error").max_length]
        changes = {"last_error": error}
        if now >= delivery.retry_until:
            status = WebhookDelivery.Status.FAILED
            changes["status"] = status
            message = ("Webhook delivery %s failed for good: %s", delivery.pk, error)
        else:
            status = WebhookDelivery.Status.PENDING
            retry_at = min(now + backoff_delay(delivery.attempts + 1), delivery.retry_until)
            changes["next_attempt_at"] = retry_at
            message = (
                "Webhook delivery %s attempt failed (%s); next at %s.",
                delivery.pk,
                error,
                retry_at,
            )
    if not held.update(
        last_status_code=result.status_code,
        last_attempt_at=now,
        attempts=F("attempts") + 1,
        **changes,
    ):
        logger.warning(
            "Webhook delivery %s: the attempt outlived its lease; not recorded.", delivery.pk
        )
        return None
    if status == WebhookDelivery.Status.FAILED:
        logger.warning(*message)
    else:
        logger.info(*message)
    return status


def _record_failed(delivery: WebhookDelivery, *, error: str, lease_until: datetime) -> None:
    """Fail the delivery for good without an attempt, while its claim still holds it."""
    held_by_claim(lease_until).filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, last_error=error, last_attempt_at=timezone.now()
    )
    logger.warning("Webhook delivery %s failed: %s", delivery.pk, error)
    if delivery.event.type == ERASED_EVENT:
        erased_events_settle(event_ids=[delivery.event_id])


def erased_events_settle(*, event_ids: list | None = None) -> int:
    """Blank the old member number of "member.erased" events none of whose deliveries is still
    pending (all of them when `event_ids` is None): partners had their chance to find their
    record, and the program keeps no personal value. A staff "Send again" afterwards sends the
    event without the number. Returns how many events were blanked."""
    pending = WebhookDelivery.objects.filter(
        event=OuterRef("pk"), status=WebhookDelivery.Status.PENDING
    )
    events = (
        WebhookEvent.objects.filter(type=ERASED_EVENT)
        .exclude(payload__data__member_number=None)
        .exclude(Exists(pending))
    )
    if event_ids is not None:
        events = events.filter(pk__in=event_ids)
    settled = 0
    for event in events.only("id", "payload"):
        payload = {**event.payload, "data": {**event.payload["data"], "member_number": None}}
        settled += WebhookEvent.objects.filter(pk=event.pk).update(payload=payload)
    return settled


# --- the periodic dispatcher -------------------------------------------------------------------


def deliveries_enqueue_on_commit(delivery_ids: list[int]) -> None:
    """Enqueue an attempt for each delivery once the current transaction commits, unless the
    webhook relay sends them (settings.LOYALTY_WEBHOOK_RELAY; webhooks.relay). A broker that is
    down is logged, not raised: the deliveries stay due and the dispatcher sends them."""
    if not settings.LOYALTY_WEBHOOK_RELAY:
        _enqueue_on_commit(delivery_ids)


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    ids = list(delivery_ids)
    if not ids:
        return

    def enqueue_deliveries():
        # (imported here: the tasks module imports this one)
        from .tasks import webhook_deliver_task

        for delivery_id in ids:
            webhook_deliver_task.delay(delivery_id)

    transaction.on_commit(enqueue_deliveries, robust=True)


def deliveries_expire_abandoned(*, now: datetime | None = None) -> int:
    """Fail pending deliveries whose window closed long ago without a recorded final attempt."""
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        retry_until__lte=now - ABANDONED_AFTER,
    ).update(
        status=WebhookDelivery.Status.FAILED,
        last_error="Gave up: the retry window closed without a completed attempt.",
    )


def deliveries_dispatch_due(*, batch_size: int = DISPATCH_BATCH_SIZE) -> int:
    """Enqueue an attempt for every pending delivery that is due, oldest due first, in batches
    of one query each (keyset pagination over the partial index on pending deliveries).
    Returns how many were enqueued. A delivery enqueued twice is attempted once: see the claim.
    """
    now = timezone.now()
    if deliveries_expire_abandoned(now=now):
        erased_events_settle()  # a delivery given up may have been an erasure's last
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    enqueued = 0
    after: tuple[datetime, int] | None = None
    while True:
        batch = due
        if after is not None:
            batch = batch.filter(
                Q(next_attempt_at__gt=after[0]) | Q(next_attempt_at=after[0], pk__gt=after[1])
            )
        rows = list(batch.values_list("next_attempt_at", "pk")[:batch_size])
        # (to the worker even when the relay runs: this is the way round a relay that is down)
        _enqueue_on_commit([pk for _due, pk in rows])
        enqueued += len(rows)
        if len(rows) < batch_size:
            return enqueued
        after = rows[-1]


# --- housekeeping ------------------------------------------------------------------------------


def deliveries_delete_older_than(
    *, days: int = 30, batch_size: int = DELETE_BATCH_SIZE
) -> tuple[int, int]:
    """Delete delivered and failed deliveries whose last attempt (or creation, if never
    attempted) is older than `days`, then events older than that with no delivery left.
    Pending deliveries and their events are kept. Works in batches, each its own transaction.
    Returns (deliveries deleted, events deleted)."""
    cutoff = timezone.now() - timedelta(days=days)
    finished = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED]
    ).filter(Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True, created_at__lt=cutoff))
    deliveries = _delete_in_batches(WebhookDelivery, finished, batch_size)
    orphaned = WebhookEvent.objects.filter(created_at__lt=cutoff).filter(
        ~Exists(WebhookDelivery.objects.filter(event=OuterRef("pk")))
    )
    events = _delete_in_batches(WebhookEvent, orphaned, batch_size)
    return deliveries, events


def _delete_in_batches(model, queryset, batch_size: int) -> int:
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
