"""Points adjustments waiting for a manager: the list (by status), approve and refuse, and the
policy's one row (the limit staff may adjust alone). Every change goes through
loyalty.core.adjustments. Staff who may not approve see their own requests only: that is
where they learn the result."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin, SingleRowAdmin, member_link

from .. import adjustments
from ..adjustment_models import AdjustmentPolicy, AdjustmentRequest


@admin.register(AdjustmentRequest)
class AdjustmentRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "member_number",
        "points",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status",)
    list_select_related = ("member", "requested_by", "decided_by")
    search_fields = ("^member__member_number", "member__user__email")
    actions = ("approve", "refuse")
    fields = (
        "member",
        "points",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "entry",
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.has_perm(adjustments.APPROVE_PERMISSION):
            queryset = queryset.filter(requested_by=request.user)
        return queryset

    def has_decide_permission(self, request):
        return request.user.has_perm(adjustments.APPROVE_PERMISSION)

    @admin.display(description=_("member"), ordering="member__member_number")
    def member_number(self, obj):
        return member_link(obj.member)

    def _each(self, request, queryset, service, done_message) -> None:
        for item in queryset.select_related("member").order_by("pk"):
            try:
                service(request_id=item.pk, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(
                    request,
                    _("%(member)s: %(error)s Nothing was changed for this member.")
                    % {"member": item.member.member_number, "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.log_change(request, item, str(done_message))
                self.message_user(
                    request, f"{item.member.member_number}: {done_message}", messages.SUCCESS
                )

    @admin.action(description=_("Approve the selected adjustments"), permissions=["decide"])
    def approve(self, request, queryset):
        self._each(request, queryset, adjustments.adjustment_approve, _("adjustment approved."))

    @admin.action(description=_("Refuse the selected adjustments"), permissions=["decide"])
    def refuse(self, request, queryset):
        self._each(request, queryset, adjustments.adjustment_refuse, _("adjustment refused."))


class AdjustmentPolicyForm(forms.ModelForm):
    class Meta:
        model = AdjustmentPolicy
        fields = adjustments.POLICY_FIELDS


@admin.register(AdjustmentPolicy)
class AdjustmentPolicyAdmin(SingleRowAdmin):
    """One row: the list opens it."""

    form = AdjustmentPolicyForm

    def row(self):
        return adjustments.adjustment_policy()

    def row_update(self, request, changes):
        limit = changes.get("support_limit", self.row().support_limit)
        adjustments.adjustment_policy_update(staff_user=request.user, support_limit=limit)
