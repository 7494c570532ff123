"""An item's own pages (answer, thank, close, publish) and the book's monthly figures: each
a form, then one service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import StaffPages

from .. import selectors, services
from ..charts import survey_charts
from ..models import CASE_MAX_LENGTH, LANGUAGE_CODES, AnswerTemplate, FeedbackItem, PublishedCase
from .common import (
    FIGURES_MONTHS,
    LANGUAGE_NAMES,
    MAX_FIGURES_MONTHS,
    add_service_error,
    item_label,
)
from .forms import AnswerForm, CaseForm, TemplatePickForm


class ItemPages(StaffPages):
    """The pages FeedbackItemAdmin opens for an item, and the figures."""

    not_found_message = _("No feedback item with that id.")

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

    def _change_url(self, item: FeedbackItem) -> str:
        return reverse("admin:feedback_feedbackitem_change", args=[item.pk])

    def _render(self, request, template: str, *, title, item=None, form=None, **context):
        language = LANGUAGE_NAMES.get(item.language, item.language) if item else ""
        return self.staff_page(
            request, template, title=title, form=form, obj=item, item_language=language, **context
        )

    def answer_view(self, request, object_id):
        """The answer report: start from a template (GET ?template=<id> fills in its texts in
        the item's language), edit, send. services.feedback_answer tells the member."""
        item = self.object_for_change(request, object_id)
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
                    add_service_error(form, exc)
                else:
                    self.log_change(request, item, f"Answered (answer {answer.pk}).")
                    message = _("The answer to %(item)s was sent to the member.") % {
                        "item": item_label(item)
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
        item = self.object_for_change(request, object_id)
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
                        % {"item": item_label(item)},
                        messages.WARNING,
                    )
                else:
                    self.log_change(request, item, "Marked as leading to a change; thanked.")
                    if entry is None:
                        message = _(
                            "%(item)s led to a change. The member was thanked (without points)."
                        ) % {"item": item_label(item)}
                    else:
                        message = _(
                            "%(item)s led to a change. The member was thanked with %(points)d "
                            "points."
                        ) % {"item": item_label(item), "points": entry.points}
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
        item = self.object_for_change(request, object_id)
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
                    _("%(item)s is closed.") % {"item": item_label(item)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self._change_url(item))
        return self._render(
            request, "admin/feedback/close.html", title=_("Close the item"), item=item
        )

    def publish_view(self, request, object_id):
        """An anonymised case on the public page, in one language (again: replace it)."""
        item = self.object_for_change(request, object_id)
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
                    add_service_error(form, exc)
                else:
                    self.log_change(request, item, f"Published the case in {case.language}.")
                    self.message_user(
                        request,
                        _("The case of %(item)s is published in %(language)s.")
                        % {
                            "item": item_label(item),
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
