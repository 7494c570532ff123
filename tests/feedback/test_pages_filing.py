"""Members file feedback on the web: the form, its errors, the book, and who may see what."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from feedback.models import TEXT_MAX_LENGTH, FeedbackItem
from notifications.models import Message
from tests.feedback.page_helpers import BOOK, NEW, _answer, _messages, item_url


def _filing(**overrides) -> dict:
    data = {
        "kind": "complaint",
        "category": "service",
        "text": "The queue at the till took half an hour.",
        "purchase": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _feedback_messages():
    return Message.objects.filter(kind__startswith="feedback")


# --- filing ------------------------------------------------------------------------------------


def test_a_member_files_a_complaint_about_a_purchase(member_client, member, buy):
    # given
    purchase = buy(member, "P-1")

    # when
    response = member_client.post(
        NEW, _filing(purchase=str(purchase.pk), publish_consent="on"), follow=True
    )

    # then
    item = FeedbackItem.objects.get()
    assert response.redirect_chain == [(item_url(item), 302)]
    assert (item.member, item.kind, item.category, item.purchase) == (
        member,
        "complaint",
        "service",
        purchase,
    )
    assert item.text == "The queue at the till took half an hour."
    assert item.channel == "web" and item.publish_consent is True
    assert list(_feedback_messages().values_list("member", "kind")) == [
        (member.pk, "feedback_received")
    ]
    [thanks] = _messages(response)
    assert f"We have your message (no. {item.pk})" in thanks
    due = formats.date_format(timezone.localtime(item.first_answer_due), "DATETIME_FORMAT")
    assert f"will answer by {due} at the latest" in thanks


def test_the_form_offers_the_members_latest_purchases_and_warm_kinds(
    member_client, member, other_member, buy
):
    # given
    for number in range(22):
        buy(member, f"P-{number}", days_ago=number + 1)
    buy(other_member, "THEIRS")

    # when
    html = member_client.get(NEW).content.decode()

    # then
    options = re.findall(r'<option value="(\d+)"', html)
    assert len(options) == 20
    assert "Corner Shop · €25.00" in html
    assert "THEIRS" not in html
    assert "Something went wrong" in html and "I have a question" in html
    assert "maxlength" not in html  # the browser never cuts the text short without a word
    assert "Up to 4,000 characters" in html


def test_the_text_has_a_counter_that_speaks_in_the_readers_words(member_client):
    # when
    html = member_client.get(NEW).content.decode()

    # then: the counter (filled and shown by static/js/char_count.js) and its words
    assert 'aria-describedby="id_text_helptext id_text_count"' in html
    assert re.search(
        r'<p class="char-count" id="id_text_count" data-limit="4000" '
        r'data-within="\{count\} of 4,000 characters" '
        r'data-over="\{count\} of 4,000 characters: too long, please shorten it" hidden>'
        r"0 of 4,000 characters</p>",
        html,
    )
    assert '<script src="/static/js/char_count.js" defer></script>' in html


def test_a_long_text_is_kept_and_the_error_says_by_how_much(member_client):
    # given: a text over the limit (the browser lets it through: there is no maxlength)
    text = "x" * 4213

    # when
    response = member_client.post(NEW, _filing(text=text))

    # then: the server's clear message, the text kept in the form, the counter counting it
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].errors["text"] == [
        "Please keep it to 4,000 characters or fewer: you wrote 4,213."
    ]
    assert f">\n{text}</textarea>" in html
    assert "4,213 of 4,000 characters: too long, please shorten it</p>" in html
    assert FeedbackItem.objects.count() == 0


def test_a_text_of_exactly_the_limit_with_line_breaks_is_accepted(member_client):
    # given: browsers send a line break as CR LF; the limit counts it once, as the service does
    text = "\r\n".join(["x" * 99] * 40) + "x"
    assert len(text.replace("\r\n", "\n")) == TEXT_MAX_LENGTH < len(text)

    # when
    response = member_client.post(NEW, _filing(text=text))

    # then
    assert response.status_code == 302
    assert len(FeedbackItem.objects.get().text) == TEXT_MAX_LENGTH


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \r\n\t  "}, "text"),
        ({"text": "x" * (TEXT_MAX_LENGTH + 1)}, "text"),
        ({"text": "nul \x00 character"}, "text"),
        ({"kind": "rant"}, "kind"),
        ({"kind": None}, "kind"),
        ({"category": "weather"}, "category"),
        ({"purchase": "999999"}, "purchase"),
        ({"purchase": "not-a-number"}, "purchase"),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(member_client, overrides, field):
    # when
    response = member_client.post(NEW, _filing(**overrides))

    # then
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert 'aria-invalid="true"' in response.content.decode()
    assert FeedbackItem.objects.count() == 0
    assert _feedback_messages().count() == 0


def test_another_members_purchase_is_an_unknown_purchase(member_client, other_member, buy):
    # given
    theirs = buy(other_member, "THEIRS")

    # when
    response = member_client.post(NEW, _filing(purchase=str(theirs.pk)))

    # then
    assert response.context["form"].errors["purchase"] == [
        "Unknown purchase: choose one of your purchases from the list, or none."
    ]
    assert FeedbackItem.objects.count() == 0
    assert _feedback_messages().count() == 0


def test_a_refusal_of_the_service_becomes_a_form_error(member_client, member):
    # given: the membership was closed after the form was opened
    member.status = member.Status.CLOSED
    member.save(update_fields=["status"])

    # when
    response = member_client.post(NEW, _filing())

    # then
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Your membership is closed, so we cannot take new feedback here. Please write to us."
    ]
    assert FeedbackItem.objects.count() == 0


# --- the book and access -----------------------------------------------------------------------


def test_the_book_lists_only_the_members_own_items_newest_first(
    member_client, member, other_member, file_item, staff
):
    # given
    first = file_item(at=timezone.now() - timedelta(days=3))
    second = file_item(kind="suggestion", category="website", text="A dark mode, please.")
    _answer(first, staff)
    theirs = file_item(member=other_member, text="Someone else's words")

    # when
    response = member_client.get(BOOK)

    # then
    html = response.content.decode()
    assert [item.pk for item in response.context["page"].object_list] == [second.pk, first.pk]
    assert "Someone else" not in html and f"no. {theirs.pk}<" not in html
    assert "Suggestion no." in html and "Website and app" in html
    assert "Answered on" in html and "Waiting for an answer, due by" in html
    assert f'href="{NEW}"' in html and "Tell us something" in html
    assert f'<a href="{BOOK}" aria-current="page">Feedback</a>' in html


def test_someone_elses_item_and_a_missing_one_are_not_found(member_client, other_member, file_item):
    # given
    theirs = file_item(member=other_member)

    # when
    responses = [
        member_client.get(item_url(theirs)),
        member_client.get(reverse("feedback:item", args=[theirs.pk + 100])),
        member_client.post(item_url(theirs), {"action": "consent", "consent": "yes"}),
        member_client.post(item_url(theirs), {"action": "rate", "rating": "5"}),
    ]

    # then
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    theirs.refresh_from_db()
    assert theirs.publish_consent is False and theirs.rating is None


@pytest.mark.parametrize("name", ["book", "new", "survey"])
def test_member_pages_need_a_login_and_a_membership(client, staff, name):
    # when
    visitor = client.get(reverse(f"feedback:{name}"))
    client.force_login(staff)
    staff_page = client.get(reverse(f"feedback:{name}"))

    # then
    assert visitor.status_code == 302
    assert visitor["Location"].startswith(reverse("members:login"))
    assert staff_page.status_code == 403
