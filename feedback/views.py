"""The feedback book on the member site, the survey, and the public "You said, we did" page.

Each view checks access, calls one service (writes) or runs one page of reads, and turns a
service's error into a message for people. Pages run a fixed number of queries however many
items, answers or cases there are (pinned in tests/feedback/test_pages.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from loyalty.base.errors import LoyaltyError
from loyalty.base.web import PER_PAGE, member_required

from . import services, surveys
from .errors import FeedbackNotFound
from .forms import FeedbackForm, RatingForm, SurveyForm, purchase_label
from .models import LANGUAGE_CODES, FeedbackItem, PublishedCase, SurveyResponse

# Service refusals in the words of the member pages (the service's own text otherwise).
REFUSALS = {
    "purchase_not_found": gettext_lazy(
        "Unknown purchase: choose one of your purchases from the list, or none."
    ),
    "member_not_active": gettext_lazy(
        "Your membership is closed, so we cannot take new feedback here. Please write to us."
    ),
    "already_rated": gettext_lazy("You have already rated this answer. Thank you!"),
    "feedback_not_answered": gettext_lazy(
        "There is no answer to rate yet. You can rate it as soon as we have answered."
    ),
    "survey_answered": gettext_lazy("You have already answered these questions. Thank you!"),
    "survey_not_found": gettext_lazy("There are no questions for you right now."),
}
# Errors without a field of their own that still belong to one.
ERROR_FIELDS = {"purchase_not_found": "purchase"}


def _refusal(error: LoyaltyError) -> str:
    return str(REFUSALS.get(error.code, error.message))


def _add_error(form, error: LoyaltyError) -> None:
    field = error.extra.get("field") or ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, _refusal(error))


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _member_items(member):
    """The member's own items, with what their pages show joined in."""
    return FeedbackItem.objects.filter(member=member).select_related(
        "purchase__partner", "thanks_entry"
    )


# --- the feedback book -------------------------------------------------------------------------


@member_required
def feedback_book(request):
    items = FeedbackItem.objects.filter(member=request.member).order_by("-created_at", "-id")
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "feedback/book.html",
        {"page": page, "open_survey": surveys.open_survey(member=request.member)},
    )


@require_http_methods(["GET", "POST"])
@member_required
def feedback_new(request):
    form = FeedbackForm(data=request.POST or None, member=request.member)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = services.feedback_file(
                member=request.member,
                kind=data["kind"],
                category=data["category"],
                text=data["text"],
                purchase=data["purchase"],
                publish_consent=data["publish_consent"],
            )
        except LoyaltyError as error:
            _add_error(form, error)
        else:
            messages.success(
                request,
                _(
                    "Thank you for telling us! We have your message (no. %(number)s). A person "
                    "from our team will answer by %(due)s at the latest."
                )
                % {"number": item.pk, "due": _when(item.first_answer_due)},
            )
            return redirect("feedback:item", pk=item.pk)
    return render(request, "feedback/new.html", {"form": form})


@require_http_methods(["GET", "POST"])
@member_required
def feedback_item(request, pk):
    """The two-sided page: the member's words, and our answer reports. POST rates the answer
    (`action=rate`) or gives or withdraws consent to publication (`action=consent`)."""
    item = _member_items(request.member).filter(pk=pk).first()
    if item is None:
        raise Http404(FeedbackNotFound.default_message)
    rating_form = RatingForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rate":
            rating_form, response = _rate(request, item)
            if response is not None:
                return response
        elif action == "consent":
            return _set_consent(request, item)
        else:
            return redirect("feedback:item", pk=item.pk)
    answers = list(item.answers.order_by("created_at", "id"))
    return render(
        request,
        "feedback/item.html",
        {
            "item": item,
            "answers": answers,
            "purchase_label": purchase_label(item.purchase) if item.purchase_id else "",
            "can_rate": item.first_answered_at is not None and item.rated_at is None,
            "rating_form": rating_form,
        },
    )


