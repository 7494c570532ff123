"""Staff pages of the feedback book: the queue, answers, thanks, publication and the figures.

The admin is thin. An item's severity and assignee are edited on its page but saved only
through feedback.services (feedback_set_severity, feedback_assign); answering, thanking,
closing and publishing are pages of their own that call one service each. A service's error
(a LoyaltyError) becomes a form error or an admin message, never a server error. Items are
filed by members and partners, never added here, and are never deleted (they are history).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, DateTimeField, F, IntegerField, Q, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin, ReadOnlyTabularInline

from . import selectors, services
from .charts import survey_charts
from .models import (
    ANSWER_MAX_LENGTH,
    CASE_MAX_LENGTH,
    LANGUAGE_CODES,
    AnswerTemplate,
    FeedbackAnswer,
    FeedbackItem,
    PublishedCase,
    ResponsePolicy,
    SurveyResponse,
    overdue_q,
)

FIGURES_MONTHS = 12
MAX_FIGURES_MONTHS = 36
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def _short(moment) -> str:
    if moment is None:
        return "-"
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _item_label(item: FeedbackItem) -> str:
    return f"#{item.pk}"


def _add_service_error(form: forms.Form, exc: LoyaltyError) -> None:
    """Put a service's error on the field it names, or on the form as a whole."""
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


# --- the queue's filters -----------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(overdue_q(now))
        if self.value() == "no":
            return queryset.exclude(overdue_q(now))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = _("assigned to")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        staff = (
            get_user_model()
            .objects.filter(is_staff=True, is_active=True)
            .order_by("email")
            .values_list("pk", "email")
        )
        return (
            ("mine", _("Me")),
            ("nobody", _("Nobody")),
            *((str(pk), email) for pk, email in staff),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(assigned_to=request.user)
        if value == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assigned_to_id=int(value))
        return queryset


