"""The feedback admin's queue: its order, overdue marks, filters, search, queries and access."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from feedback import services
from feedback.models import FeedbackItem
from tests import factories
from tests.feedback.admin_helpers import CHANGELIST, T0, _answer, _listed, _url, travel


def test_the_queue_puts_the_nearest_deadline_first_and_closed_items_last(web, file_item, staff):
    # given: deadlines from the default policy (normal 48h/168h, low 120h, critical 4h)
    suggestion = file_item(kind="suggestion", at=T0)  # first answer due T0+120h
    critical = file_item(at=T0)
    services.feedback_set_severity(item=critical, severity="critical", staff_user=staff)  # T0+4h
    later = file_item(at=T0 + timedelta(hours=1))  # due T0+49h
    answered = file_item(at=T0)
    _answer(answered, staff, at=T0 + timedelta(hours=2))  # next: resolution due T0+168h
    closed_first = file_item(at=T0)
    _answer(closed_first, staff, close=True, at=T0 + timedelta(hours=2))
    closed_last = file_item(at=T0)
    _answer(closed_last, staff, close=True, at=T0 + timedelta(hours=3))

    # when
    with travel(T0 + timedelta(hours=3)):
        response = web.get(reverse(CHANGELIST))

    # then
    assert _listed(response) == [
        critical.pk,
        later.pk,
        suggestion.pk,
        answered.pk,
        closed_last.pk,
        closed_first.pk,
    ]


def test_overdue_items_are_marked_and_their_rows_highlighted(web, file_item, staff):
    # given: a normal complaint is due in 48 hours, a suggestion in 120
    late = file_item(at=T0)
    in_time = file_item(kind="suggestion", at=T0)

    # when: two days and an hour later
    with travel(T0 + timedelta(hours=49)):
        response = web.get(reverse(CHANGELIST))

    # then
    rows = {item.pk: item.is_overdue_now for item in response.context["cl"].result_list}
    assert rows == {late.pk: True, in_time.pk: False}
    html = response.content.decode()
    assert html.count('class="feedback-overdue"') == 1
    assert "tr:has(.feedback-overdue)" in html  # the row highlight
    assert late.overdue_at(T0 + timedelta(hours=49)) is True


@pytest.fixture
def queue(file_item, other_member, partner, staff, chief):
    """Five items filed at T0, each different, for the filters."""
    new = file_item(at=T0)  # a normal complaint about service, nobody's, overdue after 48h
    from_partner = file_item(
        kind="suggestion", category="products", partner=partner, member=other_member, at=T0
    )
    services.feedback_assign(item=from_partner, assignee=chief, staff_user=chief, at=T0)
    question = file_item(kind="question", category="points", at=T0)
    _answer(question, staff, at=T0 + timedelta(hours=1))  # assigned to staff by answering
    severe = file_item(kind="praise", category="website", at=T0)
    services.feedback_set_severity(item=severe, severity="high", staff_user=staff)  # escalated
    closed = file_item(at=T0)
    _answer(closed, staff, close=True, at=T0 + timedelta(hours=1))
    return {
        "new": new,
        "from_partner": from_partner,
        "question": question,
        "severe": severe,
        "closed": closed,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "new"}, {"new", "severe"}),
        ({"status__exact": "assigned"}, {"from_partner"}),
        ({"status__exact": "answered"}, {"question"}),
        ({"status__exact": "closed"}, {"closed"}),
        ({"severity__exact": "high"}, {"severe"}),
        ({"severity__exact": "low"}, {"from_partner"}),
        ({"overdue": "yes"}, {"new", "severe"}),
        ({"overdue": "no"}, {"from_partner", "question", "closed"}),
        ({"category__exact": "products"}, {"from_partner"}),
        ({"kind__exact": "question"}, {"question"}),
        ({"partner": True}, {"from_partner"}),
        ({"assigned": "mine"}, {"from_partner"}),
        ({"assigned": "nobody"}, {"new", "severe"}),
        ({"assigned": "staff"}, {"question", "closed"}),
        ({"escalated": "yes"}, {"severe"}),
        ({"escalated": "no"}, {"new", "from_partner", "question", "closed"}),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_the_queue_filters(web, queue, partner, staff, params, expected):
    # given
    params = dict(params)
    if params.pop("partner", None):
        params["partner__id__exact"] = partner.pk
    if params.get("assigned") == "staff":
        params["assigned"] = staff.pk

    # when: 49 hours on, the unanswered normal and high items are past their first deadline
    with travel(T0 + timedelta(hours=49)):
        response = web.get(reverse(CHANGELIST), params)

    # then
    assert set(_listed(response)) == {queue[key].pk for key in expected}


def test_search_by_item_number_member_number_and_text(web, file_item, other_member):
    # given
    first = file_item(text="The coffee machine was broken.")
    second = file_item(member=other_member, text="Parking is hard to find.")

    # when
    by_number = web.get(reverse(CHANGELIST), {"q": f"#{second.pk}"})
    by_member = web.get(reverse(CHANGELIST), {"q": other_member.member_number})
    by_text = web.get(reverse(CHANGELIST), {"q": "coffee"})

    # then
    assert _listed(by_number) == [second.pk]
    assert _listed(by_member) == [second.pk]
    assert _listed(by_text) == [first.pk]


def test_the_queue_runs_the_same_queries_for_one_item_or_many(
    web, file_item, member, other_member, partner, staff, chief, django_assert_max_num_queries
):
    # given
    file_item()
    url = reverse(CHANGELIST)
    web.get(url)  # warm the session and content type caches
    with CaptureQueriesContext(connection) as few:
        web.get(url)
    partners = [partner, factories.make_partner("Bakery"), None]
    for number in range(8):
        item = file_item(
            member=other_member if number % 2 else member, partner=partners[number % 3]
        )
        services.feedback_assign(
            item=item, assignee=staff if number % 2 else chief, staff_user=chief
        )

    # when: the session, the user, the partners and the staff for the filters, the count and
    # the page of items (with member, partner and assignee joined)
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as many:
        response = web.get(url)

    # then
    assert len(_listed(response)) == 9
    assert len(many) == len(few)


def test_a_staff_user_without_permission_is_refused(file_item, staff):
    # given
    item = file_item()
    client = Client()
    client.force_login(staff)

    # when
    pages = [
        client.get(reverse(CHANGELIST)),
        client.get(_url("answer", item)),
        client.get(reverse("admin:feedback_feedbackitem_figures")),
    ]

    # then
    assert [page.status_code for page in pages] == [403, 403, 403]


def test_a_staff_user_with_the_feedback_permissions_works_the_queue(file_item, staff):
    # given
    item = file_item()
    content_type = ContentType.objects.get_for_model(FeedbackItem)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type=content_type, codename__in=["view_feedbackitem", "change_feedbackitem"]
        )
    )
    client = Client()
    client.force_login(staff)

    # when
    pages = [
        client.get(reverse(CHANGELIST)),
        client.get(_url("change", item)),
        client.get(_url("answer", item)),
        client.get(reverse("admin:feedback_feedbackitem_figures")),
    ]

    # then
    assert [page.status_code for page in pages] == [200, 200, 200, 200]


def test_items_are_neither_added_nor_deleted_in_the_admin(web, file_item):
    # given
    item = file_item()

    # when
    add = web.get(reverse("admin:feedback_feedbackitem_add"))
    delete = web.post(_url("delete", item), {"post": "yes"})

    # then
    assert (add.status_code, delete.status_code) == (403, 403)
    assert FeedbackItem.objects.filter(pk=item.pk).exists()


def test_the_queue_names_the_partner_who_filed(web, file_item, partner):
    # given
    item = file_item(partner=partner)

    # when
    response = web.get(reverse(CHANGELIST))

    # then
    assert _listed(response) == [item.pk]
    assert "Corner Shop" in response.content.decode()
