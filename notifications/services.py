"""message_send(): render a message in the member's language, keep it, e-mail it after commit.

Templates live in templates/notifications/<kind>/subject.txt and body.txt and are rendered
with translation switched to the member's language. A dedupe_key makes a message at most once
per member and kind (a job run twice, a retried task); e-mail is sent at most once per message.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Message


def render_message(*, kind: str, language: str, context: dict) -> tuple[str, str]:
    with translation.override(language):
        subject = render_to_string(f"notifications/{kind}/subject.txt", context).strip()
        body = render_to_string(f"notifications/{kind}/body.txt", context).strip()
    return " ".join(subject.split())[:200], body


def message_send(
    member, kind: str, context: dict | None = None, *, dedupe_key: str = "", email: bool = True
) -> Message:
    """Store a message for the member and e-mail it after commit (when they want e-mail)."""
    user = member.user
    name = user.first_name or user.email.split("@")[0]
    context = {"member": member, "name": name, **(context or {})}
    subject, body = render_message(kind=kind, language=member.language, context=context)
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
                email_wanted=email_wanted,
            )
    except IntegrityError:
        if not dedupe_key:
            raise
        return Message.objects.get(member=member, kind=kind, dedupe_key=dedupe_key)
    if email_wanted:
        # (imported here: the tasks module imports this one)
        from .tasks import message_email_task

        transaction.on_commit(lambda: message_email_task.delay(message.pk))
    return message


def message_send_email(*, message_id: int) -> bool:
    """E-mail a stored message once: claim it with a conditional UPDATE, then send."""
    from django.core.mail import send_mail

    claimed = Message.objects.filter(
        pk=message_id, emailed_at__isnull=True, email_wanted=True
    ).update(emailed_at=timezone.now())
    if not claimed:
        return False
    message = Message.objects.select_related("member__user").get(pk=message_id)
    send_mail(message.subject, message.body, None, [message.member.user.email])
    return True


def messages_mark_read(*, member, message_ids: list[int] | None = None) -> int:
    """Mark the member's messages read (all unread ones when no ids are given)."""
    messages = Message.objects.filter(member=member, read_at__isnull=True)
    if message_ids is not None:
        messages = messages.filter(pk__in=message_ids)
    return messages.update(read_at=timezone.now())
