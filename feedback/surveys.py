"""The quarterly two-question survey: who is asked (once a quarter, the day after they bought
something or got an answer to a complaint), and the answer ("would you tell us?" 1-5, "would
you recommend us?" 0-10, NPS in the admin's figures)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Member
from loyalty.base.errors import InvalidInput
from notifications.services import message_send

from .errors import SurveyAnswered, SurveyNotFound
from .models import FeedbackItem, SurveyResponse


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def survey_invite(*, member: Member, trigger: str, at: datetime | None = None):
    """Ask the member the two questions, unless they were asked this quarter. None if so."""

    at = at or timezone.now()
    quarter = quarter_of(timezone.localdate(at))
    try:
        with transaction.atomic():
            survey = SurveyResponse.objects.create(
                member=member, quarter=quarter, trigger=trigger, invited_at=at
            )
            message_send(
                member,
                "survey",
                {"url": settings.SITE_URL + reverse("feedback:survey")},
                dedupe_key=quarter,
            )
    except IntegrityError:
        return None
    return survey


def surveys_invite_due(*, day: date | None = None, limit: int = 5000) -> int:
    """The daily survey round: members who bought something or got an answer to a complaint on
    `day` (default: yesterday) and were not asked this quarter. Returns how many were asked."""
    day = day or timezone.localdate() - timedelta(days=1)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    end = start + timedelta(days=1)
    quarter = quarter_of(day)
    asked = SurveyResponse.objects.filter(quarter=quarter).values("member_id")
    active = Member.objects.filter(status=Member.Status.ACTIVE)
    after_feedback = set(
        active.filter(
            feedback_items__kind=FeedbackItem.Kind.COMPLAINT,
            feedback_items__first_answered_at__gte=start,
            feedback_items__first_answered_at__lt=end,
        )
        .exclude(pk__in=asked)
        .values_list("pk", flat=True)[:limit]
    )
    after_purchase = (
        set(
            active.filter(purchases__created_at__gte=start, purchases__created_at__lt=end)
            .exclude(pk__in=asked)
            .values_list("pk", flat=True)
            .distinct()[:limit]
        )
        - after_feedback
    )
    invited = 0
    at = min(end, timezone.now())
    for trigger, ids in (
        (SurveyResponse.Trigger.FEEDBACK, after_feedback),
        (SurveyResponse.Trigger.PURCHASE, after_purchase),
    ):
        for member in Member.objects.filter(pk__in=ids).select_related("user"):
            if survey_invite(member=member, trigger=trigger, at=at) is not None:
                invited += 1
    return invited


def open_survey(*, member: Member, at: datetime | None = None) -> SurveyResponse | None:
    """The member's unanswered survey of this quarter, if any."""
    quarter = quarter_of(timezone.localdate(at or timezone.now()))
    return SurveyResponse.objects.filter(
        member=member, quarter=quarter, answered_at__isnull=True
    ).first()


@transaction.atomic
def survey_answer(
    *, member: Member, would_tell, recommend, at: datetime | None = None
) -> SurveyResponse:
    """Record the member's two scores on this quarter's survey, once."""
    scores = {}
    for field, value, low, high in (
        ("would_tell", would_tell, 1, 5),
        ("recommend", recommend, 0, 10),
    ):
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high or str(value).strip() != str(number):
            raise InvalidInput(
                _("Choose a number from %(low)s to %(high)s.") % {"low": low, "high": high},
                field=field,
            )
        scores[field] = number
    at = at or timezone.now()
    quarter = quarter_of(timezone.localdate(at))
    survey = (
        SurveyResponse.objects.select_for_update().filter(member=member, quarter=quarter).first()
    )
    if survey is None:
        raise SurveyNotFound()
    if survey.answered_at is not None:
        raise SurveyAnswered()
    survey.would_tell = scores["would_tell"]
    survey.recommend = scores["recommend"]
    survey.answered_at = at
    survey.save(update_fields=["would_tell", "recommend", "answered_at"])
    return survey
