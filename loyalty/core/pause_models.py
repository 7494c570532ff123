"""Hardship pauses: a member going through a hard time takes a break (loyalty.core.pauses).

Imported by models.py, so the app label stays "loyalty". A pause is asked for by the member (or
started by staff), runs from `starts_on` to `ends_on` (calendar months) and ends by itself. While
it runs nothing of the member's expires and their tier is kept; the expiry dates of their points
and unused vouchers were moved forward by `shift_days` when it began.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

LONGEST_MONTHS = 6


class Pause(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for staff")
        RUNNING = "running", _("Running")
        ENDED = "ended", _("Ended")
        REFUSED = "refused", _("Refused")

    member = models.ForeignKey(
        "accounts.Member", on_delete=models.PROTECT, related_name="pauses", verbose_name=_("member")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    months = models.PositiveSmallIntegerField(
        _("months"), validators=[MinValueValidator(1), MaxValueValidator(LONGEST_MONTHS)]
    )
    # The member's own words (or staff's, when staff started it); never required.
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    requested_at = models.DateTimeField(_("asked for at"), default=timezone.now)
    requested_by_staff = models.BooleanField(_("started by staff"), default=False)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # Days the expiry dates of the member's points and unused vouchers were moved forward.
    shift_days = models.PositiveIntegerField(_("days expiry dates moved"), default=0)

    class Meta:
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(months__gte=1, months__lte=LONGEST_MONTHS),
                name="pause_months_1_to_6",
            ),
            models.UniqueConstraint(
                fields=["member"],
                condition=models.Q(status__in=["requested", "running"]),
                name="pause_one_open_per_member",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["running", "ended"])
                | models.Q(starts_on__isnull=False, ends_on__isnull=False),
                name="pause_running_has_dates",
            ),
        ]
        indexes = [
            models.Index(
                fields=["ends_on"],
                name="pause_running_by_end",
                condition=models.Q(status="running"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.get_status_display()} ({self.months})"


class PausePolicy(models.Model):
    """How members' requests for a break are handled: one row (pk 1) that staff edit."""

    grant_automatically = models.BooleanField(
        _("grant requests at once"),
        default=True,
        help_text=_("Otherwise a member's request waits for staff to grant or refuse it."),
    )
    longest_months = models.PositiveSmallIntegerField(
        _("longest break a member may ask for (months)"),
        default=LONGEST_MONTHS,
        validators=[MinValueValidator(1), MaxValueValidator(LONGEST_MONTHS)],
    )
    months_between_pauses = models.PositiveSmallIntegerField(
        _("months between breaks"),
        default=12,
        validators=[MaxValueValidator(60)],
        help_text=_(
            "A member may ask again this long after their last break started. Staff may always "
            "pause a membership."
        ),
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("pause policy")
        verbose_name_plural = _("pause policy")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="pause_policy_single_row"),
            models.CheckConstraint(
                condition=models.Q(longest_months__gte=1, longest_months__lte=LONGEST_MONTHS),
                name="pause_policy_longest_1_to_6",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Pause policy"))
