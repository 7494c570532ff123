"""The public "You said, we did" page, and every feedback page in every language."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Member
from feedback import services
from feedback import surveys as feedback_surveys
from feedback.models import PublishedCase
from tests.feedback.page_helpers import BOOK, NEW, PUBLIC, SURVEY, item_url


def test_the_public_page_shows_cases_to_visitors_without_personal_data(
    client, member, file_item, publish
):
    # given: the member's own words name them; the published case does not
    item = file_item(
        publish_consent=True,
        text=f"I am Ona Petraitė ({member.user.email}, member {member.member_number}): "
        "the queue was far too long.",
    )
    publish(item, problem="The queue at the till was far too long.", what_changed="Two tills.")

    # when
    response = client.get(PUBLIC)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "The queue at the till was far too long." in html
    assert "Two tills." in html
    assert "Complaint · Service and staff" in html
    for personal in ("Ona", "Petraitė", member.user.email, "ona@", member.member_number):
        assert personal not in html
    assert "far too long.</p>" in html and "I am" not in html


def test_the_readers_language_comes_first_and_others_are_marked(
    client, file_item, publish, other_member
):
    # given
    english = publish(language="en", problem="English problem.", what_changed="English change.")
    lithuanian = publish(
        file_item(member=other_member, publish_consent=True),
        language="lt",
        problem="Lietuviška problema.",
        what_changed="Lietuviškas pakeitimas.",
    )
    PublishedCase.objects.filter(pk=english.pk).update(
        published_at=timezone.now() - timedelta(days=40)
    )

    # when
    in_english = client.get(PUBLIC, HTTP_ACCEPT_LANGUAGE="en")
    in_lithuanian = client.get(PUBLIC, HTTP_ACCEPT_LANGUAGE="lt")

    # then
    assert [c.pk for c in in_english.context["page"].object_list] == [english.pk, lithuanian.pk]
    assert [c.pk for c in in_lithuanian.context["page"].object_list] == [
        lithuanian.pk,
        english.pk,
    ]
    html = in_english.content.decode()
    assert html.index("English problem.") < html.index("Lietuviška problema.")
    assert '<article class="card case" lang="lt">' in html
    assert '<span class="tag">Lietuviškai</span>' in html
    other = in_lithuanian.content.decode()
    assert '<article class="card case" lang="en">' in other
    assert '<span class="tag">English</span>' in other


def test_the_public_page_is_paginated_by_25(client, member, file_item, publish):
    # given
    for number in range(27):
        publish(language="en", problem=f"Problem {number}.", what_changed="Changed.")

    # when
    first = client.get(PUBLIC)
    second = client.get(PUBLIC, {"page": 2})

    # then
    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 2


def test_the_public_page_is_linked_from_every_page(client, db):
    # when
    html = client.get(reverse("members:home")).content.decode()

    # then
    assert f'href="{PUBLIC}"' in html


def test_the_public_page_speaks_lithuanian_for_a_lithuanian_member(client, other_member, publish):
    # given
    publish(language="en")
    client.force_login(other_member.user)

    # when
    with translation.override("lt"):
        response = client.get(PUBLIC)

    # then
    assert response.context["reader_language"] == "lt"
    assert '<article class="card case" lang="en">' in response.content.decode()


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_every_page_renders_in_every_language(
    member_client, member, file_item, staff, publish, language
):
    # given
    item = file_item(publish_consent=True)
    publish(item)
    services.feedback_thank(item=item, staff_user=staff, points=10)
    feedback_surveys.survey_invite(member=member, trigger="purchase")
    Member.objects.filter(pk=member.pk).update(language=language)
    pages = [BOOK, NEW, item_url(item), SURVEY, PUBLIC, reverse("members:history")]

    # when
    responses = [member_client.get(url) for url in pages]

    # then
    assert [r.status_code for r in responses] == [200] * len(pages)
    assert all(f'<html lang="{language}">' in r.content.decode() for r in responses)
