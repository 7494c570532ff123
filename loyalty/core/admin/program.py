"""The program's configuration (tiers, earning rules), the tier history and the job runs."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.base.languages import LANGUAGE_CODES
from loyalty.base.staff import ReadOnlyAdmin, ReadOnlyTabularInline

from .. import catchup, hooks
from ..models import EarningRule, JobBatch, JobRun, Tier, TierChange
from .ledger import member_link


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
        return member_link(obj.member)


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
        (
            _("The name in the other languages"),
            {
                "fields": tuple(f"name_{code}" for code in LANGUAGE_CODES if code != "en"),
                "description": _("Members read their own language; where it is empty, the name."),
                "classes": ("collapse",),
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
            _("The name in the other languages"),
            {
                "fields": tuple(f"name_{code}" for code in LANGUAGE_CODES if code != "en"),
                "description": _("Members read their own language; where it is empty, the name."),
                "classes": ("collapse",),
            },
        ),
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


class JobNameFilter(admin.SimpleListFilter):
    title = _("job")
    parameter_name = "name"

    def lookups(self, request, model_admin):
        return [(name, job.label) for name, job in hooks.jobs().items()]

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


class JobBatchInline(ReadOnlyTabularInline):
    model = JobBatch
    fields = ("number", "step", "size", "considered", "paid", "skipped", "errors", "error")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Every run of a scheduled job (loyalty/core/jobs.py); the schedule itself is under
    Periodic tasks. A job is run again by hand with `manage.py run_job NAME --date YYYY-MM-DD`."""

    list_display = (
        "job",
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
    list_filter = (JobNameFilter, "trigger", "day")
    date_hierarchy = "day"
    fields = (
        "job",
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
        "catch_up",
        "details",
        "error_log",
    )
    inlines = (JobBatchInline,)

    @admin.display(description=_("missed days"))
    def catch_up(self, obj):
        """What a catch-up job could not cover and what to do (loyalty.core.catchup)."""
        return catchup.catch_up_notice(obj) or "–"

    @admin.display(description=_("job"), ordering="name")
    def job(self, obj):
        return obj.label

    @admin.display(description=_("batches"))
    def progress(self, obj):
        planned = "?" if obj.batches_planned is None else obj.batches_planned
        return f"{obj.batches_done}/{planned}"
