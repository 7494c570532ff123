"""Anomalies: what partners did near or past their sanity limits (loyalty.core.anomalies)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.staff import ReadOnlyAdmin

from ..anomalies import anomalies_mark_reviewed, anomaly_description
from ..models import Anomaly
from .ledger import member_link


class ReviewedFilter(admin.SimpleListFilter):
    title = _("reviewed")
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("no", _("To review")), ("yes", _("Reviewed"))]

    def queryset(self, request, queryset):
        if self.value() in ("no", "yes"):
            return queryset.filter(reviewed_at__isnull=self.value() == "no")
        return queryset


@admin.register(Anomaly)
class AnomalyAdmin(ReadOnlyAdmin):
    """Looked at, and marked reviewed (the one write: an action), never edited."""

    list_display = ("created_at", "kind", "partner", "member", "description", "reviewed_at")
    list_select_related = ("partner", "member__user")
    list_filter = (ReviewedFilter, "kind", "partner")
    search_fields = ("=member__member_number",)
    search_help_text = _("The exact member number.")
    fields = ("kind", "partner", "member_display", "description", "created_at", "reviewed_at")
    actions = ("mark_reviewed",)

    @admin.display(description=_("what happened"))
    def description(self, obj):
        return anomaly_description(obj)

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return member_link(obj.member) if obj.member_id else "—"

    @admin.action(description=_("Mark as reviewed"), permissions=["view"])
    def mark_reviewed(self, request, queryset):
        count = anomalies_mark_reviewed(anomaly_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "%(count)d anomaly marked as reviewed.",
                "%(count)d anomalies marked as reviewed.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
