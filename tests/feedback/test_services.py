"""The feedback book's rules: deadlines, escalation once, thanks once, publication, surveys."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone

from accounts.errors import MemberNotActive
from feedback import services, surveys
from feedback.errors import (
    AlreadyRated,
    ConsentRequired,
    FeedbackClosed,
    FeedbackNotAnswered,
    FeedbackNotFound,
    NotAnonymous,
    SurveyAnswered,
    SurveyNotFound,
)
from feedback.models import (
    AnswerTemplate,
    FeedbackItem,
    PublishedCase,
    ResponsePolicy,
    SurveyResponse,
)
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core.errors import PurchaseNotFound
from loyalty.core.models import LedgerEntry
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from tests.concurrency import run_at_once

TZ = timezone.get_current_timezone()
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


def travel(moment):
    return time_machine.travel(moment, tick=False)


# --- filing and deadlines ------------------------------------------------------------------------


def test_deadlines_come_from_the_policy_of_the_severity(file_item):
    # given: staff changed the policy for normal items
    ResponsePolicy.objects.filter(severity="normal").update(
        first_answer_hours=8, resolution_hours=40
    )
    # when
    with travel(MONDAY_9):
        item = file_item()
    # then
    assert item.severity == "normal"
    assert item.first_answer_due == MONDAY_9 + timedelta(hours=8)
    assert item.resolution_due == MONDAY_9 + timedelta(hours=40)


def test_praise_is_low_severity_and_needs_no_hurry(file_item):
    with travel(MONDAY_9):
        item = file_item(kind="praise", text="Lovely shop!")
    assert item.severity == "low"
    assert item.first_answer_due == MONDAY_9 + timedelta(hours=120)


def test_without_a_policy_the_defaults_apply(file_item):
    ResponsePolicy.objects.all().delete()
    with travel(MONDAY_9):
        item = file_item()
    assert item.first_answer_due == MONDAY_9 + timedelta(hours=48)
    assert item.resolution_due == MONDAY_9 + timedelta(hours=168)


def test_an_item_is_overdue_without_a_first_answer_in_time(file_item, staff):
    with travel(MONDAY_9):
        item = file_item()
    # just before the first deadline: not overdue
    with travel(MONDAY_9 + timedelta(hours=47, minutes=59)):
        assert not item.is_overdue
        assert not services.items_overdue().exists()
    # just after it: overdue
    with travel(MONDAY_9 + timedelta(hours=48, minutes=1)):
        assert item.is_overdue
        assert list(services.items_overdue()) == [item]
        services.feedback_answer(item=item, author=staff, what_was_done="We apologised.")
        item.refresh_from_db()
        # answered late, but answered: no longer overdue until the resolution deadline
        assert not item.is_overdue
    # answered but not closed past the resolution deadline: overdue again
    with travel(MONDAY_9 + timedelta(hours=169)):
        assert item.is_overdue
        services.feedback_close(item=item, staff_user=staff)
        item.refresh_from_db()
        assert not item.is_overdue


def test_raising_the_severity_moves_the_deadlines_from_the_filing_time(file_item, staff):
    with travel(MONDAY_9):
        item = file_item()
    with travel(MONDAY_9 + timedelta(hours=1)):
        item = services.feedback_set_severity(item=item, severity="critical", staff_user=staff)
    assert item.first_answer_due == MONDAY_9 + timedelta(hours=4)
    assert item.resolution_due == MONDAY_9 + timedelta(hours=24)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n\t "}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "nul\x00byte"}, "text"),
        ({"kind": "rant"}, "kind"),
        ({"category": "weather"}, "category"),
    ],
)
def test_bad_input_stores_nothing(file_item, change, field):
    with pytest.raises(InvalidInput) as raised:
        file_item(**change)
    assert raised.value.extra["field"] == field
    assert not FeedbackItem.objects.exists()
    assert not Message.objects.filter(kind="feedback_received").exists()


def test_text_at_the_limit_is_accepted(file_item):
    item = file_item(text="y" * 4000)
    assert len(item.text) == 4000


def test_a_purchase_must_be_the_members_own(file_item, member, other_member, partner):
    others = purchase_record(
        member=other_member, partner=partner, external_id="A", amount="5", currency="EUR"
    ).purchase
    with pytest.raises(PurchaseNotFound):
        file_item(purchase=others)
    with pytest.raises(PurchaseNotFound):
        services.member_purchase(member=member, external_id="A")
    assert not FeedbackItem.objects.exists()


def test_a_closed_membership_cannot_file_but_a_paused_one_can(file_item, member):
    member.status = "paused"
    member.save(update_fields=["status"])
    assert file_item().pk
    member.status = "closed"
    member.save(update_fields=["status"])
    with pytest.raises(MemberNotActive):
        file_item()


def test_a_member_reaches_only_their_own_items(file_item, member, other_member):
    item = file_item()
    assert services.member_item(member=member, item_id=item.pk) == item
    for member_, item_id in ((other_member, item.pk), (member, item.pk + 1), (member, "x")):
        with pytest.raises(FeedbackNotFound):
            services.member_item(member=member_, item_id=item_id)


# --- answers -------------------------------------------------------------------------------------


@pytest.fixture
def template(db):
    texts = {
        "en": "Dear {name}, we spoke with the shop team.",
        "lt": "Miela(s) {name}, kalbėjomės su parduotuvės komanda.",
        "bg": "Уважаеми {name}, говорихме с екипа на магазина.",
        "da": "Kære {name}, vi har talt med butikkens team.",
        "ru": "Уважаемый(ая) {name}, мы поговорили с командой магазина.",
        "pl": "Drogi/a {name}, rozmawialiśmy z zespołem sklepu.",
    }
    return AnswerTemplate.objects.create(
        name="Talked to the team",
        **{f"done_{code}": text for code, text in texts.items()},
        **{f"changes_{code}": f"[{code}] training" for code in texts},
    )


def test_an_answer_from_a_template_speaks_the_members_language(
    file_item, other_member, staff, template
):
    # given: a Lithuanian member's complaint
    item = file_item(member=other_member)
    # when
    answer = services.feedback_answer(item=item, author=staff, template=template)
    # then
    assert answer.what_was_done == "Miela(s) Jonai, kalbėjomės su parduotuvės komanda."
    assert answer.what_changes == "[lt] training"
    assert (answer.handler_name, answer.language) == ("Rasa", "lt")
    item.refresh_from_db()
    assert (item.status, item.assigned_to) == ("answered", staff)
    message = Message.objects.get(member=other_member, kind="feedback_answered")
    assert message.language == "lt"
    assert "kalbėjomės su parduotuvės komanda" in message.body


def test_the_first_answer_time_is_kept_and_later_answers_add_to_the_report(file_item, staff):
    with travel(MONDAY_9):
        item = file_item()
    with travel(MONDAY_9 + timedelta(hours=3)):
        services.feedback_answer(item=item, author=staff, what_was_done="Looking into it.")
    with travel(MONDAY_9 + timedelta(hours=30)):
        services.feedback_answer(
            item=item,
            author=staff,
            what_was_done="Refunded.",
            what_changes="Checks before opening.",
            close=True,
        )
    item.refresh_from_db()
    assert item.first_answered_at == MONDAY_9 + timedelta(hours=3)
    assert item.closed_at == MONDAY_9 + timedelta(hours=30)
    assert item.status == "closed"
    assert [a.what_was_done for a in item.answers.all()] == ["Looking into it.", "Refunded."]
    with pytest.raises(FeedbackClosed):
        services.feedback_answer(item=item, author=staff, what_was_done="More.")


def test_only_staff_answer_and_an_empty_answer_is_refused(file_item, member, staff):
    item = file_item()
    with pytest.raises(NotAllowed):
        services.feedback_answer(item=item, author=member.user, what_was_done="Hi")
    with pytest.raises(InvalidInput):
        services.feedback_answer(item=item, author=staff, what_was_done="   ")
    item.refresh_from_db()
    assert (item.status, item.first_answered_at, item.answers.count()) == ("new", None, 0)


def test_closing_needs_an_answer_first(file_item, staff):
    item = file_item()
    with pytest.raises(FeedbackNotAnswered):
        services.feedback_close(item=item, staff_user=staff)


def test_assignment(file_item, staff, member):
    item = file_item()
    item = services.feedback_assign(item=item, assignee=staff, staff_user=staff)
    assert (item.status, item.assigned_to) == ("assigned", staff)
    with pytest.raises(NotAllowed):
        services.feedback_assign(item=item, assignee=member.user, staff_user=staff)
    item = services.feedback_assign(item=item, assignee=None, staff_user=staff)
    assert (item.status, item.assigned_to, item.assigned_at) == ("new", None, None)


# --- rating --------------------------------------------------------------------------------------


def test_the_member_rates_an_answer_once(file_item, member, other_member, staff):
    item = file_item()
    with pytest.raises(FeedbackNotAnswered):
        services.feedback_rate(member=member, item_id=item.pk, rating=4)
    services.feedback_answer(item=item, author=staff, what_was_done="Fixed.")
    with pytest.raises(FeedbackNotFound):
        services.feedback_rate(member=other_member, item_id=item.pk, rating=1)
    for bad in (0, 6, "five", None):
        with pytest.raises(InvalidInput):
            services.feedback_rate(member=member, item_id=item.pk, rating=bad)
    item = services.feedback_rate(member=member, item_id=item.pk, rating=4, comment="Quick!")
    assert (item.rating, item.rating_comment) == (4, "Quick!")
    with pytest.raises(AlreadyRated):
        services.feedback_rate(member=member, item_id=item.pk, rating=1)
    item.refresh_from_db()
    assert item.rating == 4


# --- thanks --------------------------------------------------------------------------------------


def test_a_complaint_that_led_to_a_change_is_thanked_with_points_once(
    file_item, member, staff, settings
):
    # given
    settings.FEEDBACK_THANKS_POINTS = 150
    item = file_item()
    balance = member.points_balance
    # when: staff mark it twice
    entry = services.feedback_thank(item=item, staff_user=staff)
    again = services.feedback_thank(item=item, staff_user=staff)
    # then: one entry, caused by the item
    assert again == entry
    assert (entry.kind, entry.points) == (LedgerEntry.Kind.GIFT, 150)
    assert entry.cause_type == ContentType.objects.get_for_model(FeedbackItem)
    assert entry.cause_id == item.pk
    assert LedgerEntry.objects.filter(member=member).count() == 1
    member.refresh_from_db()
    assert member.points_balance == balance + 150
    item.refresh_from_db()
    assert (item.led_to_change, item.thanks_entry) == (True, entry)
    assert Message.objects.filter(member=member, kind="feedback_thanks").count() == 1


def test_praise_earns_no_change_points(file_item, staff):
    item = file_item(kind="praise", text="Great service")
    with pytest.raises(InvalidInput):
        services.feedback_thank(item=item, staff_user=staff)
    assert not LedgerEntry.objects.exists()


def test_zero_thank_you_points_marks_the_change_without_an_entry(file_item, staff, settings):
    settings.FEEDBACK_THANKS_POINTS = 0
    item = file_item()
    assert services.feedback_thank(item=item, staff_user=staff) is None
    item.refresh_from_db()
    assert item.led_to_change
    assert not LedgerEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_thanking_at_once_pay_once(tiers, settings):
    from django.contrib.auth import get_user_model

    from tests import factories

    settings.FEEDBACK_THANKS_POINTS = 100
    member = factories.make_member(email="race@example.com", language="en")
    staff = [
        get_user_model().objects.create_user(email=f"s{i}@example.com", is_staff=True)
        for i in range(4)
    ]
    item = services.feedback_file(member=member, kind="complaint", category="service", text="!")
    results = run_at_once(
        [lambda user=user: services.feedback_thank(item=item, staff_user=user) for user in staff]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r.pk for r in results} == {item.thanks_entry_id or results[0].pk}
    assert LedgerEntry.objects.filter(member=member).count() == 1
    member.refresh_from_db()
    assert member.points_balance == 100


# --- escalation ----------------------------------------------------------------------------------


def test_a_severe_item_is_escalated_once_when_raised(
    file_item, staff, manager, django_capture_on_commit_callbacks
):
    item = file_item()
    assert item.escalated_at is None
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_set_severity(item=item, severity="high", staff_user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_set_severity(item=item, severity="critical", staff_user=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_escalate_due()
    item.refresh_from_db()
    assert (item.escalation_reason, item.escalated_at is not None) == ("severe", True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["boss@example.com"]
    assert f"#{item.pk}" in mail.outbox[0].subject


def test_an_overdue_item_is_escalated_once_by_the_periodic_task(
    file_item, staff, manager, django_capture_on_commit_callbacks
):
    from feedback.tasks import feedback_escalate_task

    with travel(MONDAY_9):
        late = file_item()
        answered = file_item(text="Another one")
        services.feedback_answer(item=answered, author=staff, what_was_done="Done.")
    # before the deadline nothing happens
    with travel(MONDAY_9 + timedelta(hours=47)):
        assert feedback_escalate_task() == {"severe": 0, "overdue": 0}
    # after it: the unanswered one, once, however often the task runs
    with travel(MONDAY_9 + timedelta(hours=49)), django_capture_on_commit_callbacks(execute=True):
        assert feedback_escalate_task() == {"severe": 0, "overdue": 1}
        assert feedback_escalate_task() == {"severe": 0, "overdue": 0}
    late.refresh_from_db()
    answered.refresh_from_db()
    assert late.escalation_reason == "overdue"
    assert answered.escalated_at is None
    assert len(mail.outbox) == 1
    assert "overdue" in mail.outbox[0].body


def test_without_managers_superusers_are_told(
    file_item, staff, django_user_model, django_capture_on_commit_callbacks
):
    django_user_model.objects.create_superuser(email="root@example.com", password="x-long-42!")
    item = file_item()
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_set_severity(item=item, severity="critical", staff_user=staff)
    assert [m.to for m in mail.outbox] == [["root@example.com"]]


# --- publication ---------------------------------------------------------------------------------


@pytest.fixture
def answered(file_item, staff):
    item = file_item(publish_consent=True)
    services.feedback_answer(item=item, author=staff, what_was_done="Retrained the team.")
    item.refresh_from_db()
    return item


def publish(item, staff, **kwargs):
    kwargs.setdefault("language", "en")
    kwargs.setdefault("problem", "A cashier was rude to a customer.")
    kwargs.setdefault("what_changed", "Every cashier took a course in kind service.")
    return services.case_publish(item=item, staff_user=staff, **kwargs)


def test_a_case_is_published_with_consent_in_each_language_once(answered, staff):
    publish(answered, staff)
    publish(answered, staff, problem="A cashier was rude.")
    publish(answered, staff, language="lt", problem="Kasininkas buvo nemandagus.")
    assert PublishedCase.objects.filter(item=answered).count() == 2
    assert PublishedCase.objects.get(language="en").problem == "A cashier was rude."


def test_no_consent_no_publication(file_item, staff):
    item = file_item()
    services.feedback_answer(item=item, author=staff, what_was_done="Done.")
    with pytest.raises(ConsentRequired):
        publish(item, staff)
    assert not PublishedCase.objects.exists()


def test_an_unanswered_item_is_not_published(file_item, staff):
    item = file_item(publish_consent=True)
    with pytest.raises(FeedbackNotAnswered):
        publish(item, staff)


@pytest.mark.parametrize(
    "problem",
    [
        "Ona was treated badly.",
        "ONA PETRAITĖ complained.",
        "Write to ona@example.com for details.",
        "Mail someone@else.org",
        "Call +370 612 34567.",
        "Member {number} complained.",
    ],
)
def test_a_case_with_personal_data_is_refused(answered, staff, member, problem):
    with pytest.raises(NotAnonymous):
        publish(answered, staff, problem=problem.format(number=member.member_number))
    assert not PublishedCase.objects.exists()


def test_a_name_inside_another_word_is_fine(answered, staff):
    # "Ona" is the member's name, but "Donations" is not about her.
    assert publish(answered, staff, problem="Donations were not counted.").pk


def test_withdrawing_consent_unpublishes(answered, staff, member):
    publish(answered, staff)
    services.feedback_set_consent(member=member, item_id=answered.pk, consent=False)
    assert not PublishedCase.objects.exists()
    with pytest.raises(ConsentRequired):
        publish(answered, staff)


# --- surveys -------------------------------------------------------------------------------------


def test_quarters():
    assert [surveys.quarter_of(date(2026, m, 1)) for m in (1, 3, 4, 7, 10, 12)] == [
        "2026-Q1",
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
        "2026-Q4",
    ]


def test_a_member_is_asked_at_most_once_a_quarter(member):
    with travel(datetime(2026, 10, 2, 12, tzinfo=TZ)):
        first = surveys.survey_invite(member=member, trigger="purchase")
    with travel(datetime(2026, 12, 30, 12, tzinfo=TZ)):
        assert surveys.survey_invite(member=member, trigger="feedback") is None
    with travel(datetime(2027, 1, 2, 12, tzinfo=TZ)):
        assert surveys.survey_invite(member=member, trigger="purchase").quarter == "2027-Q1"
    assert first.quarter == "2026-Q4"
    assert SurveyResponse.objects.filter(member=member).count() == 2
    assert Message.objects.filter(member=member, kind="survey").count() == 2


def test_the_daily_round_asks_yesterdays_buyers_and_answered_complainants(
    member, other_member, partner, staff, tiers
):
    from tests import factories

    quiet = factories.make_member(email="quiet@example.com", language="en")
    with travel(datetime(2026, 11, 22, 10, tzinfo=TZ)):
        for n in range(2):  # two purchases, one question
            purchase_record(
                member=member, partner=partner, external_id=f"P{n}", amount="9", currency="EUR"
            )
        item = services.feedback_file(
            member=other_member, kind="complaint", category="service", text="Slow."
        )
        services.feedback_answer(item=item, author=staff, what_was_done="Sorry, fixed.")
    with travel(datetime(2026, 11, 23, 5, 45, tzinfo=TZ)):
        assert surveys.surveys_invite_due() == 2
        assert surveys.surveys_invite_due() == 0
    triggers = dict(SurveyResponse.objects.values_list("member__user__email", "trigger"))
    assert triggers == {"ona@example.com": "purchase", "jonas@example.com": "feedback"}
    assert not SurveyResponse.objects.filter(member=quiet).exists()


def test_answering_the_survey(member):
    with travel(datetime(2026, 11, 20, 12, tzinfo=TZ)):
        with pytest.raises(SurveyNotFound):
            surveys.survey_answer(member=member, would_tell=5, recommend=9)
        surveys.survey_invite(member=member, trigger="purchase")
        assert surveys.open_survey(member=member)
        for would_tell, recommend in ((0, 5), (6, 5), (3, 11), (3, -1), ("x", 5), (3, "7.5")):
            with pytest.raises(InvalidInput):
                surveys.survey_answer(member=member, would_tell=would_tell, recommend=recommend)
        survey = surveys.survey_answer(member=member, would_tell="5", recommend=0)
        assert (survey.would_tell, survey.recommend) == (5, 0)
        assert surveys.open_survey(member=member) is None
        with pytest.raises(SurveyAnswered):
            surveys.survey_answer(member=member, would_tell=1, recommend=1)
