"""Hardship pauses for staff: the list (by status), grant, refuse, end now and extend, and the
policy's one row. Every change goes through loyalty.core.pauses."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin, SingleRowAdmin, StaffPages, member_link

from .. import pauses
from ..pause_models import LONGEST_MONTHS, Pause, PausePolicy


class PauseExtendForm(forms.Form):
    required_css_class = "required"

    months = forms.TypedChoiceField(
        label=_("Extend by"),
        coerce=int,
        choices=[(n, n) for n in range(1, LONGEST_MONTHS)],
        help_text=_("Months added to the pause; 6 months in all at most."),
    )


@admin.register(Pause)
class PauseAdmin(StaffPages, ReadOnlyAdmin):
    list_display = (
        "member_number",
        "status",
        "months",
        "starts_on",
        "ends_on",
        "requested_at",
        "requested_by_staff",
        "reason",
    )
    list_filter = ("status", "requested_by_staff")
    list_select_related = ("member",)
    search_fields = ("^member__member_number", "member__user__email")
    actions = ("grant", "refuse", "end_now", "extend")
    fields = (
        "member",
        "status",
        "months",
        "reason",
        "requested_at",
        "requested_by_staff",
        "starts_on",
        "ends_on",
        "ended_on",
        "decided_by",
        "decided_at",
        "shift_days",
    )

    @admin.display(description=_("member"), ordering="member__member_number")
    def member_number(self, obj):
        return member_link(obj.member)

    def _each(self, request, queryset, service, done_message) -> None:
        for pause in queryset.select_related("member").order_by("pk"):
            try:
                service(pause)
            except LoyaltyError as exc:
                self.message_user(
                    request,
                    _("%(member)s: %(error)s Nothing was changed for this member.")
                    % {"member": pause.member.member_number, "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.log_change(request, pause, str(done_message))
                self.message_user(
                    request, f"{pause.member.member_number}: {done_message}", messages.SUCCESS
                )

    @admin.action(description=_("Grant the selected requests"), permissions=["change"])
    def grant(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda pause: pauses.pause_grant(pause=pause, staff_user=request.user),
            _("the pause has started."),
        )

    @admin.action(description=_("Refuse the selected requests"), permissions=["change"])
    def refuse(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda pause: pauses.pause_refuse(pause=pause, staff_user=request.user),
            _("the request was refused."),
        )

    @admin.action(description=_("End the selected pauses now"), permissions=["change"])
    def end_now(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda pause: pauses.pause_end(
                member=pause.member, pause=pause, staff_user=request.user
            ),
            _("the pause has ended."),
        )

    @admin.action(description=_("Extend the selected pauses…"), permissions=["change"])
    def extend(self, request, queryset):
        form = PauseExtendForm(request.POST if "_apply" in request.POST else None)
        if "_apply" in request.POST and form.is_valid():
            months = form.cleaned_data["months"]
            self._each(
                request,
                queryset,
                lambda pause: pauses.pause_extend(
                    pause=pause, months=months, staff_user=request.user
                ),
                _("the pause was extended."),
            )
            return None
        selected = list(queryset.select_related("member__user").order_by("pk"))
        return self.staff_page(
            request,
            "admin/loyalty/pause_extend.html",
            title=_("Extend pauses"),
            form=form,
            **{
                **self.selection("pauses", selected, "extend"),
                "members": [pause.member for pause in selected[: self.selection_limit]],
            },
        )

    def has_change_permission(self, request, obj=None):
        # The list's actions need it; a pause's own page stays read-only.
        return obj is None and request.user.has_perm("loyalty.change_pause")


class PausePolicyForm(forms.ModelForm):
    class Meta:
        model = PausePolicy
        fields = pauses.POLICY_FIELDS


@admin.register(PausePolicy)
class PausePolicyAdmin(SingleRowAdmin):
    """One row: the list opens it."""

    form = PausePolicyForm

    def row(self):
        return pauses.pause_policy()

    def row_update(self, request, changes):
        pauses.pause_policy_update(staff_user=request.user, **changes)
