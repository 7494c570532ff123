"""Pending points: what a purchase earned while its partner's return window runs
(loyalty.core.pending).

Imported by models.py, so the app label stays "loyalty". Pending points stand outside the
ledger: they are not in the member's balance and no lot holds them, so the ledger's invariants
hold unchanged. Their release writes the purchase's `earn` entry and its lot; a refund inside
the window cancels them without touching the ledger (no debt). `Member.points_pending` is the
cached sum of the member's open ones.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PendingPoints(models.Model):
    """A purchase's points waiting for its return window to pass: one row per purchase."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RELEASED = "released", _("Available")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey(
        "accounts.Member",
        on_delete=models.PROTECT,
        related_name="pending_points",
        verbose_name=_("member"),
        db_index=False,  # (member, available_on) below
    )
    purchase = models.OneToOneField(
        "loyalty.Purchase",
        on_delete=models.PROTECT,
        related_name="pending",
        verbose_name=_("purchase"),
    )
    points = models.PositiveBigIntegerField(_("points earned"))
    # Taken off by refunds inside the window (all of them when a closing cancels the rest).
    cancelled = models.PositiveBigIntegerField(_("points cancelled"), default=0)
    available_on = models.DateField(_("available on"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # The earn entry the release wrote (for points - cancelled), with its lot.
    entry = models.OneToOneField(
        "loyalty.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pending_release",
        verbose_name=_("ledger entry"),
    )
    created_at = models.DateTimeField(_("earned at"), default=timezone.now)
    settled_at = models.DateTimeField(_("released or cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pending points")
        verbose_name_plural = _("pending points")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points__gt=0, cancelled__lte=models.F("points")),
                name="pending_cancelled_within_points",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status="pending", entry__isnull=True, cancelled__lt=models.F("points"))
                    | models.Q(
                        status="released", entry__isnull=False, cancelled__lt=models.F("points")
                    )
                    | models.Q(status="cancelled", entry__isnull=True, cancelled=models.F("points"))
                ),
                name="pending_status_fits",
            ),
        ]
        indexes = [
            # the release job's plan, and a member's open ones: only open rows are indexed
            models.Index(
                fields=["available_on", "member"],
                name="pending_open_by_day",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["member", "available_on"],
                name="pending_open_by_member",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points - self.cancelled} {self.status} until {self.available_on}"

    @property
    def open_points(self) -> int:
        """What is still pending (or was released): the points less the cancelled."""
        return self.points - self.cancelled
