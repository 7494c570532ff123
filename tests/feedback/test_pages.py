"""The member side of the feedback book: filing, the two-sided page, rating, consent, the
survey, the public "You said, we did" page, and their query counts."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts.models import Member
from feedback import services
from feedback.models import TEXT_MAX_LENGTH, FeedbackItem, PublishedCase, SurveyResponse
from loyalty.core.purchases import purchase_record
from notifications.models import Message

BOOK = reverse("feedback:book")
NEW = reverse("feedback:new")
SURVEY = reverse("feedback:survey")
PUBLIC = reverse("feedback:public")


def item_url(item) -> str:
    return reverse("feedback:item", args=[item.pk])


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def buy(partner):
    def make(member, external_id, *, amount="25.00", days_ago=1):
        return purchase_record(
            partner=partner,
            member=member,
            external_id=external_id,
            amount=Decimal(amount),
            currency="EUR",
            occurred_at=timezone.now() - timedelta(days=days_ago),
        ).purchase

    return make


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


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _answer(item, staff, **kwargs):
    kwargs.setdefault("what_was_done", "We spoke with the cashier and apologise.")
    kwargs.setdefault("what_changes", "A second till opens when the queue is long.")
    return services.feedback_answer(item=item, author=staff, handler_name="Rasa", **kwargs)


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
    assert f'maxlength="{TEXT_MAX_LENGTH}"' in html
    assert "Up to 4,000 characters" in html


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


# --- the two-sided page ------------------------------------------------------------------------


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


# --- the survey --------------------------------------------------------------------------------


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
    services.survey_invite(member=member, trigger="purchase")
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
    services.survey_invite(member=member, trigger="purchase")

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
    services.survey_invite(member=member, trigger="purchase")

    # when
    book = member_client.get(BOOK).content.decode()
    dashboard = member_client.get(reverse("members:dashboard")).content.decode()

    # then
    assert f'href="{SURVEY}"' not in before
    assert f'href="{SURVEY}"' in book
    assert f'href="{SURVEY}"' in dashboard


# --- "You said, we did" --------------------------------------------------------------------------


@pytest.fixture
def publish(file_item, staff):
    def make(item=None, *, language="en", problem="Long queues.", what_changed="A second till."):
        item = item or file_item(publish_consent=True)
        if item.first_answered_at is None:
            _answer(item, staff)
        return services.case_publish(
            item=item,
            staff_user=staff,
            language=language,
            problem=problem,
            what_changed=what_changed,
        )

    return make


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
    services.survey_invite(member=member, trigger="purchase")
    Member.objects.filter(pk=member.pk).update(language=language)
    pages = [BOOK, NEW, item_url(item), SURVEY, PUBLIC, reverse("members:history")]

    # when
    responses = [member_client.get(url) for url in pages]

    # then
    assert [r.status_code for r in responses] == [200] * len(pages)
    assert all(f'<html lang="{language}">' in r.content.decode() for r in responses)


# --- query counts -------------------------------------------------------------------------------


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
