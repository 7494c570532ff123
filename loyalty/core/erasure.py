"""Erasure: staff erase a member's personal data at the person's request (the right to erasure).

In one transaction, under the member's row lock: the account is settled and closed first
(loyalty.core.closing: vouchers cancelled, points expired), also when staff closed it by its
status alone, without webhook events (webhooks.services.events_silenced); a staff user's own
membership is refused (MemberIsStaff). Then every place a personal value lives is emptied,
while the ledger, the purchases and every total stay as they were, now about an anonymous
member:

- the user: the e-mail becomes `erased-<member id>@erased.invalid`, names blank, no usable
  password, inactive, their sessions and login attempts (django-axes) deleted;
- the member: birthday empty, status reason blank, a new random member number (the old one
  finds no one: partners get member_not_found);
- the features (member hooks, `erase`): fingerprints, invitations, feedback text, notes...;
- the core: ledger descriptions and staff reasons quoting the person (the one change the
  ledger allows, and only while an erasure runs: ledger_texts_erasable, migration
  loyalty/0012; points, balances and causes never change), payment
  fingerprints, idempotency records whose stored answer is about the member (the answer
  becomes `404 member_not_found`, so a retried request cannot bring the data back), anomaly
  and job texts, tier change reasons;
- messages and their e-mails, e-mail and webhook delivery errors, webhook payloads, the
  admin's history of the member's objects;
- a "member.erased" webhook event with the old number, blanked once delivered
  (webhooks.delivery.erased_events_settle).

What is left is an accounts.Erasure (who, when, why) naming the member by id, with a SHA-256
digest of the old number, so it is never given to anyone again. The e-mail address is free
again: the person may join as a new member.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation

from accounts.errors import MemberNotFound
from accounts.models import Erasure, Member, User
from accounts.services import member_number_unused, retired_number_digest
from loyalty.base.api.problems import PROBLEM_CONTENT_TYPE, problem
from loyalty.base.errors import InvalidInput, NotAllowed, ReasonRequired
from loyalty.base.personal import ERASED, Personal
from notifications.outbox import emails_scrub
from notifications.services import messages_erase
from webhooks.models import ERASED_EVENT
from webhooks.services import event_emit, events_erase, events_silenced

from . import hooks
from .closing import member_settle_and_close
from .models import (
    AdjustmentRequest,
    Anomaly,
    IdempotencyRecord,
    JobBatch,
    JobRun,
    LedgerEntry,
    Pause,
    Purchase,
    TierChange,
)

PERMISSION = "accounts.erase_member"
ERASED_DOMAIN = "erased.invalid"


def erased_email(member_id: int) -> str:
    return f"erased-{member_id}@{ERASED_DOMAIN}"


@transaction.atomic
def member_erase(*, member: Member, staff_user, reason: str) -> Erasure:
    """Erase the member's personal data (see the module). Only a user with the permission
    accounts.erase_member may; a reason is required; an erased member is not erased twice."""
    reason = (reason or "").strip()
    if staff_user is None or not staff_user.is_active or not staff_user.has_perm(PERMISSION):
        raise NotAllowed("Only a manager may erase a member's personal data.")
    if not reason:
        raise ReasonRequired()
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters.", field="reason")
    locked = Member.objects.select_for_update(of=("self",)).filter(pk=member.pk).first()
    if locked is None:
        raise MemberNotFound()
    if Erasure.objects.filter(member_id=locked.pk).exists():
        raise InvalidInput("This member's personal data is erased already.")
    # settled as closing settles, also when it was closed by its status alone (vouchers and
    # points may remain); partners hear of none of it: the member.erased event says enough
    with events_silenced():
        member_settle_and_close(member=locked)
    user = User.objects.get(pk=locked.user_id)
    personal = Personal(
        email=user.email,
        member_number=locked.member_number,
        first_name=user.first_name,
        last_name=user.last_name,
    )
    for hook in hooks.member_hooks():
        hook.run_erase(member=locked, personal=personal)
    with ledger_texts_erasable():
        _core_erase(locked, personal)
    messages_erase(member=locked)
    emails_scrub(personal=personal)
    events_erase(personal=personal)
    _admin_history_erase(locked, user, personal)
    _logins_erase(user, personal)
    _person_erase(locked, user)
    event_emit(
        event_type=ERASED_EVENT,
        member_id=locked.pk,
        payload={"member_number": personal.member_number},
    )
    return Erasure.objects.create(
        member=locked,
        erased_by=staff_user,
        reason=reason,
        retired_number=retired_number_digest(personal.member_number),
    )


@contextmanager
def ledger_texts_erasable() -> Iterator[None]:
    """Inside, in this transaction, the ledger's trigger lets an entry's description and reason
    change (migration loyalty/0012); nowhere else. PostgreSQL only: SQLite has no trigger (the
    model's guard refuses save() alone). Call it inside transaction.atomic(): SET LOCAL lasts
    to the end of the transaction (a rollback undoes it), so it is turned off again after."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL loyalty.erasing = 'on'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL loyalty.erasing = 'off'")


