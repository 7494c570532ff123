"""The member's survey page: answered once, answers out of range, announced on the pages."""

import pytest
from django.urls import reverse

from feedback import surveys as feedback_surveys
from feedback.models import SurveyResponse
from tests.feedback.page_helpers import BOOK, SURVEY, _messages


def test_no_survey_is_a_friendly_page(member_client):
    # when
    response = member_client.get(SURVEY)
    posted = member_client.post(SURVEY, {"would_tell": "5", "recommend": "9"}, follow=True)

    # then
    assert response.status_code == 200
    assert "There are no questions for you right now." in response.content.decode()
    assert _messages(posted) == ["There are no questions for you right now."]
    assert SurveyResponse.objects.count() == 0


def test_a_member_answers_the_survey_once(member_client, member):
    # given
    feedback_surveys.survey_invite(member=member, trigger="purchase")
    form = member_client.get(SURVEY).content.decode()

    # when
    first = member_client.post(SURVEY, {"would_tell": "4", "recommend": "10"}, follow=True)
    second = member_client.post(SURVEY, {"would_tell": "1", "recommend": "0"}, follow=True)

    # then
    assert "If something went wrong, would you tell us?" in form
    assert "1: certainly not" in form and "10: extremely likely" in form
    survey = SurveyResponse.objects.get()
    assert (survey.would_tell, survey.recommend) == (4, 10)
    assert _messages(first)[0].startswith("Thank you for your answers!")
    assert "You have answered this quarter's questions" in first.content.decode()
    assert _messages(second) == ["You have already answered these questions. Thank you!"]


@pytest.mark.parametrize(
    "answers",
    [
        {"would_tell": "0", "recommend": "5"},
        {"would_tell": "6", "recommend": "5"},
        {"would_tell": "3", "recommend": "11"},
        {"would_tell": "3", "recommend": "-1"},
        {"would_tell": "3", "recommend": "7.5"},
        {"would_tell": "3"},
    ],
)
def test_survey_answers_out_of_range_are_refused(member_client, member, answers):
    # given
    feedback_surveys.survey_invite(member=member, trigger="purchase")

    # when
    response = member_client.post(SURVEY, answers)

    # then
    assert response.status_code == 200
    assert response.context["form"].errors
    survey = SurveyResponse.objects.get()
    assert (survey.would_tell, survey.recommend, survey.answered_at) == (None, None, None)


def test_an_open_survey_is_announced_on_the_book_and_the_dashboard(member_client, member):
    # given
    before = member_client.get(BOOK).content.decode()
    feedback_surveys.survey_invite(member=member, trigger="purchase")

    # when
    book = member_client.get(BOOK).content.decode()
    dashboard = member_client.get(reverse("members:dashboard")).content.decode()

    # then
    assert f'href="{SURVEY}"' not in before
    assert f'href="{SURVEY}"' in book
    assert f'href="{SURVEY}"' in dashboard
