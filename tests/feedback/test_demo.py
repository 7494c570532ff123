"""The feedback book's demo data: made through the services, and only once."""

from io import StringIO

from django.core.management import call_command

from feedback.models import AnswerTemplate, FeedbackItem, PublishedCase, SurveyResponse
from loyalty.core.models import LedgerEntry


def test_seed_demo_fills_the_feedback_book_once(db):
    # when
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    # then
    assert AnswerTemplate.objects.count() == 2
    complaint, suggestion = FeedbackItem.objects.order_by("created_at")
    assert (complaint.status, complaint.rating, complaint.led_to_change) == ("closed", 5, True)
    assert complaint.thanks_entry.points == 100
    assert LedgerEntry.objects.filter(cause_id=complaint.pk, kind="gift").count() == 1
    assert suggestion.status == "new"
    assert set(PublishedCase.objects.values_list("language", flat=True)) == {"en", "lt"}
    # one invitation, this quarter's, still to answer (the crowd answered the past quarters)
    survey = SurveyResponse.objects.get()
    assert survey.answered_at is None
    assert complaint.purchase.occurred_at < complaint.created_at
