"""The book's configuration and history: response policies, answer templates, published cases
and survey answers."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import LIST_TEXT_CHARS, ReadOnlyAdmin

from .. import services
from ..models import LANGUAGE_CODES, AnswerTemplate, PublishedCase, ResponsePolicy, SurveyResponse
from .common import AnsweredFilter
from .forms import AnswerTemplateForm


@admin.register(ResponsePolicy)
class ResponsePolicyAdmin(admin.ModelAdmin):
    """Hours to the first answer and to resolution per severity. A change applies to items
    filed (or given a new severity) afterwards; deadlines already set stay as they are."""

    list_display = ("severity", "first_answer_hours", "resolution_hours")
    list_display_links = ("severity",)
    list_editable = ("first_answer_hours", "resolution_hours")


@admin.register(AnswerTemplate)
class AnswerTemplateAdmin(admin.ModelAdmin):
    form = AnswerTemplateForm
    list_display = ("name", "kind", "is_active")
    list_filter = ("is_active", "kind")
    search_fields = ("name", "done_en")
    fieldsets = (
        (
            None,
            {
                "fields": ("name", "kind", "is_active"),
                "description": _(
                    "Write the answer in all six languages; {name} becomes the member's first "
                    "name. What changes is optional, but then in every language."
                ),
            },
        ),
        *(
            (
                name,
                {
                    "fields": (f"done_{code}", f"changes_{code}"),
                    "classes": () if code == "en" else ("collapse",),
                },
            )
            for code, name in settings.LANGUAGES
            if code in LANGUAGE_CODES
        ),
    )


@admin.register(PublishedCase)
class PublishedCaseAdmin(admin.ModelAdmin):
    """What the public page shows. Published from an item's "Publish a case" page; taken down
    with the "Unpublish" action (or when the member withdraws consent)."""

    list_display = (
        "published_at",
        "item_link",
        "language",
        "problem_short",
        "what_changed_short",
        "published_by",
    )
    list_select_related = ("published_by",)
    list_filter = ("language",)
    search_fields = ("problem", "what_changed")
    actions = ("unpublish",)
    fields = ("item_link", "language", "problem", "what_changed", "published_by", "published_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_unpublish_permission(self, request):
        return request.user.has_perm("feedback.delete_publishedcase") or request.user.has_perm(
            "feedback.change_publishedcase"
        )

    @admin.display(description=_("item"), ordering="item_id")
    def item_link(self, obj):
        url = reverse("admin:feedback_feedbackitem_change", args=[obj.item_id])
        return format_html('<a href="{}">#{}</a>', url, obj.item_id)

    @admin.display(description=_("you said"))
    def problem_short(self, obj):
        return Truncator(obj.problem).chars(LIST_TEXT_CHARS)

    @admin.display(description=_("we did"))
    def what_changed_short(self, obj):
        return Truncator(obj.what_changed).chars(LIST_TEXT_CHARS)

    @admin.action(description=_("Unpublish selected cases"), permissions=["unpublish"])
    def unpublish(self, request, queryset):
        count = 0
        for case in queryset.select_related("item").order_by("pk"):
            try:
                services.case_unpublish(case=case, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                # The case is gone; the item keeps the record of it.
                self.log_change(request, case.item, f"Unpublished the case in {case.language}.")
                count += 1
        self.message_user(
            request,
            ngettext("%(count)d case unpublished.", "%(count)d cases unpublished.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = (
        "invited_at",
        "member",
        "quarter",
        "trigger",
        "would_tell",
        "recommend",
        "answered_at",
    )
    list_select_related = ("member__user",)
    list_filter = ("quarter", "trigger", AnsweredFilter)
    search_fields = ("=member__member_number",)
    search_help_text = _("The exact member number.")
    fields = (
        "member",
        "quarter",
        "trigger",
        "invited_at",
        "would_tell",
        "recommend",
        "answered_at",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("member__user")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "figures_url": reverse("admin:feedback_feedbackitem_figures"),
        }
        return super().changelist_view(request, extra_context)
