"""The ledger, lots, pending points, purchases and refunds: history, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from loyalty.base.staff import LIST_TEXT_CHARS, ReadOnlyAdmin, ReadOnlyTabularInline

from .. import earning, refunds
from ..models import (
    LedgerEntry,
    LotMovement,
    PendingPoints,
    PointLot,
    Purchase,
    PurchaseLine,
    Refund,
)
from ..wording import STAFF, entries_word, entry_words


def member_link(member) -> str:
    url = reverse("admin:accounts_member_change", args=[member.pk])
    return format_html('<a href="{}">{}</a>', url, member)


class LotMovementInline(ReadOnlyTabularInline):
    model = LotMovement
    fields = ("lot", "points")
    verbose_name_plural = _("points taken from or given back to lots")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("lot")


class WordedChangeList(ChangeList):
    """The page's entries worded in one go (a query per kind of cause, not per row)."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = entries_word(self.result_list, view=STAFF)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "member",
        "kind",
        "points",
        "balance_after",
        "words",
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
        "words",
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
        return member_link(obj.member)

    def get_changelist(self, request, **kwargs):
        return WordedChangeList

    @admin.display(description=_("what for"))
    def words(self, obj):
        """In the staff member's language (StaffLanguageMiddleware), from the entry's cause."""
        words = getattr(obj, "words", None) or entry_words(obj, view=STAFF)
        return Truncator(words).chars(LIST_TEXT_CHARS)

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
        return member_link(obj.member)


@admin.register(PendingPoints)
class PendingPointsAdmin(ReadOnlyAdmin):
    """Points waiting out a partner's return window (loyalty.core.pending)."""

    list_display = ("created_at", "member", "purchase", "points", "cancelled", "available_on")
    list_select_related = ("member__user", "purchase__partner")
    list_filter = ("status", "available_on", "purchase__partner")
    search_fields = ("=member__member_number", "=member__user__email", "=purchase__external_id")
    search_help_text = _("The exact member number, e-mail address or purchase id.")
    fields = (
        "member_display",
        "purchase",
        "points",
        "cancelled",
        "status",
        "available_on",
        "entry",
        "created_at",
        "settled_at",
    )
    ordering = ("-created_at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user", "purchase__partner")

    @admin.display(description=_("member"))
    def member_display(self, obj):
        return member_link(obj.member)


class PurchaseLineInline(ReadOnlyTabularInline):
    model = PurchaseLine
    fields = ("sku", "quantity", "amount", "category", "points_earned")


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = (
        "external_id",
        "amount",
        "points_reversed",
        "points_unrecovered",
        "points_cancelled",
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
        return member_link(obj.member)

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
        "points_cancelled",
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
        "points_cancelled",
        "created_at",
        "explanation_text",
    )

    @admin.display(description=_("why these points"))
    def explanation_text(self, obj):
        return refunds.explain_text(
            obj.explanation or [],
            obj.points_reversed + obj.points_unrecovered + obj.points_cancelled,
        )
