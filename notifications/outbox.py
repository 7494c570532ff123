"""The e-mail outbox: what must leave the building is a row before it is an e-mail.

1. *Enqueue* (`email_enqueue`), in the caller's transaction: one OutgoingEmail per kind and
   object (a unique constraint), and after commit an attempt for the worker. A broker that is
   down is logged, not raised: the committed write answers success, and the dispatcher sends.
2. *Claim*: one conditional UPDATE moves `next_attempt_at` a lease ahead, only while the e-mail
   is pending and due; of any number of racing workers exactly one wins. A worker that dies
   leaves the lease to run out, and the dispatcher hands the e-mail out again.
3. *Send*: the kind renders its messages now, in the readers' languages; each carries the
   Message-ID `<id.n@host>`, the same on every attempt, so a receiver sees a resend as one.
4. *Record*: sent (and the kind records it on its object), or, after a failure, the next
   attempt in 30 s × 2^(attempts − 1), at most an hour, until MAX_ATTEMPTS (about a day).

At least once: a worker killed between sending and recording sends again when its lease runs
out; never twice by id, thanks to the Message-ID. The beat task "notifications: dispatch due
e-mails" (every minute, migration 0002) enqueues whatever is due.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .kinds import email_kind
from .models import OutgoingEmail

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
MAX_ATTEMPTS = 30  # 30 s, 1, 2, 4 ... 64 min, then hourly: a little over a day in all
DISPATCH_LIMIT = 5000


def email_enqueue(*, kind: str, object_id: int, member_id: int | None = None) -> OutgoingEmail:
    """The e-mail of `kind` about `object_id`, in the caller's transaction (the existing one if
    there is one: once per kind and object), its first attempt enqueued after commit.
    `member_id`: the member it is for, if any (loyalty.base.distribution)."""
    email_kind(kind)  # an unknown kind is a bug: fail here, not in the worker
    try:
        with transaction.atomic():
            email = OutgoingEmail.objects.create(
                kind=kind, object_id=object_id, member_id=member_id
            )
    except IntegrityError:
        return OutgoingEmail.objects.get(kind=kind, object_id=object_id)
    emails_enqueue_on_commit([email.pk])
    return email


def emails_enqueue_on_commit(email_ids: list) -> None:
    """An attempt for each e-mail once the current transaction commits; a broker that is down
    is logged, not raised (robust): the e-mails stay due and the dispatcher sends them."""
    ids = list(email_ids)
    if not ids:
        return

    def enqueue():
        # (imported here: the tasks module imports this one)
        from .tasks import email_send_task

        for email_id in ids:
            email_send_task.delay(str(email_id))

    transaction.on_commit(enqueue, robust=True)


def backoff_delay(attempts: int) -> timedelta:
    exponent = min(max(attempts, 1) - 1, 16)
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_CAP_SECONDS))


def email_claim(*, email_id, now: datetime | None = None) -> bool:
    """Take the e-mail for one attempt: True for exactly one of any number of racing callers."""
    now = now or timezone.now()
    return (
        OutgoingEmail.objects.filter(
            pk=email_id, status=OutgoingEmail.Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + LEASE)
        == 1
    )


def message_id(email: OutgoingEmail, number: int) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "loyalty.invalid"
    return f"<{email.pk}.{number}@{host}>"


def email_send(*, email_id) -> bool:
    """One attempt at an e-mail: True if it went now; False if another attempt has it, it is
    not due, sent already, or this attempt failed (recorded, to be tried again)."""
    now = timezone.now()
    if not email_claim(email_id=email_id, now=now):
        return False
    email = OutgoingEmail.objects.get(pk=email_id)
    kind = email_kind(email.kind)
    try:
        messages = kind.messages(email.object_id)
        for number, message in enumerate(messages):
            message.extra_headers["Message-ID"] = message_id(email, number)
        if messages:
            get_connection().send_messages(messages)
    except Exception as exc:  # a mail server down, a template that fails: try again later
        _record_failure(email, f"{type(exc).__name__}: {exc}")
        return False
    sent_at = timezone.now()
    with transaction.atomic():
        OutgoingEmail.objects.filter(pk=email.pk).update(
            status=OutgoingEmail.Status.SENT,
            sent_at=sent_at,
            attempts=F("attempts") + 1,
            last_error="",
        )
        kind.mark_sent(email.object_id, sent_at)
    return bool(messages)


def _record_failure(email: OutgoingEmail, error: str) -> None:
    attempts = email.attempts + 1
    give_up = attempts >= MAX_ATTEMPTS
    OutgoingEmail.objects.filter(pk=email.pk, status=OutgoingEmail.Status.PENDING).update(
        attempts=attempts,
        last_error=error[:2000],
        next_attempt_at=timezone.now() + backoff_delay(attempts),
        status=OutgoingEmail.Status.FAILED if give_up else OutgoingEmail.Status.PENDING,
    )
    logger.warning("E-mail %s (%s %s) failed: %s", email.pk, email.kind, email.object_id, error)


def email_send_for(
    *, kind: str, object_id: int, create: bool = False, member_id: int | None = None
) -> bool:
    """Send the e-mail of `kind` about `object_id` now if it is pending (False if there is none
    or it was sent). `create`: make its outbox row first if there is none (a task enqueued
    before the outbox existed), for `member_id`."""
    if create:
        email_enqueue(kind=kind, object_id=object_id, member_id=member_id)
    email = OutgoingEmail.objects.filter(kind=kind, object_id=object_id).only("pk").first()
    return email is not None and email_send(email_id=email.pk)


def emails_dispatch_due(*, limit: int = DISPATCH_LIMIT) -> int:
    """Enqueue an attempt for the pending e-mails that are due, oldest due first, at most
    `limit` a run (the next run takes the rest). One enqueued twice is sent once (the claim)."""
    due = (
        OutgoingEmail.objects.filter(
            status=OutgoingEmail.Status.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )
    ids = list(due[:limit])
    emails_enqueue_on_commit(ids)
    return len(ids)


def emails_scrub(*, personal) -> int:
    """Blank a person's values (loyalty.base.personal.Personal) in the errors of any e-mail
    (a mail server's answer may quote the address an invitation went to). How many changed."""
    changed = 0
    for email in OutgoingEmail.objects.filter(personal.q("last_error")).only("id", "last_error"):
        error = personal.scrub(email.last_error)
        if error != email.last_error:
            changed += OutgoingEmail.objects.filter(pk=email.pk).update(last_error=error)
    return changed


def emails_forget(*, kind: str, object_ids) -> int:
    """Delete the outbox rows of `kind` about these objects, sent or not: what an erasure or a
    withdrawn invitation leaves nothing of (an error text may quote an address)."""
    ids = list(object_ids)
    if not ids:
        return 0
    return OutgoingEmail.objects.filter(kind=kind, object_id__in=ids).delete()[0]
