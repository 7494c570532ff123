"""A feedback item's two-sided page: the answer, rating it, consent, thank-you points."""

import pytest
from django.urls import reverse

from feedback import services
from feedback.models import PublishedCase
from notifications.models import Message
from tests.feedback.page_helpers import _answer, _messages, item_url


def test_the_two_sided_page_waits_then_shows_the_answer_report(
    member_client, member, file_item, staff, buy
):
    # given
    item = file_item(purchase=buy(member, "P-1"))

    # when
    waiting = member_client.get(item_url(item)).content.decode()
    _answer(item, staff)
    answered = member_client.get(item_url(item)).content.decode()

    # then
    assert "The cashier was rude to me today." in waiting
    assert "Corner Shop · €25.00" in waiting
    assert "Waiting for an answer, due by" in waiting
    assert "How good was our answer?" not in waiting
    assert "Waiting for an answer" not in answered
    assert "Rasa from our team" in answered
    assert "We spoke with the cashier and apologise." in answered
    assert "A second till opens when the queue is long." in answered
    assert 'name="rating" value="5"' in answered
    assert Message.objects.filter(member=member, kind="feedback_answered").count() == 1


def test_a_member_rates_the_answer_once(member_client, file_item, staff):
    # given
    item = file_item()
    _answer(item, staff)

    # when
    first = member_client.post(
        item_url(item), {"action": "rate", "rating": "4", "comment": "Quick, thanks"}, follow=True
    )
    second = member_client.post(item_url(item), {"action": "rate", "rating": "1"}, follow=True)

    # then
    item.refresh_from_db()
    assert (item.rating, item.rating_comment) == (4, "Quick, thanks")
    assert _messages(first) == ["Thank you for rating our answer. It helps us do better."]
    assert _messages(second) == ["You have already rated this answer. Thank you!"]
    html = second.content.decode()
    assert "4 of 5 stars" in html and "Quick, thanks" in html
    assert 'name="rating"' not in html


def test_rating_before_an_answer_is_refused(member_client, file_item):
    # given
    item = file_item()

    # when
    response = member_client.post(item_url(item), {"action": "rate", "rating": "5"}, follow=True)

    # then
    assert _messages(response) == [
        "There is no answer to rate yet. You can rate it as soon as we have answered."
    ]
    item.refresh_from_db()
    assert (item.rating, item.rated_at) == (None, None)


@pytest.mark.parametrize("rating", ["0", "6", "five", ""])
def test_a_rating_out_of_range_is_a_form_error(member_client, file_item, staff, rating):
    # given
    item = file_item()
    _answer(item, staff)

    # when
    response = member_client.post(item_url(item), {"action": "rate", "rating": rating})

    # then
    assert response.status_code == 200
    assert response.context["rating_form"].errors["rating"] == ["Choose from 1 to 5 stars."]
    item.refresh_from_db()
    assert item.rated_at is None


def test_consent_is_given_and_withdrawing_it_removes_the_published_cases(
    member_client, file_item, staff
):
    # given
    item = file_item()
    _answer(item, staff)
    agreed = member_client.post(
        item_url(item), {"action": "consent", "consent": "yes"}, follow=True
    )
    assert _messages(agreed) == [
        "Thank you. We may now tell others about this case, without your name."
    ]
    item.refresh_from_db()
    assert item.publish_consent is True
    for language in ("en", "lt"):
        services.case_publish(
            item=item,
            staff_user=staff,
            language=language,
            problem="Long queues at the till.",
            what_changed="A second till opens when the queue is long.",
        )

    # when
    response = member_client.post(
        item_url(item), {"action": "consent", "consent": "no"}, follow=True
    )

    # then
    item.refresh_from_db()
    assert item.publish_consent is False
    assert PublishedCase.objects.count() == 0
    assert "anything already published about it is removed" in _messages(response)[0]
    assert "Yes, you may" in response.content.decode()


def test_thank_you_points_show_on_the_item_and_in_the_history(
    member_client, member, file_item, staff
):
    # given
    item = file_item()
    _answer(item, staff)
    services.feedback_thank(item=item, staff_user=staff, points=100)

    # when
    page = member_client.get(item_url(item)).content.decode()
    history = member_client.get(reverse("members:history")).content.decode()

    # then
    assert "Thank you: we added 100 points to your account." in page
    assert f"Thank you: your feedback no. {item.pk} led to a change" in history
    assert f'href="{item_url(item)}"' in history


def test_the_history_needs_no_query_per_thank_you(
    member_client, member, file_item, staff, django_assert_num_queries
):
    # given
    items = [file_item(text=f"Idea {n}", kind="suggestion") for n in range(3)]
    services.feedback_thank(item=items[0], staff_user=staff, points=10)
    member_client.get(reverse("members:history"))
    with django_assert_num_queries(6):
        member_client.get(reverse("members:history"))

    # when
    for item in items[1:]:
        services.feedback_thank(item=item, staff_user=staff, points=10)

    # then
    with django_assert_num_queries(6):
        response = member_client.get(reverse("members:history"))
    assert response.content.decode().count("led to a change") == 3
