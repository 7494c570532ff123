"""Answering feedback in the admin: from a template, thanking with points, closing."""

import pytest

from feedback.models import AnswerTemplate, FeedbackAnswer
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from tests.feedback.admin_helpers import _answer, _messages, _url

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
    assert form.initial["what_was_done"] == "Sveiki, Jonai, atsiprašome."
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
        "Sveiki, Jonai, atsiprašome.",
        "Apmokome komandą.",
        "lt",
    )
    assert (answer.template, answer.author, answer.handler_name) == (template, chief, "Eglė")
    item.refresh_from_db()
    assert item.status == "answered"
    assert item.first_answered_at is not None
    message = Message.objects.get(member=other_member, kind="feedback_answered")
    assert message.language == "lt"
    assert "Sveiki, Jonai, atsiprašome." in message.body
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
