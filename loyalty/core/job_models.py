"""The scheduled jobs' bookkeeping (loyalty.core.jobs): a run of a job for a day, and its batches.

Imported by models.py, so the app label stays "loyalty".
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import hooks


class JobRun(models.Model):
    """One run of a scheduled job for one day (see jobs.py): its batches, counts and errors."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("By hand")

    # A job registered with loyalty.core.hooks (their names and labels live there).
    name = models.CharField(_("job"), max_length=32)
    day = models.DateField(_("day"))
    trigger = models.CharField(
        _("started by"), max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    batches_planned = models.PositiveIntegerField(_("batches planned"), null=True, blank=True)
    batches_done = models.PositiveIntegerField(_("batches done"), default=0)
    considered = models.PositiveIntegerField(_("considered"), default=0)
    paid = models.PositiveIntegerField(
        _("paid or changed"), default=0, help_text=_("Members paid, changed or rows deleted.")
    )
    skipped = models.PositiveIntegerField(
        _("skipped"), default=0, help_text=_("Already done, paused or no longer due.")
    )
    errors = models.PositiveIntegerField(_("errors"), default=0)
    details = models.JSONField(_("details"), default=dict, blank=True)
    error_log = models.TextField(_("errors seen"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-day"], name="job_run_by_name_day")]

    def __str__(self) -> str:
        return f"{self.label} {self.day.isoformat()}"

    @property
    def label(self) -> str:
        """The job's name for staff, in the active language."""
        return hooks.jobs()[self.name].label if self.name in hooks.jobs() else self.name

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class JobBatch(models.Model):
    """One batch of a job run: written in the batch's own transaction, so a batch that is
    delivered twice is done once and counted once (the unique run and number)."""

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField(_("number"))
    step = models.CharField(_("step"), max_length=32)
    size = models.PositiveIntegerField(_("ids"), default=0)
    considered = models.PositiveIntegerField(_("considered"), default=0)
    paid = models.PositiveIntegerField(_("paid or changed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    details = models.JSONField(_("details"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), default=timezone.now)

    class Meta:
        verbose_name = _("job batch")
        verbose_name_plural = _("job batches")
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="job_batch_once_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.run} #{self.number}"
