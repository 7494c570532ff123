"""Points adjustments that wait for a second pair of eyes (loyalty.core.adjustments).

Imported by models.py, so the app label stays "loyalty". A staff user without the permission
"loyalty.adjust_points_above_limit" who asks for more than the policy's limit (in either
direction) gets a request instead of a ledger entry; a manager approves it (the entry is then
written, linked here) or refuses it. Nothing reaches the ledger before approval.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_LIMIT = 500
LIMIT_CEILING = 1_000_000


class AdjustmentPolicy(models.Model):
    """How far staff without the approval permission may adjust alone: one row (pk 1)."""

    support_limit = models.PositiveIntegerField(
        _("largest adjustment without approval (points)"),
        default=DEFAULT_LIMIT,
        validators=[MinValueValidator(0), MaxValueValidator(LIMIT_CEILING)],
        help_text=_(
            "Per action, added or taken away. A larger adjustment by staff who may not approve "
            "waits for a manager."
        ),
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("adjustment policy")
        verbose_name_plural = _("adjustment policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="adjustment_policy_single_row"),
        ]

    def __str__(self) -> str:
        return str(_("Adjustment policy"))


class AdjustmentRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.PROTECT,
        related_name="adjustment_requests",
        verbose_name=_("member"),
    )
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("asked for by"),
    )
    requested_at = models.DateTimeField(_("asked for at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # The entry written on approval: the audit from the request to the ledger.
    entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustment_request",
        verbose_name=_("ledger entry"),
    )

    class Meta:
        verbose_name = _("points adjustment request")
        verbose_name_plural = _("points adjustment requests")
        ordering = ["-requested_at", "-id"]
        permissions = [
            (
                "adjust_points_above_limit",
                _("Can adjust points above the limit and approve requests"),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(points=0), name="adjustment_request_nonzero"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(entry__isnull=False),
                name="adjustment_request_approved_has_entry",
            ),
        ]
        indexes = [
            models.Index(
                fields=["requested_at"],
                name="adjustment_request_pending",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.points:+d} ({self.get_status_display()})"