def _rate(request, item):
    """Rate once, after an answer. A refusal is a message; a bad value is a form error."""
    form = RatingForm(data=request.POST)
    if item.rated_at is not None or item.first_answered_at is None:
        # What the page no longer (or not yet) offers: the service's own refusal, in words.
        code = "already_rated" if item.rated_at is not None else "feedback_not_answered"
        messages.error(request, str(REFUSALS[code]))
        return form, redirect("feedback:item", pk=item.pk)
    if not form.is_valid():
        return form, None
    try:
        services.feedback_rate(
            member=request.member,
            item_id=item.pk,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except FeedbackNotFound:
        raise Http404(FeedbackNotFound.default_message) from None
    except LoyaltyError as error:
        if error.extra.get("field") in form.fields:
            _add_error(form, error)
            return form, None
        messages.error(request, _refusal(error))
    else:
        messages.success(request, _("Thank you for rating our answer. It helps us do better."))
    return form, redirect("feedback:item", pk=item.pk)


def _set_consent(request, item):
    consent = request.POST.get("consent") == "yes"
    try:
        services.feedback_set_consent(member=request.member, item_id=item.pk, consent=consent)
    except FeedbackNotFound:
        raise Http404(FeedbackNotFound.default_message) from None
    except LoyaltyError as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(
            request,
            _("Thank you. We may now tell others about this case, without your name.")
            if consent
            else _(
                "Done: we will not tell others about this case, and anything already "
                "published about it is removed."
            ),
        )
    return redirect("feedback:item", pk=item.pk)


# --- the survey --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@member_required
def survey(request):
    """This quarter's two questions, answered once; without an open survey, a friendly page."""
    member = request.member
    survey = surveys.open_survey(member=member)
    answered = survey is None and (
        SurveyResponse.objects.filter(
            member=member,
            quarter=surveys.quarter_of(timezone.localdate()),
            answered_at__isnull=False,
        ).exists()
    )
    form = SurveyForm(data=request.POST or None)
    if request.method == "POST":
        if survey is None:
            messages.info(request, REFUSALS["survey_answered" if answered else "survey_not_found"])
            return redirect("feedback:survey")
        if form.is_valid():
            try:
                surveys.survey_answer(
                    member=member,
                    would_tell=form.cleaned_data["would_tell"],
                    recommend=form.cleaned_data["recommend"],
                )
            except LoyaltyError as error:
                if error.extra.get("field") not in form.fields:
                    messages.info(request, _refusal(error))
                    return redirect("feedback:survey")
                _add_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Thank you for your answers! If anything ever goes wrong, tell us in "
                        "your feedback book: a person reads every message."
                    ),
                )
                return redirect("feedback:survey")
    return render(
        request,
        "feedback/survey.html",
        {"survey": survey, "form": form, "answered": answered},
    )


# --- "You said, we did" (public) ---------------------------------------------------------------


def _reader_language() -> str:
    language = (translation.get_language() or "en")[:2]
    return language if language in LANGUAGE_CODES else "en"


def you_said_we_did(request):
    """Published cases, the reader's language first. Only the case texts are shown: never
    the member's own words, name, e-mail or number (the item is joined for its kind only)."""
    language = _reader_language()
    cases = (
        PublishedCase.objects.select_related("item")
        .only(
            "language",
            "problem",
            "what_changed",
            "published_at",
            "item__kind",
            "item__category",
        )
        .annotate(
            in_other_language=Case(
                When(language=language, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("in_other_language", "-published_at", "-id")
    )
    page = Paginator(cases, PER_PAGE).get_page(request.GET.get("page"))
    cases = list(page.object_list)
    return render(
        request,
        "feedback/public.html",
        {
            "page": page,
            "reader_language": language,
            "own": [case for case in cases if not case.in_other_language],
            "others": [case for case in cases if case.in_other_language],
        },
    )
