"""The feedback book in figures: monthly figures and survey scores, exactly, and their page."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from feedback import selectors, services
from feedback import surveys as feedback_surveys
from feedback.charts import survey_charts
from loyalty.core.purchases import purchase_record
from tests import factories

TZ = timezone.get_default_timezone()  # Europe/Vilnius: the program's time zone
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=TZ)
FIGURES = "admin:feedback_feedbackitem_figures"


def at(month, day, hour, minute=0, year=2026):
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def travel(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def buy(member, partner):
    numbers = iter(range(1, 1000))

    def make(moment):
        return purchase_record(
            partner=partner,
            member=member,
            external_id=f"P-{next(numbers)}",
            amount="10.00",
            currency="EUR",
            at=moment,
        )

    return make


@pytest.fixture
def book(file_item, staff, member, buy):
    """A small book over three months (January to March 2026), with edges in the time zone.

    January: complaints A (answered in 10 h, in time) and B (answered in 96 h, late; rated 2
    in January); 4 purchases.
    February: suggestion C (filed 00:30 on 1 February in Vilnius, still 31 January in UTC;
    never answered, deadline passed), question D (answered in 1 h; rated 5 in February),
    complaint E (answered in 2.5 h); A rated 4 in February; 3 purchases.
    March: complaint F (filed yesterday, not due yet); 1 purchase (00:30 on 1 March in Vilnius).
    Outside the window: an item and a purchase in December 2025.
    """

    def answer(item, moment):
        services.feedback_answer(item=item, author=staff, what_was_done="Done.", at=moment)

    def rate(item, rating, moment):
        with travel(moment):
            services.feedback_rate(member=member, item_id=item.pk, rating=rating)

    december = file_item(at=at(12, 20, 10, year=2025))
    answer(december, at(12, 20, 11, year=2025))
    buy(at(12, 20, 12, year=2025))

    a = file_item(at=at(1, 5, 10))
    answer(a, at(1, 5, 20))
    b = file_item(at=at(1, 10, 9))
    answer(b, at(1, 14, 9))
    rate(b, 2, at(1, 20, 9))
    for day in (3, 4, 5, 31):
        buy(at(1, day, 12))

    c = file_item(kind="suggestion", at=at(2, 1, 0, 30))
    d = file_item(kind="question", at=at(2, 10, 12))
    answer(d, at(2, 10, 13))
    e = file_item(at=at(2, 20, 8))
    answer(e, at(2, 20, 10, 30))
    rate(a, 4, at(2, 2, 9))
    rate(d, 5, at(2, 11, 9))
    for day in (1, 14, 28):
        buy(at(2, day, 12))

    f = file_item(at=at(3, 14, 12))
    buy(at(3, 1, 0, 30))
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def test_the_monthly_figures_are_exact(book, django_assert_num_queries):
    # when
    with travel(NOW), django_assert_num_queries(3):
        figures = selectors.monthly_figures(months=3)

    # then
    rows = [
        (
            row.month,
            row.filed,
            row.complaints,
            row.answered,
            row.median_hours_to_first_answer,
            row.answered_in_time,
            row.deadline_due,
            row.answered_in_time_percent,
            row.purchases,
            row.complaints_per_1000_purchases,
            row.rated,
            row.average_rating,
        )
        for row in figures
    ]
    assert rows == [
        # January: median of 10 h and 96 h; 1 of 2 in time; 2 complaints / 4 purchases
        (
            date(2026, 1, 1),
            2,
            2,
            2,
            Decimal("53.0"),
            1,
            2,
            Decimal("50.0"),
            4,
            Decimal("500.00"),
            1,
            Decimal("2.00"),
        ),
        # February: median of 1 h and 2.5 h; C counts as late; 1 complaint / 3 purchases;
        # A (filed in January) and D rated in February
        (
            date(2026, 2, 1),
            3,
            1,
            2,
            Decimal("1.8"),
            2,
            3,
            Decimal("66.7"),
            3,
            Decimal("333.33"),
            2,
            Decimal("4.50"),
        ),
        # March: F is not due yet, nothing answered or rated
        (date(2026, 3, 1), 1, 1, 0, None, 0, 0, None, 1, Decimal("1000.00"), 0, None),
    ]


def test_a_month_without_purchases_has_no_complaint_rate(file_item):
    # given
    with travel(NOW):
        file_item()

    # when
    with travel(NOW):
        (march,) = selectors.monthly_figures(months=1)

    # then
    assert (march.complaints, march.purchases, march.complaints_per_1000_purchases) == (
        1,
        0,
        None,
    )


@pytest.fixture
def surveys(tiers):
    """January: scores (5, 10), (3, 6), (4, 8) and one never answered; February: none;
    March: (2, 9), (5, 10)."""

    def answered(would_tell, recommend, moment):
        member = factories.make_member()
        with travel(moment):
            feedback_surveys.survey_invite(member=member, trigger="purchase")
            if would_tell is not None:
                feedback_surveys.survey_answer(
                    member=member, would_tell=would_tell, recommend=recommend
                )

    answered(5, 10, at(1, 10, 9))
    answered(3, 6, at(1, 11, 9))
    answered(4, 8, at(1, 31, 23, 30))  # still January in Vilnius
    answered(None, None, at(1, 12, 9))
    answered(2, 9, at(3, 2, 9))
    answered(5, 10, at(3, 3, 9))


def test_the_survey_scores_are_exact(surveys, django_assert_num_queries):
    # when
    with travel(NOW), django_assert_num_queries(1):
        scores = selectors.survey_scores(months=3)

    # then
    rows = [
        (
            s.month,
            s.responses,
            s.would_tell_average,
            s.recommend_average,
            s.promoters,
            s.detractors,
            s.nps,
        )
        for s in scores
    ]
    assert rows == [
        (date(2026, 1, 1), 3, Decimal("4.00"), Decimal("8.00"), 1, 1, Decimal("0.0")),
        (date(2026, 2, 1), 0, None, None, 0, 0, None),
        (date(2026, 3, 1), 2, Decimal("3.50"), Decimal("9.50"), 2, 0, Decimal("100.0")),
    ]


def test_the_survey_charts_break_the_line_where_a_month_has_no_answers(surveys):
    # given
    with travel(NOW):
        scores = selectors.survey_scores(months=3)

    # when
    charts = survey_charts(scores)

    # then: 1-5 on the 160 px tall plot starting at 12 px; -100 to 100 likewise
    would_tell = charts["would_tell"]
    assert [(p.x, p.y) for p in would_tell.points] == [(48, 52), (218, None), (388, 72)]
    assert would_tell.lines == ["48,52", "388,72"]
    assert [(tick.value, tick.y) for tick in would_tell.ticks] == [(1, 172), (3, 92), (5, 12)]
    nps = charts["nps"]
    assert [p.y for p in nps.points] == [92, None, 12]


def test_the_figures_page_shows_the_tables_and_the_charts(book, surveys, db):
    # given
    chief = get_user_model().objects.create_superuser(email="chief@example.com", password="x")
    client = Client()
    client.force_login(chief)

    # when
    with travel(NOW):
        response = client.get(reverse(FIGURES), {"months": 3})
        changelist = client.get(reverse("admin:feedback_feedbackitem_changelist"))

    # then
    assert response.status_code == 200
    assert reverse(FIGURES) == "/admin/feedback/feedbackitem/figures/"
    assert reverse(FIGURES) in changelist.content.decode()
    html = response.content.decode()
    assert html.count('<svg viewBox="0 0 400 200" role="img"') == 2
    assert html.count('<polyline class="chart-line"') == 4
    assert "January 2026" in html and "March 2026" in html
    assert "66.7% (2 of 3)" in html
    assert "333.33" in html and "4.50" in html
    assert [row.month for row in response.context["figures"]] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]


def test_the_figures_page_without_any_data(db):
    # given
    chief = get_user_model().objects.create_superuser(email="chief@example.com", password="x")
    client = Client()
    client.force_login(chief)

    # when
    response = client.get(reverse(FIGURES), {"months": "nonsense"})

    # then
    assert response.status_code == 200
    assert len(response.context["figures"]) == 12
    assert "No survey answers in these months yet." in response.content.decode()


def test_the_figures_count_items_in_the_program_time_zone(file_item):
    # given: 23:30 UTC on 31 January is 01:30 on 1 February in Vilnius
    with travel(NOW):
        file_item(at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))

    # when
    with travel(NOW):
        january, february, _march = selectors.monthly_figures(months=3)

    # then
    assert (january.filed, february.filed) == (0, 1)
