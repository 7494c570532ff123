"""Pending points on the member's pages: the dashboard says how many and when, the history lists
them with their day; a member with nothing pending pays no query for it."""

from datetime import timedelta

import pytest
from django.urls import reverse

from loyalty.core.refunds import purchase_refund
from tests.jobs.conftest import travel
from tests.members.test_query_counts import PAGES
from tests.pending.conftest import DAY_0, buy

pytestmark = pytest.mark.django_db


def _page(client, member, name: str, days: int = 1):
    with travel(DAY_0 + timedelta(days=days)):
        client.force_login(member.user)
        return client.get(reverse(name))


def test_the_dashboard_says_how_many_points_are_pending_and_when(client, web_member, shop, rules):
    # given
    buy(shop, web_member, "120")
    buy(shop, web_member, "1", external_id="P-2", on=DAY_0 + timedelta(days=2))
    # when
    response = _page(client, web_member, "members:dashboard", days=3)
    # then
    text = response.content.decode()
    assert "120 points pending, available on 15 December 2026" in text
    assert "1 point pending, available on 17 December 2026" in text
    assert response.context["dash"].balance == 0


def test_the_history_lists_pending_points_with_their_day(client, web_member, shop, rules):
    # given: 120 pending, 30 of them cancelled by a refund on day 2
    purchase = buy(shop, web_member, "120").purchase
    with travel(DAY_0 + timedelta(days=2)):
        purchase_refund(purchase=purchase, external_id="R-1", amount="30.00")
    # when
    response = _page(client, web_member, "members:history", days=3)
    # then
    text = response.content.decode()
    assert "Pending points" in text
    assert "available on 15 December 2026" in text
    assert "+90" in text
    assert "Purchase of €120.00 at Weekly Market" in text
    assert "30 points were cancelled by a refund." in text
    assert "Nothing to show here yet." not in text


@pytest.mark.parametrize(
    ("page", "pending_query"), [("members:dashboard", 1), ("members:history", 1)]
)
def test_pending_points_cost_one_query_and_none_without(
    client, web_member, shop, rules, django_assert_max_num_queries, page, pending_query
):
    # given: logged in on day 1
    with travel(DAY_0 + timedelta(days=1)):
        client.force_login(web_member.user)
        # then: nothing pending, the pinned bound holds
        with django_assert_max_num_queries(PAGES[page]):
            client.get(reverse(page))
    # when: something is pending
    buy(shop, web_member, "120")
    with (
        travel(DAY_0 + timedelta(days=1)),
        django_assert_max_num_queries(PAGES[page] + pending_query),
    ):
        response = client.get(reverse(page))
    # then
    assert response.status_code == 200
    assert "available on 15 December 2026" in response.content.decode()
