from decimal import Decimal

from django.urls import reverse

from loyalty.core.ledger import points_adjust
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from rewards.services import redemption_cancel, reward_redeem
from tests import factories

HISTORY = reverse("members:history")


def test_every_line_says_why(member_client, web_member, rules, shop, staff_user):
    # given
    result = purchase_record(
        partner=shop,
        member=web_member,
        external_id="A-1",
        amount=Decimal("10.00"),
        currency="EUR",
        lines=[{"sku": "ESPRESSO", "amount": "10.00", "category": "coffee"}],
    )
    purchase_refund(purchase=result.purchase, external_id="R-1", amount="5.00")
    points_adjust(
        member=web_member, points=7, staff_user=staff_user, reason="Receipt from the offline till"
    )
    reward = factories.make_reward(slug="free-coffee", name_en="Free coffee", points_cost=12)
    redemption = reward_redeem(member=web_member, reward=reward)
    redemption_cancel(redemption=redemption)

    # when
    html = member_client.get(HISTORY).content.decode()

    # then
    assert "Purchase of €10.00 at Corner Shop" in html
    assert "+20 from “Two points per euro on coffee” on €10.00" in html
    assert "Taken back because a purchase at Corner Shop was refunded" in html
    assert "Our staff noted: Receipt from the offline till" in html
    assert "Spent on the reward “Free coffee”" in html
    assert "Given back: the voucher for “Free coffee” was cancelled or expired unused" in html
    assert html.count('<li class="entry ') == 5


def test_the_history_filters_by_kind(member_client, web_member, staff_user):
    # given
    factories.give_points(web_member, 30)
    points_adjust(member=web_member, points=-5, staff_user=staff_user, reason="Double scan")

    # when
    response = member_client.get(HISTORY, {"kind": "adjust"})
    everything = member_client.get(HISTORY, {"kind": "no-such-kind"})

    # then
    entries = list(response.context["page"].object_list)
    assert [(e.kind, e.points) for e in entries] == [("adjust", -5)]
    html = response.content.decode()
    assert "Our staff noted: Double scan" in html
    assert "−5" in html
    assert '<option value="adjust" selected>' in html
    assert len(everything.context["page"].object_list) == 2


def test_the_history_is_paginated_25_a_page_keeping_the_filter(member_client, web_member):
    # given
    for _ in range(30):
        factories.give_points(web_member, 1)

    # when
    first = member_client.get(HISTORY, {"kind": "gift"})
    second = member_client.get(HISTORY, {"kind": "gift", "page": 2})
    beyond = member_client.get(HISTORY, {"page": 99})

    # then
    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "?kind=gift&amp;page=2" in first.content.decode()
    assert beyond.context["page"].number == 2


def test_a_member_sees_only_their_own_history(member_client, web_member, tiers):
    # given
    other = factories.make_member(email="other@example.com", language="en")
    factories.give_points(other, 99)

    # when
    response = member_client.get(HISTORY)

    # then
    assert list(response.context["page"].object_list) == []


def test_a_purchase_line_speaks_plainly_without_rounding_arithmetic(member_client, web_member):
    # given: 1 point per euro on €10.89 earns 10.89, kept as 10 whole points
    factories.make_rule(name="One point per euro")
    purchase_record(
        partner=factories.make_partner("Bakery"),
        member=web_member,
        external_id="A-9",
        amount=Decimal("10.89"),
        currency="EUR",
    )

    # when
    html = member_client.get(HISTORY).content.decode()

    # then
    assert "+10.9 from “One point per euro” on €10.89" in html
    assert "10 points in all: only whole points count." in html
    assert "Rounded down" not in html
    assert "−0.89" not in html
    assert " per EUR" not in html
