"""Publishing an anonymous case from the feedback admin, and unpublishing it."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from feedback import services
from feedback.models import PublishedCase
from tests.feedback.admin_helpers import _answer, _messages, _url


@pytest.fixture
def answered(file_item, staff):
    item = file_item(text="Ona here: the cashier was rude to me today.", publish_consent=True)
    _answer(item, staff, what_changes="The team had a training on kind service.")
    return item


def _publish(web, item, **fields):
    data = {
        "language": "en",
        "problem": "A cashier was rude.",
        "what_changed": "The team had a training on kind service.",
        **fields,
    }
    return web.post(_url("publish", item), data)


def test_the_publish_page_starts_from_the_members_words_and_the_answer(web, answered):
    # when
    page = web.get(_url("publish", answered))

    # then
    assert page.context["form"].initial == {
        "language": "en",
        "problem": "Ona here: the cashier was rude to me today.",
        "what_changed": "The team had a training on kind service.",
    }


def test_an_anonymous_case_is_published(web, answered, chief):
    # when
    response = _publish(web, answered)

    # then
    assert response.status_code == 302
    case = PublishedCase.objects.get()
    assert (case.item, case.language, case.problem, case.published_by) == (
        answered,
        "en",
        "A cashier was rude.",
        chief,
    )
    # and opening the page again in that language shows the published text
    page = web.get(_url("publish", answered), {"language": "en"})
    assert page.context["form"].initial["problem"] == "A cashier was rude."


def test_no_consent_no_publication(web, file_item, staff):
    # given
    item = file_item()
    _answer(item, staff)

    # when
    response = _publish(web, item)

    # then
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The member has not agreed to publication."
    ]
    assert not PublishedCase.objects.exists()


@pytest.mark.parametrize(
    "problem",
    [
        "Ona was treated badly.",
        "Write to ona@example.com about it.",
        "Member {number} was treated badly.",
        "Petraitė was treated badly.",
    ],
    ids=["first name", "e-mail", "member number", "last name"],
)
def test_a_case_that_names_the_member_is_refused(web, answered, member, problem):
    # when
    response = _publish(web, answered, problem=problem.format(number=member.member_number))

    # then
    assert response.status_code == 200
    assert response.context["form"].errors["problem"] == [
        "A published case must not contain a name, an e-mail address, a phone number or a "
        "member number."
    ]
    assert not PublishedCase.objects.exists()


def test_unpublishing_a_case(web, answered, chief):
    # given
    case = services.case_publish(
        item=answered,
        staff_user=chief,
        language="lt",
        problem="Kasininkė buvo nemandagi.",
        what_changed="Komanda mokėsi.",
    )

    # when
    response = web.post(
        reverse("admin:feedback_publishedcase_changelist"),
        {"action": "unpublish", ACTION_CHECKBOX_NAME: [case.pk]},
    )

    # then
    assert response.status_code == 302
    assert not PublishedCase.objects.exists()
    assert _messages(response) == ["1 case unpublished."]


def test_cases_are_not_added_or_changed_through_the_plain_form(web, answered, chief):
    # given
    case = services.case_publish(
        item=answered, staff_user=chief, language="en", problem="Rude.", what_changed="Training."
    )

    # when
    add = web.get(reverse("admin:feedback_publishedcase_add"))
    change = web.post(
        reverse("admin:feedback_publishedcase_change", args=[case.pk]), {"problem": "Changed."}
    )

    # then
    assert add.status_code == 403
    assert change.status_code == 403
    case.refresh_from_db()
    assert case.problem == "Rude."
