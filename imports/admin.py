"""The staff pages of imports: upload a file (its dry run starts at once, on the workers), read
what the dry run found with every bad row's reason, start the import, follow its progress (the
page refreshes itself while the job runs). Needs imports.add_importjob (the managers' role)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from loyalty.base.errors import LoyaltyError
from loyalty.base.formats import short_datetime
from loyalty.base.staff import StaffPages

from .checks import PURCHASE_COLUMNS, PURCHASE_REQUIRED
from .members import MEMBER_COLUMNS, MEMBER_REQUIRED
from .models import ImportJob
from .rows import failure_words, row_error_words
from .services import MAX_UPLOAD_BYTES, import_job_create, import_job_start

ERRORS_PER_PAGE = 100


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What the file holds"), choices=ImportJob.Kind.choices, widget=forms.RadioSelect
    )
    partner = forms.ModelChoiceField(
        label=_("Partner"),
        queryset=Partner.objects.filter(is_active=True),
        required=False,
        help_text=_("For purchases: the partner that reported them."),
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("A CSV file in UTF-8 (commas or semicolons) or an Excel workbook (.xlsx)."),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if not file.name.lower().endswith((".csv", ".txt", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if file.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is too large for the staff pages: use the import command.")
            )
        return file

    def clean(self):
        data = super().clean()
        if data.get("kind") == ImportJob.Kind.PURCHASES and not data.get("partner"):
            self.add_error("partner", _("Choose the partner whose purchases these are."))
        return data


@admin.register(ImportJob)
class ImportJobAdmin(StaffPages, admin.ModelAdmin):
    list_display = (
        "number",
        "kind",
        "file_name",
        "partner",
        "status_shown",
        "total",
        "bad",
        "skipped",
        "done",
        "actor",
        "uploaded",
    )
    list_filter = ("kind", "status")
    list_select_related = ("partner", "actor")
    show_full_result_count = False

    @admin.display(description=_("import"), ordering="pk")
    def number(self, obj):
        return f"#{obj.pk}"

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, obj):
        if obj.status == ImportJob.Status.CHECKED:
            return _("Dry run done")
        return obj.get_status_display()

    @admin.display(description=_("uploaded at"), ordering="created_at")
    def uploaded(self, obj):
        return short_datetime(obj.created_at)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="imports_importjob_import",
            ),
        ] + super().get_urls()

    # --- the upload (the add page) ------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        if request.method == "POST" and form.is_valid():
            try:
                job = import_job_create(
                    kind=form.cleaned_data["kind"],
                    actor=request.user,
                    file=form.cleaned_data["file"],
                    partner=form.cleaned_data["partner"],
                )
            except LoyaltyError as exc:
                form.add_error(None, exc.message)
            else:
                return HttpResponseRedirect(
                    reverse("admin:imports_importjob_change", args=[job.pk])
                )
        return self.staff_page(
            request,
            "admin/imports/importjob/upload.html",
            title=_("Import a file"),
            form=form,
            purchase_columns=PURCHASE_COLUMNS,
            purchase_required=PURCHASE_REQUIRED,
            member_columns=MEMBER_COLUMNS,
            member_required=MEMBER_REQUIRED,
        )

    # --- a job's page -------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404(self.not_found_message)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        page = Paginator(job.row_errors.all(), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
        for error in page:
            error.words = row_error_words(error.code, error.params)
        can_import = (
            job.status in {ImportJob.Status.CHECKED, ImportJob.Status.FAILED}
            and bool(job.file)
            and self.has_add_permission(request)
        )
        return self.staff_page(
            request,
            "admin/imports/importjob/job.html",
            title=str(job),
            obj=job,
            job=job,
            errors=page,
            failure=failure_words(job.failure, job.failure_params) if job.failure else "",
            can_import=can_import,
            refresh=job.running,
            progress=_progress(job),
        )

    def import_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:imports_importjob_change", args=[object_id]))
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404(self.not_found_message)
        try:
            import_job_start(job=job, actor=request.user)
        except LoyaltyError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, _("The import has started: this page shows its progress."))
        return HttpResponseRedirect(reverse("admin:imports_importjob_change", args=[job.pk]))


def _progress(job: ImportJob):
    """The real run's progress as "done of planned" (and a percentage), while it runs."""
    planned = job.to_import
    if job.status != ImportJob.Status.IMPORTING or not planned:
        return None
    return {"done": job.done, "planned": planned, "percent": min(100, 100 * job.done // planned)}
