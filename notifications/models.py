"""Messages the program sends a member: the one way it speaks to them (inbox and e-mail)."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.backfill import member_copy_register
from loyalty.base.distribution import member_copy


class Message(models.Model):
    """What the program told a member: its kind and parameters, worded when read
    (notifications.services.message_words); `subject` and `body` are the words as first sent."""

    member = models.ForeignKey("accounts.Member", on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=40)
    # Makes "at most once" a database rule: one message per (member, kind, key).
    dedupe_key = models.CharField(max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    # What subject and body are rendered from when shown, in the reader's language
    # (notifications.params); null for a message from before they were kept: shown as stored.
    params = models.JSONField(_("parameters"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_wanted = models.BooleanField(_("send by e-mail"), default=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="message_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.subject


class OutgoingEmail(models.Model):
    """An e-mail that must leave the building: the outbox row, written in the transaction that
    caused it (a message, an invitation, an escalation), so a broker or mail server that is down
    delays it and never loses it. The dispatcher (notifications.outbox) sends it at least once;
    its id is the Message-ID of what it sends, so a receiver sees it sent twice as one. What it
    says is rendered when it is sent, in the reader's language, from `kind` and `object_id`."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # What it is about: "message" (a Message), "invitation" (a referral Invitation),
    # "escalation" (a feedback item), rendered by the kind's registered function.
    kind = models.CharField(_("kind"), max_length=40)
    object_id = models.PositiveBigIntegerField(_("object id"))
    # The member it is for, when there is one (a message's, an invitation's referrer; none for
    # staff alerts): loyalty.base.distribution.
    member = member_copy()
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When it is due; while an attempt runs, the end of its lease.
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="email_once_per_object")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="email_pending_by_due",
                condition=models.Q(status="pending"),
            ),
            # /metrics counts the failed (few) without reading every e-mail
            models.Index(
                fields=["created_at"], name="email_failed", condition=models.Q(status="failed")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"


# How older rows find their member, for `manage.py member_ids_fill` (loyalty.base.backfill).
# Only a member's message's e-mail (invitations and staff alerts go with the outbox's housekeeping).
member_copy_register(
    "notifications_outgoingemail",
    "SELECT CASE WHEN t.kind = 'message' THEN "
    "(SELECT m.member_id FROM notifications_message m WHERE m.id = t.object_id) END",
)
