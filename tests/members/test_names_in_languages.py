"""Tier and earning-rule names staff give in each language: a member reads their own language's
name on the pages and in messages, or the English name where staff left theirs empty."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from accounts.models import Member
from loyalty.core.models import EarningRule, Tier
from loyalty.core.purchases import purchase_record
from notifications.models import Message
from tests import factories
from tests.jobs.conftest import enroll, run

pytestmark = pytest.mark.django_db

GOLD_LT = "Auksinis"
COFFEE_LT = "Du taškai už eurą už kavą"


@pytest.fixture
def named(tiers):
    Tier.objects.filter(code="gold").update(name_lt=GOLD_LT, name_bg="Злато")
    Tier.objects.filter(code="silver").update(name_lt="Sidabrinis")
    return factories.make_rule(
        name="Two points per euro on coffee",
        name_lt=COFFEE_LT,
        points_per_unit=2,
        category="coffee",
    )


def test_the_name_follows_the_readers_language_with_english_as_the_fallback(named):
    gold = Tier.objects.get(code="gold")
    bronze = Tier.objects.get(code="bronze")
    with translation.override("lt"):
        assert (gold.local_name, bronze.local_name) == (GOLD_LT, "Bronze")
    with translation.override("bg"):
        assert gold.local_name == "Злато"
    with translation.override("en"):
        assert gold.local_name == "Gold"
    assert named.name_in("lt") == COFFEE_LT and named.name_in("da") == named.name


def test_a_lithuanian_member_reads_the_tier_and_the_rule_in_lithuanian(named, client):
    # given: Ona (Lithuanian) bought coffee and reached Silver; Gold is next
    ona = factories.make_member(email="ona@example.com", first_name="Ona", language="lt")
    partner = factories.make_partner("Kavinė")
    purchase_record(
        partner=partner,
        member=ona,
        external_id="K-1",
        amount=Decimal("300.00"),
        currency="EUR",
        lines=[{"sku": "BEANS", "quantity": 1, "amount": "300.00", "category": "coffee"}],
    )
    client.force_login(ona.user)
    # when
    dashboard = client.get(reverse("members:dashboard")).content.decode()
    history = client.get(reverse("members:history")).content.decode()
    # then
    assert Member.objects.get(pk=ona.pk).tier.code == "silver"
    assert 'class="tier-name">Sidabrinis<' in dashboard
    assert GOLD_LT in dashboard and ">Gold<" not in dashboard
    assert f"„{COFFEE_LT}“" in history or COFFEE_LT in history
    assert "Two points per euro on coffee" not in history
    assert EarningRule.objects.get(pk=named.pk).name == "Two points per euro on coffee"


def test_the_tier_messages_name_the_tier_in_the_members_language(named, partner, base_rule):
    # given: a Lithuanian member in Gold with no qualifying points left a year on
    ona = enroll(joined_on=date(2024, 1, 1), first_name="Ona", language="lt")
    from tests.jobs.test_tier_review import _buy

    _buy(ona, "1600.00", date(2025, 1, 10), "G-1", partner)
    # when: the review starts her grace
    run("tier_review", date(2026, 2, 1))
    # then: the notice names Gold and Silver in Lithuanian
    notice = Message.objects.get(member=ona, kind="tier_grace")
    assert GOLD_LT in notice.body and "Sidabrinis" in notice.body
    assert "Gold" not in notice.body
