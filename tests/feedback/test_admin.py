"""Staff work the feedback book in the admin: the queue, triage, answers, thanks, publication."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from feedback import services
from feedback.errors import FeedbackClosed
from feedback.models import (
    AnswerTemplate,
    FeedbackAnswer,
    FeedbackItem,
    PublishedCase,
    ResponsePolicy,
    SurveyResponse,
)
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from tests import factories

from .conftest import PASSWORD

TZ = timezone.get_current_timezone()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday morning
CHANGELIST = "admin:feedback_feedbackitem_changelist"


def travel(moment):
    return time_machine.travel(moment, tick=False)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _url(name: str, item) -> str:
    return reverse(f"admin:feedback_feedbackitem_{name}", args=[item.pk])


def _listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item.pk for item in response.context["cl"].result_list]


@pytest.fixture
def chief(db):
    """A superuser: sees and does everything in the admin."""
    return get_user_model().objects.create_superuser(
        email="chief@example.com", password=PASSWORD, first_name="Eglė"
    )


@pytest.fixture
def web(chief):
    client = Client()
    client.force_login(chief)
    return client


def _answer(item, staff, **kwargs):
    kwargs.setdefault("what_was_done", "We spoke with the team and apologise.")
    return services.feedback_answer(item=item, author=staff, **kwargs)


# --- the queue -----------------------------------------------------------------------------------


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


# --- the item's page: triage through services ---------------------------------------------------


def _post_change(web, item, **fields):
    """Post the change form as the browser would, with the rows of the read-only inlines."""
    page = web.get(_url("change", item))
    data = {"severity": item.severity, "assigned_to": item.assigned_to_id or ""}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in inline.formset.forms:
            for field in form:
                if field.value() is not None:
                    data[field.html_name] = field.value()
    data.update(fields)
    return web.post(_url("change", item), data)


def test_the_item_page_shows_the_members_words_answers_and_tools(web, file_item, staff):
    # given
    item = file_item(text="The cashier was rude to me today.", publish_consent=True)
    _answer(item, staff, handler_name="Rasa", what_changes="Training for the team.")

    # when
    response = web.get(_url("change", item))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "The cashier was rude to me today." in html
    assert "Training for the team." in html
    assert set(response.context["adminform"].form.fields) == {"severity", "assigned_to"}
    for name in ("answer", "thank", "close", "publish"):
        assert _url(name, item) in html


def test_severity_and_assignee_are_saved_through_the_services(
    web, file_item, staff, manager, django_capture_on_commit_callbacks
):
    # given: an item with an answer and a published case (rows of the read-only inlines)
    with travel(T0):
        item = file_item(publish_consent=True)
        _answer(item, staff, what_changes="Training.")
        services.case_publish(
            item=item, staff_user=staff, language="en", problem="Rude.", what_changed="Training."
        )
    answer = FeedbackAnswer.objects.get(item=item)

    # when: raised to high and given to a staff member
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_change(web, item, severity="high", assigned_to=manager.pk)

    # then: the deadlines moved (from when it was filed), it is reassigned and escalated once
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.severity, item.status, item.assigned_to) == ("high", "answered", manager)
    assert item.assigned_at is not None
    assert list(item.answers.all()) == [answer]
    assert item.cases.count() == 1
    assert item.first_answer_due == T0 + timedelta(hours=24)
    assert item.resolution_due == T0 + timedelta(hours=72)
    assert item.escalation_reason == "severe"
    assert [message.to for message in mail.outbox] == [[manager.email]]

    # when: raised again, to critical
    with django_capture_on_commit_callbacks(execute=True):
        _post_change(web, item, severity="critical")

    # then: escalated once only
    item.refresh_from_db()
    assert item.first_answer_due == T0 + timedelta(hours=4)
    assert len(mail.outbox) == 1


def test_an_error_of_a_service_is_a_message_not_a_server_error(web, file_item, staff, monkeypatch):
    # given: the item is closed by someone else while the page is open
    item = file_item()

    def closed_meanwhile(**kwargs):
        raise FeedbackClosed()

    monkeypatch.setattr(services, "feedback_assign", closed_meanwhile)

    # when
    response = _post_change(web, item, assigned_to=staff.pk)

    # then
    assert response.status_code == 302
    assert response["Location"] == _url("change", item)
    assert _messages(response) == ["This feedback item is closed."]
    item.refresh_from_db()
    assert item.assigned_to is None


def test_a_closed_item_cannot_be_triaged(web, file_item, staff):
    # given
    item = file_item()
    _answer(item, staff, close=True)

    # when
    page = web.get(_url("change", item))
    _post_change(web, item, severity="critical")

    # then
    assert set(page.context["adminform"].form.fields) == set()
    item.refresh_from_db()
    assert item.severity == "normal"


def test_only_staff_can_be_assigned(web, file_item, member):
    # given
    item = file_item()

    # when
    response = _post_change(web, item, assigned_to=member.user.pk)

    # then
    assert response.status_code == 200
    assert "assigned_to" in response.context["adminform"].form.errors
    item.refresh_from_db()
    assert item.assigned_to is None


# --- actions on the list -------------------------------------------------------------------------


def _act(web, action: str, items):
    return web.post(
        reverse(CHANGELIST),
        {"action": action, ACTION_CHECKBOX_NAME: [item.pk for item in items]},
    )


def test_assign_to_me(web, file_item, staff, chief):
    # given
    waiting = file_item()
    closed = file_item()
    _answer(closed, staff, close=True)

    # when
    response = _act(web, "assign_to_me", [waiting, closed])

    # then
    waiting.refresh_from_db()
    closed.refresh_from_db()
    assert (waiting.assigned_to, waiting.status) == (chief, "assigned")
    assert closed.assigned_to == staff  # left as it was
    assert _messages(response) == [
        "1 item assigned to you.",
        "1 item was closed or yours already and was left as it was.",
    ]


def test_close_answered_items(web, file_item, staff):
    # given
    answered = file_item()
    _answer(answered, staff)
    waiting = file_item()

    # when
    response = _act(web, "close_answered", [answered, waiting])

    # then
    answered.refresh_from_db()
    waiting.refresh_from_db()
    assert (answered.status, waiting.status) == ("closed", "new")
    assert answered.closed_at is not None
    assert _messages(response) == [
        "1 item closed.",
        "1 item was not answered or already closed and was left as it was.",
    ]


# --- answering from a template -------------------------------------------------------------------


@pytest.fixture
def template(db):
    texts = {
        "en": ("Dear {name}, we are sorry.", "We train the team."),
        "lt": ("Sveiki, {name}, atsiprašome.", "Apmokome komandą."),
        "bg": ("Здравейте, {name}, съжаляваме.", "Обучаваме екипа."),
        "da": ("Kære {name}, vi beklager.", "Vi træner holdet."),
        "ru": ("Здравствуйте, {name}, извините.", "Мы обучаем команду."),
        "pl": ("Drogi {name}, przepraszamy.", "Szkolimy zespół."),
    }
    return AnswerTemplate.objects.create(
        name="Rude staff",
        kind="complaint",
        **{f"done_{code}": done for code, (done, _changes) in texts.items()},
        **{f"changes_{code}": changes for code, (_done, changes) in texts.items()},
    )


def test_choosing_a_template_fills_in_the_answer_in_the_members_language(
    web, file_item, other_member, template
):
    # given: Jonas reads Lithuanian; a praise template is not offered for a complaint
    item = file_item(member=other_member)
    AnswerTemplate.objects.create(name="Thanks for praise", kind="praise", **_texts("x"))

    # when
    page = web.get(_url("answer", item), {"template": template.pk})

    # then
    form = page.context["form"]
    assert form.initial["what_was_done"] == "Sveiki, Jonas, atsiprašome."
    assert form.initial["what_changes"] == "Apmokome komandą."
    assert form.initial["template"] == template.pk
    assert list(page.context["pick"].fields["template"].queryset) == [template]


def _texts(text: str) -> dict:
    return {f"done_{code}": text for code in ("en", "lt", "bg", "da", "ru", "pl")}


def test_an_answer_from_a_template_reaches_the_member_in_their_language(
    web, file_item, other_member, template, chief
):
    # given
    item = file_item(member=other_member)
    page = web.get(_url("answer", item), {"template": template.pk})
    initial = page.context["form"].initial

    # when
    response = web.post(
        _url("answer", item),
        {
            "template": template.pk,
            "handler_name": "Eglė",
            "what_was_done": initial["what_was_done"],
            "what_changes": initial["what_changes"],
        },
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == _url("change", item)
    answer = FeedbackAnswer.objects.get(item=item)
    assert (answer.what_was_done, answer.what_changes, answer.language) == (
        "Sveiki, Jonas, atsiprašome.",
        "Apmokome komandą.",
        "lt",
    )
    assert (answer.template, answer.author, answer.handler_name) == (template, chief, "Eglė")
    item.refresh_from_db()
    assert item.status == "answered"
    assert item.first_answered_at is not None
    message = Message.objects.get(member=other_member, kind="feedback_answered")
    assert message.language == "lt"
    assert "Sveiki, Jonas, atsiprašome." in message.body
    assert _messages(response) == [f"The answer to #{item.pk} was sent to the member."]


def test_an_answer_can_close_the_item(web, file_item):
    # given
    item = file_item()

    # when
    response = web.post(
        _url("answer", item),
        {"handler_name": "Eglė", "what_was_done": "Refunded.", "close": "on"},
    )

    # then
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "closed"
    assert item.closed_at == item.first_answered_at


def test_an_empty_answer_is_refused_on_the_form(web, file_item):
    # given
    item = file_item()

    # when
    response = web.post(_url("answer", item), {"handler_name": "Eglė", "what_was_done": "  "})

    # then
    assert response.status_code == 200
    assert "what_was_done" in response.context["form"].errors
    assert not FeedbackAnswer.objects.exists()


def test_answering_a_closed_item_is_a_form_error(web, file_item, staff):
    # given
    item = file_item()
    _answer(item, staff, close=True)

    # when
    response = web.post(_url("answer", item), {"handler_name": "Eglė", "what_was_done": "More."})

    # then
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["This feedback item is closed."]
    assert FeedbackAnswer.objects.filter(item=item).count() == 1


# --- thanks --------------------------------------------------------------------------------------


def test_a_complaint_that_led_to_a_change_is_thanked_once(web, file_item, member, settings):
    # given
    settings.FEEDBACK_THANKS_POINTS = 150
    item = file_item()
    page = web.get(_url("thank", item))
    assert "Thank the member with 150 points" in page.content.decode()

    # when: clicked twice
    first = web.post(_url("thank", item))
    second = web.post(_url("thank", item))

    # then: one ledger entry, caused by the item
    entry = LedgerEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.cause) == ("gift", 150, item)
    member.refresh_from_db()
    assert member.points_balance == 150
    item.refresh_from_db()
    assert (item.led_to_change, item.thanks_entry) == (True, entry)
    assert _messages(first) == [
        f"#{item.pk} led to a change. The member was thanked with 150 points."
    ]
    assert _messages(second)[-1:] == [
        f"#{item.pk} was already marked as leading to a change; nothing more was paid."
    ]
    assert Message.objects.filter(member=member, kind="feedback_thanks").count() == 1
    again = web.get(_url("thank", item)).content.decode()
    assert "Already thanked: the member received 150 points" in again
    assert "<form" not in again.split('id="content-main"')[1]


def test_praise_cannot_be_thanked_with_points(web, file_item, member):
    # given
    item = file_item(kind="praise")

    # when
    page = web.get(_url("thank", item))
    response = web.post(_url("thank", item))

    # then
    assert "Only a complaint or a suggestion can lead to a change." in page.content.decode()
    assert response.status_code == 302
    assert _messages(response) == ["Only a complaint or a suggestion can lead to a change."]
    assert not LedgerEntry.objects.filter(member=member).exists()


def test_with_zero_thank_you_points_the_change_is_marked_without_an_entry(
    web, file_item, member, settings
):
    # given
    settings.FEEDBACK_THANKS_POINTS = 0
    item = file_item()

    # when
    response = web.post(_url("thank", item))

    # then
    item.refresh_from_db()
    assert (item.led_to_change, item.thanks_entry) == (True, None)
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert _messages(response) == [
        f"#{item.pk} led to a change. The member was thanked (without points)."
    ]


# --- closing -------------------------------------------------------------------------------------


def test_close_needs_an_answer_first(web, file_item, staff):
    # given
    waiting = file_item()
    answered = file_item()
    _answer(answered, staff)

    # when
    refused = web.post(_url("close", waiting))
    closed = web.post(_url("close", answered))

    # then
    assert _messages(refused) == ["This feedback item has no answer yet."]
    assert _messages(closed)[-1:] == [f"#{answered.pk} is closed."]
    waiting.refresh_from_db()
    answered.refresh_from_db()
    assert (waiting.status, answered.status) == ("new", "closed")


# --- publishing a case ---------------------------------------------------------------------------


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


# --- configuration -------------------------------------------------------------------------------


def _template_form(**texts) -> dict:
    data = {"name": "Late delivery", "kind": "", "is_active": "on"}
    data.update({f"done_{code}": f"Done ({code})" for code in ("en", "lt", "bg", "da", "ru", "pl")})
    data.update(texts)
    return data


def test_a_template_needs_what_changes_in_all_languages_or_none(web):
    url = reverse("admin:feedback_answertemplate_add")

    # when: only in English
    partial = web.post(url, _template_form(changes_en="We add a van."))

    # then
    assert partial.status_code == 200
    errors = partial.context["adminform"].form.errors
    assert sorted(errors) == ["changes_bg", "changes_da", "changes_lt", "changes_pl", "changes_ru"]
    assert not AnswerTemplate.objects.exists()

    # when: in none, or in all six
    none = web.post(url, _template_form())
    every = web.post(
        url,
        _template_form(
            name="Late delivery 2",
            **{f"changes_{code}": "More vans." for code in ("en", "lt", "bg", "da", "ru", "pl")},
        ),
    )

    # then
    assert (none.status_code, every.status_code) == (302, 302)
    assert AnswerTemplate.objects.count() == 2


def test_a_template_needs_what_was_done_in_all_six_languages(web):
    # when
    response = web.post(reverse("admin:feedback_answertemplate_add"), _template_form(done_pl=""))

    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["done_pl"]


def test_response_policies_are_edited_on_the_list_and_stay_in_order(web):
    # given: the migration's four policies
    policies = list(ResponsePolicy.objects.order_by("pk"))
    data = {"form-TOTAL_FORMS": len(policies), "form-INITIAL_FORMS": len(policies), "_save": "1"}
    shown = web.get(reverse("admin:feedback_responsepolicy_changelist"))
    order = [policy.pk for policy in shown.context["cl"].result_list]
    for index, pk in enumerate(order):
        policy = ResponsePolicy.objects.get(pk=pk)
        data[f"form-{index}-id"] = pk
        data[f"form-{index}-first_answer_hours"] = policy.first_answer_hours
        data[f"form-{index}-resolution_hours"] = policy.resolution_hours
    normal = order.index(ResponsePolicy.objects.get(severity="normal").pk)

    # when: the resolution would come before the first answer
    bad = web.post(
        reverse("admin:feedback_responsepolicy_changelist"),
        {**data, f"form-{normal}-first_answer_hours": 10, f"form-{normal}-resolution_hours": 5},
    )
    good = web.post(
        reverse("admin:feedback_responsepolicy_changelist"),
        {**data, f"form-{normal}-first_answer_hours": 8, f"form-{normal}-resolution_hours": 40},
    )

    # then
    assert bad.status_code == 200
    assert good.status_code == 302
    normal_policy = ResponsePolicy.objects.get(severity="normal")
    assert (normal_policy.first_answer_hours, normal_policy.resolution_hours) == (8, 40)


def test_surveys_are_read_only(web, member):
    # given
    survey = services.survey_invite(member=member, trigger="purchase")

    # when
    listing = web.get(reverse("admin:feedback_surveyresponse_changelist"))
    page = web.get(reverse("admin:feedback_surveyresponse_change", args=[survey.pk]))
    add = web.get(reverse("admin:feedback_surveyresponse_add"))

    # then
    assert (listing.status_code, page.status_code, add.status_code) == (200, 200, 403)
    assert reverse("admin:feedback_feedbackitem_figures") in listing.content.decode()
    assert SurveyResponse.objects.count() == 1


def test_the_escalation_email_links_to_the_item_in_the_admin(file_item, staff, manager):
    # given / when
    item = file_item()
    services.feedback_set_severity(item=item, severity="critical", staff_user=staff)

    # then
    assert services.escalation_email_send(item_id=item.pk) is True
    assert _url("change", item) in mail.outbox[-1].body


def test_each_manager_reads_the_escalation_in_their_own_language(file_item, staff, manager):
    # given: a second manager who reads Lithuanian; the first has no language of their own
    lithuanian = get_user_model().objects.create_user(
        email="vadove@example.com", password="x", is_staff=True, language="lt"
    )
    lithuanian.groups.add(Group.objects.get(name="Managers"))
    item = file_item()
    services.feedback_set_severity(item=item, severity="critical", staff_user=staff)
    mail.outbox.clear()

    # when
    assert services.escalation_email_send(item_id=item.pk) is True

    # then: one e-mail per language, each to those who read it
    sent = {tuple(message.to): message for message in mail.outbox}
    assert set(sent) == {("boss@example.com",), ("vadove@example.com",)}
    english, lithuanian_mail = sent["boss@example.com",], sent["vadove@example.com",]
    assert english.subject.startswith("Escalated (severe): ")
    assert "What the member said:" in english.body
    assert lithuanian_mail.subject.startswith("Perduota vadovams (rimtas): ")
    assert "Ką sakė narys:" in lithuanian_mail.body
    assert item.text in lithuanian_mail.body and _url("change", item) in lithuanian_mail.body


def test_the_queue_names_the_partner_who_filed(web, file_item, partner):
    # given
    item = file_item(partner=partner)

    # when
    response = web.get(reverse(CHANGELIST))

    # then
    assert _listed(response) == [item.pk]
    assert "Corner Shop" in response.content.decode()
