"""message_send(): render a message in the member's language, keep it, and e-mail it through
the outbox (notifications.outbox: written with the message, sent at least once after commit).

Templates live in templates/notifications/<kind>/subject.txt and body.txt. A message keeps its
kind and its parameters (notifications.params) and is rendered when shown, in the reader's
language (message_words): the member's current one in the inbox and the e-mail, the staff
member's in the admin. `subject` and `body` keep the words as first rendered, in the member's
language when it was sent: a record, and what a message from before parameters were kept
(`params` is null) still shows. A dedupe_key makes a message at most once per member and kind
(a job run twice, a retried task); its e-mail is one outbox row.
"""

from __future__ import annotations

import re

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from loyalty.base.text import plain_line
from loyalty.base.wording import address_form, one_period

from .models import Message
from .outbox import email_enqueue, email_send_for, emails_forget
from .params import params_decode, params_encode


def render_message(*, kind: str, language: str, context: dict) -> tuple[str, str]:
    """Subject and body in `language`; a sentence that ends with a date ending in its own full
    stop ("6 d.", "г.") keeps one (loyalty.base.wording.one_period)."""
    with translation.override(language):
        subject = render_to_string(f"notifications/{kind}/subject.txt", context).strip()
        body = render_to_string(f"notifications/{kind}/body.txt", context).strip()
    # one line; a no-break space (in "1 250", "5 март 2026 г.") stays
    subject = re.sub(r"[ \t\r\n\f\v]+", " ", subject)
    return one_period(subject)[:200], one_period(body)


def _greeted(member, language: str) -> dict:
    """What every message knows of its reader, found when it is rendered (not kept, so an
    erased name is gone from old messages too): `name` greets the member ("Dear {{ name }}"),
    the vocative in Lithuanian ("Jonai"); the member wrote it: one plain line."""
    user = member.user
    name = plain_line(user.first_name) or user.email.split("@")[0]
    return {"member": member, "name": address_form(name, language)}


def message_words(message: Message, *, language: str) -> tuple[str, str]:
    """The message's subject and body in `language`; one sent before messages kept their
    parameters (params is null) as it was stored, in the language it was sent in."""
    if message.params is None:
        return message.subject, message.body
    context = {**_greeted(message.member, language), **params_decode(message.params)}
    return render_message(kind=message.kind, language=language, context=context)


def messages_word(messages, *, language: str, member=None) -> list[Message]:
    """Set `shown_subject` and `shown_body` on each message (a page of the inbox); `member`:
    the reader whose messages they all are (no query for it)."""
    messages = list(messages)
    for message in messages:
        if member is not None:
            message.member = member
        message.shown_subject, message.shown_body = message_words(message, language=language)
    return messages


def message_send(
    member, kind: str, context: dict | None = None, *, dedupe_key: str = "", email: bool = True
) -> Message:
    """Store a message for the member and, when they want e-mail, its e-mail in the outbox.
    `context` is plain data (notifications.params): ids and values, never model instances."""
    params = params_encode(context or {})
    subject, body = render_message(
        kind=kind,
        language=member.language,
        context={**_greeted(member, member.language), **params_decode(params)},
    )
    email_wanted = email and getattr(member, "email_messages", True)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                member=member,
                kind=kind,
                dedupe_key=dedupe_key,
                language=member.language,
                subject=subject,
                body=body,
                params=params,
                email_wanted=email_wanted,
            )
    except IntegrityError:
        if not dedupe_key:
            raise
        return Message.objects.get(member=member, kind=kind, dedupe_key=dedupe_key)
    if email_wanted:
        email_enqueue(kind="message", object_id=message.pk, member_id=member.pk)
    return message


def message_send_email(*, message_id: int) -> bool:
    """E-mail a stored message now, if its e-mail is still to go (the outbox's attempt)."""
    return email_send_for(kind="message", object_id=message_id)


def message_emails(message_id: int) -> list[EmailMessage]:
    """The e-mail of a stored message (the "message" kind of the outbox), in the member's
    language now: none if the member no longer wants e-mail or the message is gone."""
    message = Message.objects.select_related("member__user").filter(pk=message_id).first()
    if message is None or not message.email_wanted or not message.member.email_messages:
        return []
    subject, body = message_words(message, language=message.member.language)
    return [EmailMessage(subject, body, to=[message.member.user.email])]


def message_emailed(message_id: int, at) -> None:
    Message.objects.filter(pk=message_id, emailed_at__isnull=True).update(emailed_at=at)


def messages_mark_read(*, member, message_ids: list[int] | None = None) -> int:
    """Mark the member's messages read (all unread ones when no ids are given)."""
    messages = Message.objects.filter(member=member, read_at__isnull=True)
    if message_ids is not None:
        messages = messages.filter(pk__in=message_ids)
    return messages.update(read_at=timezone.now())


def messages_erase(*, member) -> int:
    """Delete the member's messages and their e-mails (an erasure: a message's body was
    rendered with the member's name). Returns how many messages went."""
    ids = list(Message.objects.filter(member=member).values_list("pk", flat=True))
    emails_forget(kind="message", object_ids=ids)
    return Message.objects.filter(pk__in=ids).delete()[0]


def messages_scrub(*, member_ids, personal) -> int:
    """Blank a person's values (loyalty.base.personal.Personal, names included) in the messages
    of these other members (a friend's message names the referrer): in the words kept and in
    the parameters they are rendered from. Returns how many changed."""
    changed = 0
    for message in Message.objects.filter(member_id__in=list(member_ids)):
        subject, body = personal.scrub(message.subject), personal.scrub(message.body)
        params = _scrubbed(message.params, personal)
        if (subject, body, params) != (message.subject, message.body, message.params):
            changed += Message.objects.filter(pk=message.pk).update(
                subject=subject, body=body, params=params
            )
    return changed


def _scrubbed(value, personal):
    if isinstance(value, str):
        return personal.scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item, personal) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item, personal) for key, item in value.items()}
    return value
