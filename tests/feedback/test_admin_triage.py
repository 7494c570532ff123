"""Triage in the feedback admin: the item's page, actions on the list, escalation e-mails."""

from datetime import timedelta

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from feedback import services
from feedback.errors import FeedbackClosed
from feedback.models import FeedbackAnswer
from notifications.outbox import email_send_for
from tests.feedback.admin_helpers import CHANGELIST, T0, _answer, _messages, _url, travel

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


# --- escalation e-mails to the managers -----------------------------------------------------------


def test_the_escalation_email_links_to_the_item_in_the_admin(file_item, staff, manager):
    # given / when
    item = file_item()
    services.feedback_set_severity(item=item, severity="critical", staff_user=staff)

    # then
    assert email_send_for(kind="escalation", object_id=item.pk) is True
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
    assert email_send_for(kind="escalation", object_id=item.pk) is True

    # then: one e-mail per language, each to those who read it
    sent = {tuple(message.to): message for message in mail.outbox}
    assert set(sent) == {("boss@example.com",), ("vadove@example.com",)}
    english, lithuanian_mail = sent["boss@example.com",], sent["vadove@example.com",]
    assert english.subject.startswith("Escalated (severe): ")
    assert "What the member said:" in english.body
    assert lithuanian_mail.subject.startswith("Perduota vadovams (rimtas): ")
    assert "Ką sakė narys:" in lithuanian_mail.body
    assert item.text in lithuanian_mail.body and _url("change", item) in lithuanian_mail.body
