from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry, Tier
from loyalty.core.purchases import purchase_record
from members.charts import balance_chart
from members.selectors import next_anniversary
from tests import factories

DASHBOARD = reverse("members:dashboard")


@pytest.mark.parametrize(
    ("joined_on", "today", "expected"),
    [
        (date(2020, 5, 14), date(2025, 3, 1), date(2025, 5, 14)),
        (date(2020, 5, 14), date(2025, 5, 14), date(2025, 5, 14)),  # the day itself
        (date(2020, 5, 14), date(2025, 5, 15), date(2026, 5, 14)),
        (date(2025, 5, 14), date(2025, 5, 14), date(2026, 5, 14)),  # joining is no anniversary
        (date(2025, 1, 10), date(2025, 3, 1), date(2026, 1, 10)),
        (date(2020, 2, 29), date(2025, 1, 1), date(2025, 2, 28)),  # 29 Feb in a common year
        (date(2020, 2, 29), date(2027, 12, 1), date(2028, 2, 29)),  # and in a leap year
        (date(2020, 2, 29), date(2025, 2, 28), date(2025, 2, 28)),
    ],
)
def test_the_next_anniversary(joined_on, today, expected):
    assert next_anniversary(joined_on, today) == expected


def test_the_dashboard_shows_points_tier_progress_and_membership(member_client, web_member):
    # given: a member who joined on 29 February, 1,400 qualifying points (Gold needs 1,500)
    Member.objects.filter(pk=web_member.pk).update(joined_on=date(2020, 2, 29))
    partner = factories.make_partner("Bakery")
    factories.make_rule(name="One point per euro")
    with time_machine.travel(datetime(2026, 1, 10, 12, tzinfo=timezone.get_current_timezone())):
        factories.give_points(web_member, 80)
        purchase_record(
            partner=partner, member=web_member, external_id="P1", amount="1400.00", currency="EUR"
        )

        # when
        response = member_client.get(DASHBOARD)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    web_member.refresh_from_db()
    assert web_member.tier.code == "silver"
    assert web_member.points_balance == 1480
    assert '<p class="big-number">1,480</p>' in html
    assert "100 points to Gold" in html
    assert '<progress id="tier-progress" max="1000" value="900">' in html
    assert "You earned 1,400 qualifying points" in html
    assert "Member since 29 February 2020" in html
    assert "Your next anniversary thank-you: 28 February 2026, after 6 years with us." in html
    for name in ("Bronze", "Silver", "Gold"):
        assert f"<h3>{name}" in html
    assert "5% off every reward" in html
    assert "10% off every reward" in html


def test_the_dashboard_lists_points_expiring_in_the_next_60_days(member_client, web_member):
    # given
    today = timezone.localdate()
    for points, days in [(30, 10), (20, 59), (70, 61)]:
        points_credit(
            member=web_member,
            points=points,
            kind=LedgerEntry.Kind.GIFT,
            cause=web_member,
            expires_on=today + timedelta(days=days),
        )

    # when
    response = member_client.get(DASHBOARD)

    # then
    dash = response.context["dash"]
    assert dash.expiring_total == 50
    assert [row["points"] for row in dash.expiring] == [30, 20]
    html = response.content.decode()
    assert "50 points expire by" in html


def test_the_top_tier_has_no_progress_bar(member_client, web_member, tiers):
    # given
    Member.objects.filter(pk=web_member.pk).update(tier=tiers["gold"])

    # when
    html = member_client.get(DASHBOARD).content.decode()

    # then
    assert "You are in our highest tier" in html
    assert "<progress" not in html


def test_the_dashboard_draws_the_balance_chart_as_inline_svg(member_client, web_member):
    # given: points in two months (one month of activity draws no chart: see test_next_step)
    with time_machine.travel(timezone.now() - timedelta(days=40)):
        factories.give_points(web_member, 100)
    factories.give_points(web_member, 20)

    # when
    html = member_client.get(DASHBOARD).content.decode()

    # then
    assert '<svg class="balance-chart"' in html
    assert 'role="img"' in html
    assert "aria-label=" in html
    assert "<polyline" in html and "<polygon" in html
    assert html.count('<circle class="chart-dot"') == 12
    assert "Points now: 120." in html
    assert "<script" not in html


def test_the_chart_counts_month_end_balances_backwards_from_today(web_member):
    # given: entries in three past months, and today's balance
    tz = timezone.get_current_timezone()

    def credit(points, day):
        points_credit(
            member=web_member,
            points=points,
            kind=LedgerEntry.Kind.GIFT,
            cause=web_member,
            expires_on=None,
            at=datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(hours=12),
        )

    credit(100, date(2025, 3, 5))  # before the 12 months: part of the first balance
    credit(40, date(2025, 9, 30))
    credit(60, date(2026, 1, 1))
    credit(5, date(2026, 2, 2))
    web_member.refresh_from_db()

    # when
    chart = balance_chart(
        member_id=web_member.pk, balance=web_member.points_balance, today=date(2026, 2, 20)
    )

    # then
    months = [(p.month, p.balance) for p in chart.points]
    assert months[0] == (date(2025, 3, 1), 100)
    assert dict(months)[date(2025, 8, 1)] == 100
    assert dict(months)[date(2025, 9, 1)] == 140
    assert dict(months)[date(2025, 12, 1)] == 140
    assert dict(months)[date(2026, 1, 1)] == 200
    assert months[-1] == (date(2026, 2, 1), 205)
    assert len(months) == 12
    assert all(chart.ticks[-1].value >= p.balance for p in chart.points)
    assert chart.highest.balance == 205
    assert all(str(p.x).isdigit() and str(p.y).isdigit() for p in chart.points)


def test_the_latest_activity_says_why(member_client, web_member, rules, shop):
    # given
    purchase_record(
        partner=shop,
        member=web_member,
        external_id="A-1",
        amount=Decimal("12.50"),
        currency="EUR",
        lines=[
            {"sku": "LATTE", "amount": "4.50", "category": "coffee"},
            {"sku": "BREAD", "amount": "8.00"},
        ],
    )

    # when
    html = member_client.get(DASHBOARD).content.decode()

    # then
    assert "Purchase of €12.50 at Corner Shop" in html
    assert "+9 from “Two points per euro on coffee” on €4.50" in html
    assert "+8 from “One point per euro” on €8.00" in html
    assert "17 points in all: only whole points count." in html


def test_each_tiers_benefits_are_shown_in_the_members_language_or_else_in_english(
    member_client, web_member, tiers
):
    # given: Silver's benefits in English and Lithuanian, Gold's only in English
    Tier.objects.filter(pk=tiers["silver"].pk).update(
        benefits_en="Free coffee on Fridays.", benefits_lt="Nemokama kava penktadieniais."
    )
    Tier.objects.filter(pk=tiers["gold"].pk).update(benefits_en="A parking place.")
    Member.objects.filter(pk=web_member.pk).update(language="lt")

    # when
    html = member_client.get(DASHBOARD).content.decode()

    # then
    assert "Nemokama kava penktadieniais." in html
    assert "Free coffee on Fridays." not in html
    assert "A parking place." in html
