"""The queue of feedback items and an item's page (ItemPages adds the item's own pages)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Case, DateTimeField, F, IntegerField, Q, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError
from loyalty.base.formats import short_datetime
from loyalty.base.staff import LIST_TEXT_CHARS, ReadOnlyTabularInline

from .. import services
from ..models import FeedbackAnswer, FeedbackItem, PublishedCase, overdue_q
from .common import AssignedFilter, EscalatedFilter, OverdueFilter, item_label
from .item_pages import ItemPages


class ItemPartInline(ReadOnlyTabularInline):
    """Part of the item: whoever may see the item sees it (no permission of its own needed)."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("feedback.view_feedbackitem") or request.user.has_perm(
            "feedback.change_feedbackitem"
        )


class FeedbackAnswerInline(ItemPartInline):
    model = FeedbackAnswer
    fields = (
        "created_at",
        "handler_name",
        "author",
        "what_was_done",
        "what_changes",
        "language",
        "template",
    )
    verbose_name_plural = _("answers")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "template")


class PublishedCaseInline(ItemPartInline):
    model = PublishedCase
    fields = ("language", "problem", "what_changed", "published_by", "published_at")
    show_change_link = True
    verbose_name_plural = _("published cases")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("published_by")


@admin.register(FeedbackItem)
class FeedbackItemAdmin(ItemPages, admin.ModelAdmin):
    # Category and partner are filters; the deadline and overdue come first.
    list_display = (
        "number",
        "next_deadline",
        "overdue",
        "status",
        "severity",
        "kind",
        "summary",
        "member_number",
        "assigned_to",
        "escalation",
    )
    list_display_links = ("number", "summary")
    list_select_related = ("member", "partner", "assigned_to")
    list_filter = (
        "status",
        "severity",
        OverdueFilter,
        "category",
        "kind",
        "partner",
        AssignedFilter,
        EscalatedFilter,
    )
    search_fields = ("=member__member_number", "text")
    search_help_text = _("An item number (#123), the exact member number, or words of the text.")
    show_full_result_count = False
    list_per_page = 50
    actions = ("assign_to_me", "close_answered")
    inlines = (FeedbackAnswerInline, PublishedCaseInline)
    fieldsets = (
        (
            _("What the member said"),
            {
                "fields": (
                    "member",
                    "kind",
                    "category",
                    "text",
                    "language",
                    "channel",
                    "partner",
                    "purchase",
                    "created_at",
                )
            },
        ),
        (
            _("Triage"),
            {
                "fields": (
                    "severity",
                    "assigned_to",
                    "status",
                    "assigned_at",
                    "first_answer_due",
                    "resolution_due",
                    "overdue_now",
                    "escalated_at",
                    "escalation_reason",
                ),
                "description": _(
                    "A new severity moves the deadlines (counted from when the item was filed); "
                    "a high or critical item is escalated to the managers once."
                ),
            },
        ),
        (
            _("Answer"),
            {"fields": ("first_answered_at", "closed_at", "rating", "rating_comment", "rated_at")},
        ),
        (
            _("Thanks and publication"),
            {"fields": ("led_to_change", "thanks_entry", "publish_consent")},
        ),
    )
    # Saved through services (save_model); everything else is the member's words or history.
    editable_fields = ("severity", "assigned_to")
    readonly_fields = (
        "member",
        "kind",
        "category",
        "text",
        "language",
        "channel",
        "partner",
        "purchase",
        "created_at",
        "status",
        "assigned_at",
        "first_answer_due",
        "resolution_due",
        "overdue_now",
        "escalated_at",
        "escalation_reason",
        "first_answered_at",
        "closed_at",
        "rating",
        "rating_comment",
        "rated_at",
        "led_to_change",
        "thanks_entry",
        "publish_consent",
    )

    # --- the queue: order, highlight, search ----------------------------------------------------

    def get_queryset(self, request):
        # Annotated before ordering: the queue's order is by these annotations.
        closed = Q(status=FeedbackItem.Status.CLOSED)
        queryset = (
            self.model._default_manager.get_queryset()
            .select_related("member__user", "partner", "assigned_to", "purchase", "thanks_entry")
            .annotate(
                # Open items first, by their next deadline: the first answer until there is
                # one, then the resolution. Closed items last, the latest closed first.
                queue_closed=Case(
                    When(closed, then=Value(1)), default=Value(0), output_field=IntegerField()
                ),
                next_due=Case(
                    When(closed, then=Value(None)),
                    When(first_answered_at__isnull=True, then=F("first_answer_due")),
                    default=F("resolution_due"),
                    output_field=DateTimeField(),
                ),
                is_overdue_now=Case(
                    When(overdue_q(timezone.now()), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
        )
        return queryset.order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("queue_closed", "next_due", "-closed_at", "-pk")

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = search_term.strip().lstrip("#")
        if number.isdigit() and len(number) <= 18:
            results = results | queryset.filter(pk=int(number))
        return results, may_have_duplicates

    @admin.display(description=_("item"), ordering="pk")
    def number(self, obj):
        return item_label(obj)

    @admin.display(description=_("member number"), ordering="member__member_number")
    def member_number(self, obj):
        return obj.member.member_number

    @admin.display(description=_("what the member said"))
    def summary(self, obj):
        return Truncator(" ".join(obj.text.split())).chars(LIST_TEXT_CHARS)

    @admin.display(description=_("next deadline"), ordering="next_due")
    def next_deadline(self, obj):
        return short_datetime(obj.next_due)

    @admin.display(description=_("overdue"), ordering="is_overdue_now")
    def overdue(self, obj):
        # The marker also highlights the whole row (see change_list.html); the word keeps it
        # clear without colour.
        if not obj.is_overdue_now:
            return "-"
        return format_html('<span class="feedback-overdue">{}</span>', _("Overdue"))

    @admin.display(description=_("escalated"), ordering="escalated_at")
    def escalation(self, obj):
        if obj.escalated_at is None:
            return "-"
        reasons = {"severe": _("severe"), "overdue": _("overdue")}
        return reasons.get(obj.escalation_reason, obj.escalation_reason)

    @admin.display(description=_("overdue now"), boolean=True)
    def overdue_now(self, obj):
        return obj.overdue_at()

    # --- the item's page: severity and assignee through services ---------------------------

    def has_add_permission(self, request):
        # Members and partners file items (feedback_file); staff never add one by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        # An item is closed, not deleted: it is the member's history and the figures.
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == FeedbackItem.Status.CLOSED:
            return (*self.editable_fields, *self.readonly_fields)
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_to":
            kwargs["queryset"] = (
                get_user_model().objects.filter(is_staff=True, is_active=True).order_by("email")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "assigned_to" and formfield is not None:
            # Choose among staff; users are not added or edited from an item's page.
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = False
            widget.can_delete_related = widget.can_view_related = False
        return formfield

    def save_model(self, request, obj, form, change):
        """Never obj.save(): a changed severity or assignee goes through its service."""
        request._feedback_errors = []
        changed = set(form.changed_data)
        steps = []
        if "severity" in changed:
            steps.append(
                lambda: services.feedback_set_severity(
                    item=obj, severity=form.cleaned_data["severity"], staff_user=request.user
                )
            )
        if "assigned_to" in changed:
            steps.append(
                lambda: services.feedback_assign(
                    item=obj, assignee=form.cleaned_data["assigned_to"], staff_user=request.user
                )
            )
        for step in steps:
            try:
                step()
            except LoyaltyError as exc:
                request._feedback_errors.append(exc.message)

    def save_related(self, request, form, formsets, change):
        # Answers and cases are read-only here (written by their own pages): nothing is saved,
        # and the change message sees no added, changed or deleted rows.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def log_change(self, request, obj, message):
        if getattr(request, "_feedback_errors", None):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        errors = getattr(request, "_feedback_errors", None)
        if errors:
            for error in errors:
                self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        item = self.get_object(request, unquote(object_id))
        if item is not None and self.has_change_permission(request, item):
            extra_context["feedback_tools"] = self._tools(item)
        return super().change_view(request, object_id, form_url, extra_context)

    def _tools(self, item: FeedbackItem) -> list[tuple[str, str]]:
        def url(name: str) -> str:
            return reverse(f"admin:feedback_feedbackitem_{name}", args=[item.pk])

        tools = []
        if item.is_open:
            tools.append((url("answer"), _("Write an answer")))
        if item.kind in services.THANKABLE:
            tools.append((url("thank"), _("Led to a change: thank the member")))
        if item.is_open and item.first_answered_at is not None:
            tools.append((url("close"), _("Close")))
        if item.publish_consent and item.first_answered_at is not None:
            tools.append((url("publish"), _("Publish a case")))
        return tools

    # --- actions on the list -----------------------------------------------------------------

    @admin.action(description=_("Assign selected items to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        assigned = skipped = 0
        for item in queryset.order_by("pk"):
            if item.status == FeedbackItem.Status.CLOSED or item.assigned_to_id == request.user.pk:
                skipped += 1
                continue
            try:
                services.feedback_assign(item=item, assignee=request.user, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(
                    request,
                    _("%(item)s: %(error)s") % {"item": item_label(item), "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.log_change(request, item, f"Assigned to {request.user.email}.")
                assigned += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d item assigned to you.", "%(count)d items assigned to you.", assigned
            )
            % {"count": assigned},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d item was closed or yours already and was left as it was.",
                    "%(count)d items were closed or yours already and were left as they were.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Close selected answered items"), permissions=["change"])
    def close_answered(self, request, queryset):
        closed = skipped = 0
        for item in queryset.order_by("pk"):
            if item.status != FeedbackItem.Status.ANSWERED:
                skipped += 1
                continue
            try:
                services.feedback_close(item=item, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(
                    request,
                    _("%(item)s: %(error)s") % {"item": item_label(item), "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.log_change(request, item, "Closed.")
                closed += 1
        self.message_user(
            request,
            ngettext("%(count)d item closed.", "%(count)d items closed.", closed)
            % {"count": closed},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d item was not answered or already closed and was left as it was.",
                    "%(count)d items were not answered or already closed and were left as they "
                    "were.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