def _core_erase(member: Member, personal: Personal) -> None:
    # the member's own entries may quote their name; anyone's may quote their number
    entries = LedgerEntry.objects.filter(
        Q(member=member) | personal.q("description", "reason")
    ).only("id", "description", "reason")
    for entry in entries:
        description, why = personal.scrub(entry.description), personal.scrub(entry.reason)
        if (description, why) != (entry.description, entry.reason):
            # (a queryset update: the model's guard refuses save(); the trigger lets these two
            # columns change and nothing else)
            LedgerEntry.objects.filter(pk=entry.pk).update(description=description, reason=why)
    Pause.objects.filter(member=member).exclude(reason="").update(reason="")  # their own words
    for request in AdjustmentRequest.objects.filter(member=member).exclude(reason=""):
        if personal.mentioned_in(request.reason):  # staff's words about the person
            AdjustmentRequest.objects.filter(pk=request.pk).update(
                reason=personal.scrub(request.reason)
            )
    Purchase.objects.filter(member=member, payment_fingerprint__isnull=False).update(
        payment_fingerprint=None
    )
    for change in TierChange.objects.filter(Q(member=member) & ~Q(reason="")):
        if personal.mentioned_in(change.reason):
            TierChange.objects.filter(pk=change.pk).update(reason=personal.scrub(change.reason))
    with translation.override(settings.LANGUAGE_CODE):  # stored: the site's language
        gone = problem(404, MemberNotFound.code, str(MemberNotFound.default_message))
    records = IdempotencyRecord.objects.filter(personal.q("response_body"))
    about = [
        record.pk
        for record in records.only("id", "response_body")
        if personal.mentioned_in(record.response_body, names=False)
    ]
    IdempotencyRecord.objects.filter(pk__in=about).update(
        response_status=404,
        response_body=json.dumps(gone, separators=(",", ":")),
        response_content_type=PROBLEM_CONTENT_TYPE,
    )
    for anomaly in Anomaly.objects.filter(Q(member=member) | personal.q("params")):
        _json_update(Anomaly, anomaly, "params", personal)
    for model in (JobRun, JobBatch):
        text = "error_log" if model is JobRun else "error"
        for row in model.objects.filter(personal.q("details", text)):
            _json_update(model, row, "details", personal)
            model.objects.filter(pk=row.pk).update(
                **{text: personal.scrub(getattr(row, text), names=False)}
            )


def _json_update(model, row, field: str, personal: Personal) -> None:
    value = getattr(row, field)
    scrubbed = personal.scrub_json(value, names=False)
    if scrubbed != value:
        model.objects.filter(pk=row.pk).update(**{field: scrubbed})


def _admin_history_erase(member: Member, user: User, personal: Personal) -> None:
    """The admin's history: object_repr and messages of the member's and user's own rows, and
    any row that quotes the e-mail or number (another object's name may: "<number> <reward>")."""
    own = Q(content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)) | Q(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    )
    for log in LogEntry.objects.filter(own | personal.q("object_repr", "change_message")):
        LogEntry.objects.filter(pk=log.pk).update(
            object_repr=personal.scrub(log.object_repr)[:200] or ERASED,
            change_message=personal.scrub(log.change_message),
        )


def _logins_erase(user: User, personal: Personal) -> None:
    """The user's sessions, and what django-axes kept of their logins (keyed by the address)."""
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
    if apps.is_installed("axes"):
        for name in ("AccessAttempt", "AccessFailureLog", "AccessLog"):
            try:
                model = apps.get_model("axes", name)
            except LookupError:
                continue
            model.objects.filter(username__iexact=personal.email).delete()


def _person_erase(member: Member, user: User) -> None:
    user.email = erased_email(member.pk)
    user.first_name = ""
    user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["email", "first_name", "last_name", "is_active", "password"])
    Member.objects.filter(pk=member.pk).update(
        member_number=member_number_unused(),
        birthday_month=None,
        birthday_day=None,
        birthday_year=None,
        birthday_set_on=None,
        status_reason="",
    )
    member.refresh_from_db()
