"""Member pages run a fixed number of queries, whatever the size of the member's history.

The bounds are pinned: the same bound holds for a new member and for one with a long history
of purchases, refunds, adjustments, redemptions, vouchers and messages.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.core.ledger import points_adjust
from loyalty.core.models import Tier
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from notifications.services import message_send
from rewards.goals import saving_goal_set
from rewards.models import Reward
from rewards.services import redemption_cancel, reward_redeem
from tests import factories

# Session, user and member (with tier) are three of each page's queries; the header's unread
# count is one more. The dashboard also asks for an open survey (feedback.surveys.open_survey).
PAGES = {
    "members:dashboard": 12,  # 11: the member's open pause; 12: the rewards with the goal
    "members:history": 6,
    "members:rewards": 6,  # 6: qualifying points, for a reward of a tier the member lacks
    "members:vouchers": 6,
    "members:inbox": 6,
}


def _long_history(member, staff_user, partner, rules):
    reward = factories.make_reward(slug="free-coffee", name_en="Free coffee", points_cost=10)
    gold = Tier.objects.get(code="gold")
    factories.make_reward(slug="lounge", name_en="Lounge", points_cost=900, min_tier=gold)
    factories.make_reward(slug="hamper", name_en="Hamper", points_cost=90_000)
    saving_goal_set(member=member, reward=Reward.objects.get(slug="hamper"))
    for i in range(40):
        result = purchase_record(
            partner=partner,
            member=member,
            external_id=f"P-{i}",
            amount=Decimal("25.00"),
            currency="EUR",
            lines=[
                {"sku": "LATTE", "amount": "5.00", "category": "coffee"},
                {"sku": "BREAD", "amount": "20.00"},
            ],
        )
        if i % 10 == 0:
            purchase_refund(purchase=result.purchase, external_id=f"R-{i}", amount="5.00")
    for i in range(5):
        points_adjust(member=member, points=3, staff_user=staff_user, reason=f"Note {i}")
    redemptions = [reward_redeem(member=member, reward=reward) for _ in range(30)]
    for redemption in redemptions[:5]:
        redemption_cancel(redemption=redemption)
    for i in range(30):
        message_send(member, "welcome", dedupe_key=f"again-{i}")


@pytest.mark.parametrize("history", ["new member", "long history"])
@pytest.mark.parametrize(("page", "bound"), list(PAGES.items()))
def test_member_pages_run_a_fixed_number_of_queries(
    member_client,
    web_member,
    staff_user,
    shop,
    rules,
    django_assert_max_num_queries,
    page,
    bound,
    history,
):
    # given
    if history == "long history":
        _long_history(web_member, staff_user, shop, rules)

    # when
    with django_assert_max_num_queries(bound):
        response = member_client.get(reverse(page))

    # then
    assert response.status_code == 200