class EscalatedFilter(admin.SimpleListFilter):
    title = _("escalated")
    parameter_name = "escalated"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(escalated_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(escalated_at__isnull=True)
        return queryset


# --- an item's page: answers and cases ---------------------------------------------------------


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


# --- the forms of the item's own pages ----------------------------------------------------------


class TemplatePickForm(forms.Form):
    """Sent with GET: the answer page reloads with the template's texts in the item's language."""

    template = forms.ModelChoiceField(
        label=_("Answer template"),
        queryset=AnswerTemplate.objects.none(),
        required=False,
        empty_label=_("(none: write the answer yourself)"),
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class AnswerForm(forms.Form):
    required_css_class = "required"

    template = forms.ModelChoiceField(
        queryset=AnswerTemplate.objects.none(), required=False, widget=forms.HiddenInput
    )
    handler_name = forms.CharField(
        label=_("Handled by"),
        max_length=100,
        help_text=_("The name the member sees under the answer."),
    )
    what_was_done = forms.CharField(
        label=_("What was done"),
        max_length=ANSWER_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
    what_changes = forms.CharField(
        label=_("What changes so it does not happen again"),
        max_length=ANSWER_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )
    close = forms.BooleanField(
        label=_("Close the item after answering"),
        required=False,
        help_text=_("Leave it open when more work or a further answer is to come."),
    )

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates


class CaseForm(forms.Form):
    required_css_class = "required"

    # Chosen with the page's language links (?language=), which prefill the texts.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGE_CODES],
        widget=forms.HiddenInput,
    )
    problem = forms.CharField(
        label=_("You said"),
        max_length=CASE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("The problem in a few anonymous words: no name, e-mail, phone or number."),
    )
    what_changed = forms.CharField(
        label=_("We did"),
        max_length=CASE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("What changed because the member told us."),
    )


# --- the queue -----------------------------------------------------------------------------------


@admin.register(FeedbackItem)
class FeedbackItemAdmin(admin.ModelAdmin):
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
        return _item_label(obj)

    @admin.display(description=_("member number"), ordering="member__member_number")
    def member_number(self, obj):
        return obj.member.member_number

    @admin.display(description=_("what the member said"))
    def summary(self, obj):
        return Truncator(" ".join(obj.text.split())).chars(60)

    @admin.display(description=_("next deadline"), ordering="next_due")
    def next_deadline(self, obj):
        return _short(obj.next_due)

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

    # --- the item's own pages and the figures ------------------------------------------------

    def get_urls(self):
        def view(function, suffix: str, route: str):
            return path(
                route,
                self.admin_site.admin_view(function),
                name=f"feedback_feedbackitem_{suffix}",
            )

        urls = [
            view(self.figures_view, "figures", "figures/"),
            view(self.answer_view, "answer", "<path:object_id>/answer/"),
            view(self.thank_view, "thank", "<path:object_id>/thank/"),
            view(self.close_view, "close", "<path:object_id>/close/"),
            view(self.publish_view, "publish", "<path:object_id>/publish/"),
        ]
        return urls + super().get_urls()

    def _item_for_change(self, request, object_id) -> FeedbackItem:
        item = self.get_object(request, unquote(object_id))
        if item is None:
            raise Http404(_("No feedback item with that id."))
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        return item

    def _change_url(self, item: FeedbackItem) -> str:
        return reverse("admin:feedback_feedbackitem_change", args=[item.pk])

    def _render(self, request, template: str, *, title, item=None, form=None, **context):
        media = self.media + form.media if form is not None else self.media
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "object": item,
                "item_language": LANGUAGE_NAMES.get(item.language, item.language) if item else "",
                "form": form,
                "media": media,
                **context,
            },
        )

    def answer_view(self, request, object_id):
        """The answer report: start from a template (GET ?template=<id> fills in its texts in
        the item's language), edit, send. services.feedback_answer tells the member."""
        item = self._item_for_change(request, object_id)
        templates = AnswerTemplate.objects.filter(is_active=True).filter(
            Q(kind="") | Q(kind=item.kind)
        )
        pick = TemplatePickForm(
            request.GET if "template" in request.GET else None, templates=templates
        )
        if request.method == "POST":
            form = AnswerForm(request.POST, templates=templates)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    answer = services.feedback_answer(
                        item=item,
                        author=request.user,
                        what_was_done=data["what_was_done"],
                        what_changes=data["what_changes"],
                        handler_name=data["handler_name"],
                        template=data["template"],
                        close=data["close"],
                    )
                except LoyaltyError as exc:
                    _add_service_error(form, exc)
                else:
                    self.log_change(request, item, f"Answered (answer {answer.pk}).")
                    message = _("The answer to %(item)s was sent to the member.") % {
                        "item": _item_label(item)
                    }
                    if data["close"]:
                        closed = _("The item is closed.")
                        message = f"{message} {closed}"
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(self._change_url(item))
        else:
            user = request.user
            initial = {"handler_name": user.get_short_name() or user.email.split("@")[0]}
            template = pick.cleaned_data["template"] if pick.is_bound and pick.is_valid() else None
            if template is not None:
                done, changes = template.texts(item.language, name=item.member.user.first_name)
                initial.update(template=template.pk, what_was_done=done, what_changes=changes)
            form = AnswerForm(initial=initial, templates=templates)
        chosen = form["template"].value()
        return self._render(
            request,
            "admin/feedback/answer.html",
            title=_("Write an answer"),
            item=item,
            form=form,
            pick=pick,
            chosen_template=templates.filter(pk=chosen).first() if chosen else None,
        )

    def thank_view(self, request, object_id):
        """A prize for a complaint: confirm, then services.feedback_thank pays once."""
        item = self._item_for_change(request, object_id)
        if request.method == "POST":
            already = item.led_to_change
            try:
                entry = services.feedback_thank(item=item, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                if already:
                    self.message_user(
                        request,
                        _(
                            "%(item)s was already marked as leading to a change; nothing more "
                            "was paid."
                        )
                        % {"item": _item_label(item)},
                        messages.WARNING,
                    )
                else:
                    self.log_change(request, item, "Marked as leading to a change; thanked.")
                    if entry is None:
                        message = _(
                            "%(item)s led to a change. The member was thanked (without points)."
                        ) % {"item": _item_label(item)}
                    else:
                        message = _(
                            "%(item)s led to a change. The member was thanked with %(points)d "
                            "points."
                        ) % {"item": _item_label(item), "points": entry.points}
                    self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(item))
        return self._render(
            request,
            "admin/feedback/thank.html",
            title=_("Led to a change: thank the member"),
            item=item,
            points=settings.FEEDBACK_THANKS_POINTS,
            thankable=item.kind in services.THANKABLE,
            thanks_entry=item.thanks_entry,
        )

    def close_view(self, request, object_id):
        item = self._item_for_change(request, object_id)
        if request.method == "POST":
            was_open = item.is_open
            try:
                services.feedback_close(item=item, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                if was_open:
                    self.log_change(request, item, "Closed.")
                self.message_user(
                    request,
                    _("%(item)s is closed.") % {"item": _item_label(item)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self._change_url(item))
        return self._render(
            request, "admin/feedback/close.html", title=_("Close the item"), item=item
        )

    def publish_view(self, request, object_id):
        """An anonymised case on the public page, in one language (again: replace it)."""
        item = self._item_for_change(request, object_id)
        cases = {case.language: case for case in item.cases.all()}
        if request.method == "POST":
            form = CaseForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    case = services.case_publish(
                        item=item,
                        staff_user=request.user,
                        language=data["language"],
                        problem=data["problem"],
                        what_changed=data["what_changed"],
                    )
                except LoyaltyError as exc:
                    _add_service_error(form, exc)
                else:
                    self.log_change(request, item, f"Published the case in {case.language}.")
                    self.message_user(
                        request,
                        _("The case of %(item)s is published in %(language)s.")
                        % {
                            "item": _item_label(item),
                            "language": LANGUAGE_NAMES.get(case.language, case.language),
                        },
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._change_url(item))
            language = form["language"].value()
        else:
            language = request.GET.get("language", "")
            if language not in LANGUAGE_CODES:
                language = item.language if item.language in LANGUAGE_CODES else "en"
            form = CaseForm(initial=self._case_initial(item, language, cases.get(language)))
        return self._render(
            request,
            "admin/feedback/publish.html",
            title=_("Publish a case"),
            item=item,
            form=form,
            language=language,
            language_name=LANGUAGE_NAMES.get(language, language),
            languages=[
                (code, LANGUAGE_NAMES.get(code, code), code in cases) for code in LANGUAGE_CODES
            ],
        )

    @staticmethod
    def _case_initial(item: FeedbackItem, language: str, case: PublishedCase | None) -> dict:
        if case is not None:
            return {
                "language": language,
                "problem": case.problem,
                "what_changed": case.what_changed,
            }
        initial = {"language": language}
        if language == item.language:
            latest = item.answers.exclude(what_changes="").order_by("-created_at", "-id").first()
            initial["problem"] = item.text[:CASE_MAX_LENGTH]
            initial["what_changed"] = latest.what_changes[:CASE_MAX_LENGTH] if latest else ""
        return initial

    def figures_view(self, request):
        """Monthly figures of the book and the survey scores over time."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            months = int(request.GET.get("months", FIGURES_MONTHS))
        except ValueError:
            months = FIGURES_MONTHS
        months = min(max(months, 1), MAX_FIGURES_MONTHS)
        figures = selectors.monthly_figures(months)
        scores = selectors.survey_scores(months)
        return self._render(
            request,
            "admin/feedback/figures.html",
            title=_("Feedback figures"),
            months=months,
            figures=figures,
            scores=scores,
            charts=survey_charts(scores),
            thanks_points=settings.FEEDBACK_THANKS_POINTS,
        )

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
                    _("%(item)s: %(error)s") % {"item": _item_label(item), "error": exc.message},
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
                    _("%(item)s: %(error)s") % {"item": _item_label(item), "error": exc.message},
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


# --- configuration: response policies and answer templates -------------------------------------


@admin.register(ResponsePolicy)
class ResponsePolicyAdmin(admin.ModelAdmin):
    """Hours to the first answer and to resolution per severity. A change applies to items
    filed (or given a new severity) afterwards; deadlines already set stay as they are."""

    list_display = ("severity", "first_answer_hours", "resolution_hours")
    list_display_links = ("severity",)
    list_editable = ("first_answer_hours", "resolution_hours")


class AnswerTemplateForm(forms.ModelForm):
    class Meta:
        model = AnswerTemplate
        fields = (
            "name",
            "kind",
            "is_active",
            *(f"done_{code}" for code in LANGUAGE_CODES),
            *(f"changes_{code}" for code in LANGUAGE_CODES),
        )
        widgets = {
            f"{part}_{code}": forms.Textarea(attrs={"rows": 4, "cols": 80})
            for part in ("done", "changes")
            for code in LANGUAGE_CODES
        }

    def clean(self):
        cleaned = super().clean()
        written = [code for code in LANGUAGE_CODES if cleaned.get(f"changes_{code}")]
        if written and len(written) < len(LANGUAGE_CODES):
            for code in LANGUAGE_CODES:
                if code not in written and f"changes_{code}" not in self.errors:
                    self.add_error(
                        f"changes_{code}",
                        forms.ValidationError(
                            _(
                                "Write what changes in all six languages, or leave it empty "
                                "in all of them."
                            ),
                            code="all_or_none",
                        ),
                    )
        return cleaned


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


# --- published cases and surveys -----------------------------------------------------------------


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
        return Truncator(obj.problem).chars(80)

    @admin.display(description=_("we did"))
    def what_changed_short(self, obj):
        return Truncator(obj.what_changed).chars(80)

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


class AnsweredFilter(admin.SimpleListFilter):
    title = _("answered")
    parameter_name = "answered"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(answered_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(answered_at__isnull=True)
        return queryset


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
