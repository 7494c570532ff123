"""The query counts of the feedback book, an item's page and the public page."""

import pytest
from django.test import Client

from feedback import services
from tests.feedback.page_helpers import BOOK, PUBLIC, _answer, item_url


# Session, user and member (with tier) are three of a member page's queries; the header's
# unread count is one more.
@pytest.mark.parametrize("many", [False, True])
def test_the_book_runs_a_fixed_number_of_queries(
    member_client, member, file_item, staff, buy, many, django_assert_num_queries
):
    # given
    for number in range(30 if many else 1):
        item = file_item(purchase=buy(member, f"P-{number}"))
        if many:
            _answer(item, staff)

    # then: + open survey, count, page
    with django_assert_num_queries(7):
        response = member_client.get(BOOK)
    assert response.status_code == 200


@pytest.mark.parametrize("answers", [0, 1, 5])
def test_the_item_page_runs_a_fixed_number_of_queries(
    member_client, member, file_item, staff, buy, answers, django_assert_num_queries
):
    # given
    item = file_item(purchase=buy(member, "P-1"))
    for _ in range(answers):
        _answer(item, staff)
    if answers:
        services.feedback_thank(item=item, staff_user=staff, points=10)

    # then: + the item (with purchase, partner and thank-you entry), its answers
    with django_assert_num_queries(6):
        response = member_client.get(item_url(item))
    assert response.status_code == 200


@pytest.mark.parametrize("cases", [0, 1, 30])
@pytest.mark.parametrize(("logged_in", "bound"), [(False, 2), (True, 6)])
def test_the_public_page_runs_a_fixed_number_of_queries(
    client, member, publish, cases, logged_in, bound, django_assert_num_queries
):
    # given
    for number in range(cases):
        publish(language="lt" if number % 2 else "en", problem=f"Problem {number}.")
    if logged_in:
        client.force_login(member.user)
    else:
        client = Client()

    # then: count and page, none for an empty page (a member adds session, user, member and
    # the unread count)
    with django_assert_num_queries(bound if cases else bound - 1):
        response = client.get(PUBLIC)
    assert response.status_code == 200
