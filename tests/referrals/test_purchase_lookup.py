"""The purchase's member lookup: referral checks only for members who were ever referred."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.core.buyer import member_for_purchase
from referrals.models import Referral
from referrals.services import referral_code_ensure
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy, statements


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)


# --- referrals: skipped only for members who were never referred -------------------------------


def test_the_member_lookup_says_whether_the_member_was_referred(api, member):
    assert "referrals" not in member_for_purchase(member.member_number).hooks
    code = referral_code_ensure(member=member).code
    friend = factories.make_member(email="friend@example.com", referral_code=code)
    found = member_for_purchase(friend.member_number)
    assert "referrals" in found.hooks
    assert found.member == friend and found.member.tier == friend.tier


def test_a_referred_friends_purchase_over_the_api_qualifies_the_referral(api, member):
    code = referral_code_ensure(member=member).code
    friend = factories.make_member(email="friend@example.com", referral_code=code)
    assert Referral.objects.get().status == Referral.Status.PENDING
    # when
    response = buy(api, friend, external_id="F-1", amount="100")
    # then
    assert response.status_code == 201, response.content
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.qualifying_purchase.external_id == "F-1"


def test_a_member_never_referred_costs_no_referral_query(api, member):
    assert buy(api, member, external_id="warm").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert buy(api, member, external_id="counted").status_code == 201
    assert not any(sql.startswith('SELECT "referrals_referral"') for sql in statements(queries))
