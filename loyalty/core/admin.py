"""Staff pages for the points ledger, purchases and the program's configuration.

The ledger, lots, purchases, refunds and tier changes are history: staff can look, never add,
change or delete (points change only through services, e.g. the member admin's "Adjust points").
Tiers and earning rules are configuration and are edited here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.base.languages import LANGUAGE_CODES
from loyalty.base.staff import ReadOnlyAdmin, ReadOnlyTabularInline

from . import earning
from .models import (
    EarningRule,
    JobBatch,
    JobRun,
    LedgerEntry,
    LotMovement,
    PointLot,
    Purchase,
    PurchaseLine,
    Refund,
    Tier,
    TierChange,
)


def _member_link(member) -> str:
    url = reverse("admin:accounts_member_change", args=[member.pk])
    return format_html('<a href="{}">{}</a>', url, member)


# --- the ledger ----------------------------------------------------------------------------------


class LotMovementInline(ReadOnlyTabularInline):
    model = LotMovement
    fields = ("lot", "points")
    verbose_name_plural = _("points taken from or given back to lots")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("lot")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "member",
        "kind",
        "points",
        "balance_after",
        "description",
        "staff_user",
    )
    list_select_related = ("member__user", "staff_user")
    list_filter = ("kind", "created_at")
    search_fields = ("=member__member_number", "=member__user__email")
    search_help_text = _("The exact member number or e-mail address.")
    fields = (
        "created_at",
        "member_display",
        "kind",
        "points",
        "balance_after",
        "description",
        "purchase",
        "cause_display",
        "reverses",
        "staff_user",
        "reason",
    )
    inlines = (LotMovementInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("member__user", "staff_user", "purchase__partner", "cause_type")
        )

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return _member_link(obj.member)

    @admin.display(description=_("cause"))
    def cause_display(self, obj):
        if obj.cause_type_id is None:
            return "-"
        return f"{obj.cause_type.name}: {obj.cause or obj.cause_id}"


@admin.register(PointLot)
class PointLotAdmin(ReadOnlyAdmin):
    list_display = ("earned_at", "member", "points", "remaining", "expires_on")
    list_select_related = ("member__user",)
    list_filter = ("expires_on", "earned_at")
    search_fields = ("=member__member_number", "=member__user__email")
    search_help_text = _("The exact member number or e-mail address.")
    fields = ("member_display", "entry", "points", "remaining", "earned_at", "expires_on")
    ordering = ("-earned_at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user", "entry")

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return _member_link(obj.member)


# --- purchases and refunds --------------------------------------------------------------------


class PurchaseLineInline(ReadOnlyTabularInline):
    model = PurchaseLine
    fields = ("sku", "quantity", "amount", "category")


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = (
        "external_id",
        "amount",
        "points_reversed",
        "points_unrecovered",
        "created_at",
    )
    show_change_link = True


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = (
        "occurred_at",
        "partner",
        "external_id",
        "member",
        "amount",
        "currency",
        "points_earned",
    )
    list_select_related = ("partner", "member__user")
    list_filter = ("partner", "currency", "occurred_at")
    search_fields = ("=external_id", "=member__member_number")
    search_help_text = _("The partner's exact purchase id or the exact member number.")
    fields = (
        "partner",
        "external_id",
        "member_display",
        "amount",
        "currency",
        "occurred_at",
        "created_at",
        "points_earned",
        "explanation_text",
    )
    inlines = (PurchaseLineInline, RefundInline)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "member__user")

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return _member_link(obj.member)

    @admin.display(description=_("why these points"))
    def explanation_text(self, obj):
        return earning.explain_text(obj.explanation or [], obj.points_earned)


class UnrecoveredFilter(admin.SimpleListFilter):
    title = _("points not recovered")
    parameter_name = "unrecovered"

    def lookups(self, request, model_admin):
        return (("yes", _("Some")), ("no", _("None")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(points_unrecovered__gt=0)
        if self.value() == "no":
            return queryset.filter(points_unrecovered=0)
        return queryset


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "purchase",
        "external_id",
        "amount",
        "points_reversed",
        "points_unrecovered",
    )
    list_select_related = ("purchase__partner",)
    list_filter = (UnrecoveredFilter, "purchase__partner", "created_at")
    search_fields = (
        "=external_id",
        "=purchase__external_id",
        "=purchase__member__member_number",
    )
    search_help_text = _("The exact refund id, purchase id or member number.")
    fields = (
        "purchase",
        "external_id",
        "amount",
        "points_reversed",
        "points_unrecovered",
        "created_at",
    )


# --- tiers ---------------------------------------------------------------------------------------


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "member",
        "from_tier",
        "to_tier",
        "qualifying_points",
        "reason",
    )
    list_select_related = ("member__user", "from_tier", "to_tier")
    list_filter = ("to_tier", "reason", "created_at")
    search_fields = ("=member__member_number", "=member__user__email")
    search_help_text = _("The exact member number or e-mail address.")
    fields = (
        "member_display",
        "from_tier",
        "to_tier",
        "qualifying_points",
        "reason",
        "created_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user", "from_tier", "to_tier")

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return _member_link(obj.member)


class TierForm(forms.ModelForm):
    """The anniversary thank-you may be left empty: no bonus points (the card still goes).
    The admin makes the form for the Tier model and its fields."""

    BONUS_FIELDS = ("anniversary_bonus_base", "anniversary_bonus_per_year")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.BONUS_FIELDS:
            self.fields[name].required = False

    def clean(self):
        cleaned = super().clean()
        for name in self.BONUS_FIELDS:
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = 0
        return cleaned


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    form = TierForm
    list_display = (
        "rank",
        "name",
        "code",
        "qualifying_points",
        "earn_multiplier",
        "discount_percent",
        "anniversary_bonus_base",
        "anniversary_bonus_per_year",
    )
    list_display_links = ("rank", "name")
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}
    ordering = ("rank",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "code",
                    "rank",
                    "qualifying_points",
                    "earn_multiplier",
                    "discount_percent",
                )
            },
        ),
        (_("Anniversary thank-you"), {"fields": TierForm.BONUS_FIELDS}),
        (
            _("Benefits, as members read them"),
            {
                "fields": tuple(f"benefits_{code}" for code in LANGUAGE_CODES),
                "description": _(
                    "Each member reads their own language; where it is empty, the English text."
                ),
            },
        ),
    )
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "is_active",
        "points_per_unit",
        "multiplier",
        "min_amount",
        "partner",
        "category",
        "valid_from",
        "valid_until",
    )
    list_select_related = ("partner",)
    list_filter = ("is_active", "partner", "category")
    search_fields = ("name", "category")
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            _("Points"),
            {
                "fields": ("points_per_unit", "multiplier"),
                "description": _(
                    "A rate rule sets points per currency unit and leaves the multiplier empty; "
                    "a promotion sets a multiplier and 0 points per unit."
                ),
            },
        ),
        (
            _("Applies to"),
            {"fields": ("partner", "category", "min_amount", "valid_from", "valid_until")},
        ),
    )


# --- scheduled jobs ------------------------------------------------------------------------------


class JobBatchInline(ReadOnlyTabularInline):
    model = JobBatch
    fields = ("number", "step", "size", "considered", "paid", "skipped", "errors", "error")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Every run of a scheduled job (loyalty/jobs.py); the schedule itself is under Periodic
    tasks. A job is run again by hand with `manage.py run_job NAME --date YYYY-MM-DD`."""

    list_display = (
        "name",
        "day",
        "trigger",
        "started_at",
        "finished_at",
        "progress",
        "considered",
        "paid",
        "skipped",
        "errors",
    )
    list_filter = ("name", "trigger", "day")
    date_hierarchy = "day"
    fields = (
        "name",
        "day",
        "trigger",
        "started_at",
        "finished_at",
        "batches_planned",
        "batches_done",
        "considered",
        "paid",
        "skipped",
        "errors",
        "details",
        "error_log",
    )
    inlines = (JobBatchInline,)

    @admin.display(description=_("batches"))
    def progress(self, obj):
        planned = "?" if obj.batches_planned is None else obj.batches_planned
        return f"{obj.batches_done}/{planned}"
