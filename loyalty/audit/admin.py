"""The "Audit trail" page: every record, filterable by staff member, object type, operation and
date, and the filtered list as a CSV download. Records are never added, changed or deleted here."""

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.base.staff import csv_response

admin.site.unregister(LogEntry)


class OperationFilter(admin.SimpleListFilter):
    """The admin action or staff page a record came from (saves have none: see "action")."""

    title = _("operation")
    parameter_name = "operation"

    def lookups(self, request, model_admin):
        names = (
            LogEntry.objects.filter(additional_data__has_key="operation")
            .values_list("additional_data__operation", flat=True)
            .distinct()
        )
        return [(name, name) for name in sorted({str(name) for name in names})]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(additional_data__operation=self.value())
        return queryset


@admin.register(LogEntry)
class AuditTrailAdmin(LogEntryAdmin):
    list_display = [
        "created",
        "resource_url",
        "action",
        "operation",
        "reason",
        "msg_short",
        "user_url",
    ]
    list_filter = [
        ("actor", admin.RelatedOnlyFieldListFilter),
        ResourceTypeFilter,
        "action",
        OperationFilter,
        "timestamp",
    ]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "resource_url", "operation", "reason"]}),
        (_("Changes"), {"fields": ["action", "msg"]}),
    ]
    readonly_fields = [
        "created",
        "resource_url",
        "action",
        "operation",
        "reason",
        "user_url",
        "msg",
    ]
    show_full_result_count = False
    change_list_template = "admin/audit/change_list.html"

    def has_delete_permission(self, request, obj=None):
        return False  # append-only: not even a cascade from the admin

    @admin.display(description=_("operation"))
    def operation(self, obj):
        return (obj.additional_data or {}).get("operation", "")

    @admin.display(description=_("reason"))
    def reason(self, obj):
        return (obj.additional_data or {}).get("reason", "")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": _("Audit trail"), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="auditlog_logentry_export",
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """The list as filtered on the page, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        records = changelist.get_queryset(request).select_related("content_type", "actor")
        header = (
            _("when"),
            _("staff member"),
            _("object type"),
            _("object id"),
            _("object"),
            _("action"),
            _("operation"),
            _("reason"),
            _("changes"),
        )
        rows = (
            (
                record.timestamp,
                record.actor_email or (record.actor and record.actor.get_username()) or "",
                record.content_type.model if record.content_type_id else "",
                record.object_pk,
                record.object_repr,
                record.get_action_display(),
                self.operation(record),
                self.reason(record),
                record.changes_str if record.changes else "",
            )
            for record in records.iterator(chunk_size=2000)
        )
        stamp = timezone.localdate().isoformat()
        return csv_response(f"audit-trail-{stamp}.csv", header, rows)
