"""Imports: a staff member's file of members or purchases, checked (a dry run), then imported.

A job keeps what its last run found: counts, progress and the bad rows, each a row number, a
field, a code and its parameters (`ImportRowError`), worded when shown in the reader's language
(imports.rows). No personal value is kept in a job: the bad rows name a row, never its e-mail
address or name, and the uploaded file is deleted once the import has run.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PrivateStorage(FileSystemStorage):
    """LOYALTY_PRIVATE_FILES (default: "private" beside MEDIA_ROOT), read when used: a folder
    no URL serves."""

    @property
    def base_location(self):
        return settings.LOYALTY_PRIVATE_FILES or os.path.join(
            settings.MEDIA_ROOT, os.pardir, "private"
        )

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None


private_storage = PrivateStorage()


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        MEMBERS = "members", _("Members")
        PURCHASES = "purchases", _("Purchases")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking the file")
        CHECKED = "checked", _("Checked")
        QUEUED = "queued", _("Waiting to import")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("what"), max_length=10, choices=Kind.choices)
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("partner"),
        help_text=_("The partner whose purchases the file holds."),
    )
    file = models.FileField(
        _("file"), upload_to="imports/%Y/%m/", blank=True, storage=private_storage
    )
    file_name = models.CharField(_("file name"), max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("started by"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CHECKING
    )
    # True until the import is started: what the job shows is a dry run's (nothing written).
    dry_run = models.BooleanField(_("dry run"), default=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    total = models.PositiveIntegerField(
        _("in the file"), default=0, help_text=_("Members or purchases the file holds.")
    )
    bad = models.PositiveIntegerField(_("refused"), default=0)
    skipped = models.PositiveIntegerField(
        _("already there"), default=0, help_text=_("Recorded before: not imported again.")
    )
    done = models.PositiveIntegerField(_("imported"), default=0)
    points = models.BigIntegerField(_("points"), default=0)
    failure = models.CharField(_("failure"), max_length=40, blank=True)
    failure_params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    started_at = models.DateTimeField(_("import started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="purchases") | models.Q(partner__isnull=False),
                name="import_of_purchases_names_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def running(self) -> bool:
        return self.status in {self.Status.CHECKING, self.Status.QUEUED, self.Status.IMPORTING}

    @property
    def to_import(self) -> int:
        """What the file would add: neither refused nor there already."""
        return max(self.total - self.bad - self.skipped, 0)


class ImportRowError(models.Model):
    """A bad row of the file: its number as a spreadsheet shows it (the header is row 1), the
    column, a code and its parameters; worded when shown (imports.rows.row_error_words)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(_("row"))
    field = models.CharField(_("column"), max_length=32)
    code = models.CharField(_("code"), max_length=40)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("bad row")
        verbose_name_plural = _("bad rows")
        ordering = ["job", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="import_error_by_row")]

    def __str__(self) -> str:
        return f"{self.job_id} row {self.row}: {self.code}"
