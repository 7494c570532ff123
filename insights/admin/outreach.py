"""The outreach list (members the nightly run found at risk, with its reasons), the rung
history, staff contacts and the policy."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin, SingleRowAdmin, StaffPages, member_link

from .. import services, views, words
from ..models import InsightsPolicy, MemberInsight, Outreach, Rung, RungChange


class SignalsFilter(admin.SimpleListFilter):
    title = _("attrition signals")
    parameter_name = "signals"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(signals=[])
        if self.value() == "no":
            return queryset.filter(signals=[])
        return queryset


class ContactedForm(forms.Form):
    note = forms.CharField(
        label=_("How they were contacted, and what was said"),
        max_length=services.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@admin.register(MemberInsight)
class MemberInsightAdmin(StaffPages, ReadOnlyAdmin):
    """The outreach list: by default the members at risk, the most valuable first."""

    list_display = ("member_number", "rung", "rfm", "last_purchase_on", "reasons", "quiet")
    list_filter = ("rung", SignalsFilter, "quiet", "member__tier", "member__language")
    list_select_related = ("member",)
    search_fields = ("^member__member_number", "member__user__email")
    ordering = ("-monetary", "-frequency", "member_id")
    actions = ("mark_contacted",)
    fields = (
        "member",
        "rung",
        "rung_since",
        "purchases",
        "first_purchase_on",
        "last_purchase_on",
        "median_gap_days",
        "purchases_12m",
        "spend_12m",
        "months_active",
        "recency",
        "frequency",
        "monetary",
        "reasons",
        "quiet",
    )

    def get_urls(self):
        # The dashboard lives here, inside the admin's URLs (its namespace, its headers).
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(views.dashboard_view), name="insights_dashboard"),
            path(
                "dashboard/<slug:key>.csv",
                view(views.dashboard_csv),
                name="insights_dashboard_csv",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # Open on the members at risk: the list staff work through.
        if not request.GET and request.method == "GET":
            return HttpResponseRedirect(f"{request.path}?rung__exact={Rung.AT_RISK}")
        extra_context = {**(extra_context or {}), "title": _("Outreach list")}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("member"), ordering="member__member_number")
    def member_number(self, obj):
        return member_link(obj.member)

    @admin.display(description=_("RFM"), ordering="-recency")
    def rfm(self, obj):
        return obj.rfm

    @admin.display(description=_("reasons"))
    def reasons(self, obj):
        return format_html_join(
            "", "<div>{}</div>", ((w,) for w in words.signals_words(obj.signals))
        )

    @admin.action(description=_("Mark as contacted, with a note"))
    def mark_contacted(self, request, queryset):
        form = ContactedForm(request.POST if "_apply" in request.POST else None)
        rows = list(queryset.select_related("member").order_by("member_id"))
        if "_apply" in request.POST and form.is_valid():
            done = 0
            for row in rows:
                try:
                    services.outreach_record(
                        member=row.member, staff=request.user, note=form.cleaned_data["note"]
                    )
                except LoyaltyError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    done += 1
            self.message_user(
                request,
                ngettext("%(n)s contact noted.", "%(n)s contacts noted.", done) % {"n": done},
            )
            return None
        return self.staff_page(
            request,
            "admin/insights/contacted.html",
            title=_("Mark as contacted"),
            form=form,
            **self.selection("rows", rows, "mark_contacted"),
        )

    def has_change_permission(self, request, obj=None):
        # (the list's action writes contacts, through the service, not this row)
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("insights.add_outreach"):
            actions.pop("mark_contacted", None)
        return actions


@admin.register(RungChange)
class RungChangeAdmin(ReadOnlyAdmin):
    list_display = ("day", "member_number", "from_rung", "to_rung")
    list_filter = ("to_rung", "from_rung")
    list_select_related = ("member",)
    date_hierarchy = "day"
    search_fields = ("^member__member_number",)

    @admin.display(description=_("member"), ordering="member__member_number")
    def member_number(self, obj):
        return member_link(obj.member)


@admin.register(Outreach)
class OutreachAdmin(ReadOnlyAdmin):
    list_display = ("contacted_at", "member_number", "staff", "note")
    list_select_related = ("member", "staff")
    search_fields = ("^member__member_number", "note")

    @admin.display(description=_("member"), ordering="member__member_number")
    def member_number(self, obj):
        return member_link(obj.member)


class PolicyForm(forms.ModelForm):
    class Meta:
        model = InsightsPolicy
        fields = (
            "point_value",
            "loyal_window_months",
            "loyal_min_months",
            "risk_gap_factor",
            "risk_min_days",
            "first_gap_days",
            "lapsed_days",
        )


@admin.register(InsightsPolicy)
class InsightsPolicyAdmin(SingleRowAdmin):
    """One row: the list opens it; a save changed by someone else meanwhile saves nothing."""

    form = PolicyForm

    def row_update(self, request, changes):
        services.policy_update(staff=request.user, **changes)
