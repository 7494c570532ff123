"""Earning rules cached per process: changes seen at once here, elsewhere after the cache time."""

from decimal import Decimal

import pytest

from loyalty.core import selectors
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy


@pytest.fixture
def other_api(db):
    return make_client(factories.make_partner("Other Shop"))


# --- earning rules: cached, changes seen at once in this process -------------------------------


def test_a_changed_rule_applies_to_the_next_purchase(api, member, base_rule):
    assert buy(api, member, external_id="A", amount="10").json()["points_earned"] == 10
    base_rule.points_per_unit = Decimal(3)
    base_rule.save()
    assert buy(api, member, external_id="B", amount="10").json()["points_earned"] == 30
    base_rule.delete()
    assert buy(api, member, external_id="C", amount="10").json()["points_earned"] == 0


def test_another_partners_rule_does_not_apply(api, member, other_api):
    factories.make_rule(name="Theirs", partner=other_api.partner, points_per_unit=Decimal(5))
    assert buy(api, member, external_id="A", amount="10").json()["points_earned"] == 10
    assert buy(other_api, member, external_id="A", amount="10").json()["points_earned"] == 50


def test_cached_rules_are_read_again_after_the_cache_time(db):
    factories.make_rule(name="One")
    assert [rule.name for rule in selectors.earning_rules_active(partner_id=1)] == ["One"]
    from loyalty.core.models import EarningRule

    EarningRule.objects.filter(name="One").update(is_active=False)  # no signal
    assert [rule.name for rule in selectors.earning_rules_active(partner_id=1)] == ["One"]
    selectors._earning_rules.expire()  # the cache time passed
    assert selectors.earning_rules_active(partner_id=1) == []


def test_a_settings_change_empties_the_caches(db, settings):
    factories.make_rule(name="One")
    assert selectors.earning_rules_active(partner_id=1)
    from loyalty.core.models import EarningRule

    EarningRule.objects.update(is_active=False)
    settings.LOYALTY_TIER_WINDOW_DAYS = 300
    assert selectors.earning_rules_active(partner_id=1) == []
