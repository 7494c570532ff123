"""Writes for webhooks: the outbox of events, partners' endpoints and a staff "Send again".

Delivery itself (signing, the HTTP call, backoff, the dispatcher, housekeeping) lives in
webhooks.delivery; the Celery tasks in webhooks.tasks.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.caching import ProcessCache
from loyalty.base.errors import InvalidInput, LoyaltyError
from loyalty.base.prepared import PreparedSQL

from .delivery import deliveries_enqueue_on_commit
from .models import EVENT_TYPES, RETRY_WINDOW, WebhookDelivery, WebhookEndpoint, WebhookEvent

SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 200

# How long a process keeps the active endpoints (see ProcessCache): every purchase asks which
# endpoints want its event, and they change rarely. An endpoint staff add, change or switch off
# applies in this process at once and in the others within this many seconds (an attempt to an
# endpoint switched off meanwhile is not sent: delivery_attempt looks again).
ENDPOINTS_CACHE_SECONDS = 30
_active_endpoints = ProcessCache(
    "webhooks.active_endpoints",
    lambda: tuple(
        WebhookEndpoint.objects.filter(is_active=True).only("id", "partner_id", "event_types")
    ),
    seconds=ENDPOINTS_CACHE_SECONDS,
    models=[WebhookEndpoint],
)

# set while events_silenced() runs (in this thread or task)
_silenced: ContextVar[bool] = ContextVar("webhooks_silenced", default=False)


@contextmanager
def events_silenced() -> Iterator[None]:
    """No event is recorded inside: an erasure settles the member's vouchers and points, and
    partners would get points.reversed and points.expired about a member whose number is
    blanked before delivery; the member.erased event after it says what they need."""
    token = _silenced.set(True)
    try:
        yield
    finally:
        _silenced.reset(token)


class EndpointInactive(LoyaltyError):
    code = "endpoint_inactive"
    status = 409
    default_message = _("The webhook endpoint is not active.")


def event_emit(
    *, event_type: str, payload: dict, member_id: int | None, partner=None
) -> WebhookEvent | None:
    """Record an event and a delivery for each endpoint that wants it, inside the caller's
    transaction; delivery is queued after commit. Events caused by a partner go only to that
    partner's endpoints; program-wide events (expiry, tier review, web sign-up) go to all.
    `member_id`: the member the event is about, kept on its rows (loyalty.base.distribution).

    Returns None, writing nothing, when no endpoint wants the event. If the broker cannot take
    the tasks, the deliveries stay due and the periodic dispatcher sends them. Nothing either
    inside events_silenced().
    """
    if _silenced.get():
        return None
    wanted = [
        e
        for e in _active_endpoints.get()
        if (partner is None or e.partner_id == partner.pk) and e.wants(event_type)
    ]
    if not wanted:
        return None
    event_id = uuid.uuid4()
    now = timezone.now()
    body = {"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": payload}
    event = WebhookEvent(
        id=event_id,
        type=event_type,
        partner=partner,
        member_id=member_id,
        payload=body,
        created_at=now,
    )
    endpoint_ids = [e.pk for e in wanted]
    if connection.vendor == "postgresql":
        ids = _event_insert(event, endpoint_ids)
        event._state.adding, event._state.db = False, connection.alias  # as if saved
    else:
        event.save(force_insert=True)
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                event=event,
                endpoint_id=endpoint_id,
                member_id=member_id,
                next_attempt_at=now,
                retry_until=now + RETRY_WINDOW,
                created_at=now,
            )
            for endpoint_id in endpoint_ids
        )
        ids = [d.pk for d in deliveries if d.pk is not None]
        if not ids:  # backends that do not return ids on bulk insert
            ids = list(WebhookDelivery.objects.filter(event=event).values_list("id", flat=True))
    deliveries_enqueue_on_commit(ids)
    return event


# The event and its deliveries in one statement (a purchase emits one; the ORM's two inserts
# were a fifth of the production-shaped purchase's Python time, bench/RESULTS.md). The
# deliveries' columns are the model's defaults, as the ORM path writes them.
_EVENT_INSERT = PreparedSQL(
    "webhooks_event_insert",
    f"""
WITH e AS (
    INSERT INTO {WebhookEvent._meta.db_table} (id, type, partner_id, member_id, payload, created_at)
    VALUES (%(id)s, %(type)s, %(partner_id)s, %(member_id)s, %(payload)s, %(at)s)
)
INSERT INTO {WebhookDelivery._meta.db_table} (event_id, endpoint_id, member_id, status, attempts,
    next_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, retry_until,
    created_at)
SELECT %(id)s, endpoint_id, %(member_id)s, %(pending)s, 0, %(at)s, NULL, NULL, '', NULL,
    %(retry_until)s, %(at)s
