"""Webhooks: partners' endpoints, the outbox of events, and every delivery attempt.

An event is written to the outbox (WebhookEvent plus one WebhookDelivery per subscribed
endpoint) in the same transaction as the change it reports, so no change goes unreported and no
event reports a change that rolled back. Celery delivers after commit and retries with backoff.
"""

import uuid
from datetime import timedelta

from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.backfill import member_copy_register
from loyalty.base.distribution import member_copy

EVENT_TYPES = [
    ("member.enrolled", "member.enrolled"),
    ("points.earned", "points.earned"),
    ("points.spent", "points.spent"),
    ("points.reversed", "points.reversed"),
    ("points.expired", "points.expired"),
    ("tier.changed", "tier.changed"),
    ("reward.redeemed", "reward.redeemed"),
    ("voucher.used", "voucher.used"),
    ("member.erased", "member.erased"),
]

# An erased member's old number goes to partners in "member.erased" so they can find their own
# record; once no delivery of the event is pending (delivered, failed or none), it is blanked
# (webhooks.delivery.erased_events_settle): the program keeps no personal value.
ERASED_EVENT = "member.erased"

# How long a delivery keeps being retried: from the event, or from a staff "Send again".
RETRY_WINDOW = timedelta(hours=24)


def retry_until_default():
    return timezone.now() + RETRY_WINDOW


class WebhookEndpoint(models.Model):
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(
        _("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])]
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        help_text=_("Shared with the partner; signs every delivery (HMAC-SHA256)."),
    )
    event_types = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        help_text=_("The event types to send; empty means all."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["partner__name", "url"]

    def __str__(self) -> str:
        return f"{self.partner}: {self.url}"

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("type"), max_length=40, choices=EVENT_TYPES)
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The partner whose request caused it; empty means a program-wide event."),
    )
    member = member_copy()  # the member it is about (loyalty.base.distribution; indexed below)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at"]
        # The member's data download lists what partners were told about them (members/export.py).
        indexes = [models.Index(fields=["member"], name="event_member")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    member = member_copy()  # the event's (loyalty.base.distribution)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(
        _("last HTTP status"), null=True, blank=True
    )
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    retry_until = models.DateTimeField(
        _("retry until"),
        default=retry_until_default,
        help_text=_(
            "A failed attempt at or after this moment fails the delivery for good. It is the "
            'event\'s time plus 24 hours, or, after a staff "Send again", that moment plus 24 '
            "hours."
        ),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_due",
                condition=models.Q(status="pending"),
            ),
            # /metrics counts the failed (few) without reading every delivery
            models.Index(
                fields=["last_attempt_at"],
                name="delivery_failed",
                condition=models.Q(status="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


# How older rows find their member, for `manage.py member_ids_fill` (loyalty.base.backfill).
# An event by the member number its payload names (an erased member's old events, whose number
# is blanked, keep none); a delivery by its event's (filled just before).
member_copy_register(
    "webhooks_webhookevent",
    {
        vendor: f"SELECT m.id FROM accounts_member m WHERE m.member_number = {number}"
        for vendor, number in {
            "postgresql": "t.payload -> 'data' ->> 'member_number'",
            "sqlite": "json_extract(t.payload, '$.data.member_number')",
        }.items()
    },
)
member_copy_register(
    "webhooks_webhookdelivery",
    "SELECT e.member_id FROM webhooks_webhookevent e WHERE e.id = t.event_id",
)