FROM unnest(%(endpoint_ids)s) AS endpoint_id
RETURNING id
""",
    {
        "id": "uuid",
        "type": "varchar",
        "partner_id": "bigint",
        "member_id": "bigint",
        "payload": "jsonb",
        "at": "timestamptz",
        "pending": "varchar",
        "retry_until": "timestamptz",
        "endpoint_ids": "bigint[]",
    },
)


def _event_insert(event: WebhookEvent, endpoint_ids: list[int]) -> list[int]:
    payload = WebhookEvent._meta.get_field("payload").get_db_prep_save(event.payload, connection)
    with connection.cursor() as cursor:
        _EVENT_INSERT.execute(
            cursor,
            {
                "id": event.id,
                "type": event.type,
                "partner_id": event.partner_id,
                "member_id": event.member_id,
                "payload": payload,
                "at": event.created_at,
                "pending": WebhookDelivery.Status.PENDING,
                "retry_until": event.created_at + RETRY_WINDOW,
                "endpoint_ids": endpoint_ids,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def events_erase(*, personal) -> int:
    """Blank a person's values (loyalty.base.personal.Personal) in every stored event payload
    that mentions them, and in every delivery's last error (a partner's answer may quote the
    number): what was sent stays sent, the program keeps none of it. Returns how many events
    changed."""
    changed = 0
    for event in WebhookEvent.objects.filter(personal.q("payload")).only("id", "payload"):
        payload = personal.scrub_json(event.payload)
        if payload != event.payload:
            WebhookEvent.objects.filter(pk=event.pk).update(payload=payload)
            changed += 1
    deliveries = WebhookDelivery.objects.filter(personal.q("last_error"))
    for delivery in deliveries.only("id", "last_error"):
        error = personal.scrub(delivery.last_error)
        if error != delivery.last_error:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(last_error=error)
    return changed


def event_wanted(event_type: str) -> bool:
    """Whether any active endpoint wants a program-wide event: one query for a whole batch of
    members (the scheduled jobs), instead of event_emit's one per member when nobody listens.
    None does inside events_silenced()."""
    if _silenced.get():
        return False
    return any(endpoint.wants(event_type) for endpoint in _active_endpoints.get())


@transaction.atomic
def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Staff's "Send again": make the delivery pending and due now, whatever its status, and
    enqueue an attempt after commit.

    The retry window starts again: `retry_until` becomes now + 24 hours, so a failed delivery
    gets a full day of retries with backoff. `attempts` keeps counting (it is the log of every
    POST made), so backoff continues from where it was, at most an hour. `delivered_at` is
    cleared until the delivery succeeds again; the last status code and error stay as the
    record of the last attempt. The receiver gets the same event id again.
    """
    endpoint_active = WebhookEndpoint.objects.filter(
        pk=delivery.endpoint_id, is_active=True
    ).exists()
    if not endpoint_active:
        raise EndpointInactive()
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        retry_until=now + RETRY_WINDOW,
        delivered_at=None,
    )
    deliveries_enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- endpoints ---------------------------------------------------------------------------------


def secret_generate() -> str:
    """A fresh signing secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _clean_url(url: str) -> str:
    url = str(url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidInput(_("Enter an http or https URL."), field="url") from None
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise InvalidInput(_("The URL is too long."), field="url")
    return url


def _clean_secret(secret: str) -> str:
    secret = str(secret or "").strip()
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
        raise InvalidInput(
            _("The signing secret must be %(min)d to %(max)d characters long.")
            % {"min": SECRET_MIN_LENGTH, "max": SECRET_MAX_LENGTH},
            field="secret",
        )
    return secret


def _clean_event_types(event_types) -> list[str]:
    """Known event types only, each once, in the catalogue's order. Empty means all."""
    known = [value for value, _label in EVENT_TYPES]
    chosen = set(event_types or [])
    unknown = chosen - set(known)
    if unknown:
        raise InvalidInput(
            _("Unknown event types: %(types)s.") % {"types": ", ".join(sorted(unknown))},
            field="event_types",
        )
    return [value for value in known if value in chosen]


@transaction.atomic
def endpoint_create(
    *,
    partner,
    url: str,
    secret: str,
    event_types: list[str] | None = None,
    is_active: bool = True,
) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        partner=partner,
        url=_clean_url(url),
        secret=_clean_secret(secret),
        event_types=_clean_event_types(event_types),
        is_active=is_active,
    )


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    secret: str | None = None,
    event_types: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; None leaves a field as it is. A new secret signs every attempt
    from now on, retries of older events included."""
    changes = {}
    if url is not None:
        changes["url"] = _clean_url(url)
    if secret is not None:
        changes["secret"] = _clean_secret(secret)
    if event_types is not None:
        changes["event_types"] = _clean_event_types(event_types)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes:
        endpoint.save(update_fields=list(changes))
    return endpoint
