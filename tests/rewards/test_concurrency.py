"""Stock and vouchers under real concurrency on PostgreSQL."""

import pytest

from accounts.models import Member
from rewards import services
from rewards.errors import LimitReached, OutOfStock, VoucherAlreadyUsed
from rewards.models import Redemption, Reward, Voucher
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_members_race_for_the_last_item_and_one_wins():
    # given
    factories.make_tiers()
    reward = factories.make_reward(points_cost=100, stock=1)
    members = [factories.make_member() for _ in range(10)]
    for m in members:
        factories.give_points(m, 150)

    def redeem(m):
        return lambda: services.reward_redeem(member=Member.objects.get(pk=m.pk), reward=reward)

    # when
    results = run_at_once([redeem(m) for m in members])
    # then
    winners = [r for r in results if isinstance(r, Redemption)]
    losers = [r for r in results if isinstance(r, OutOfStock)]
    assert (len(winners), len(losers)) == (1, 9)
    assert Reward.objects.get(pk=reward.pk).stock == 0
    balances = sorted(Member.objects.values_list("points_balance", flat=True))
    assert balances == [50] + [150] * 9


def test_two_tills_use_one_voucher_and_one_wins():
    # given
    factories.make_tiers()
    member = factories.make_member()
    factories.give_points(member, 100)
    voucher = services.reward_redeem(member=member, reward=factories.make_reward()).voucher
    tills = [factories.make_partner(f"Till {i}") for i in range(2)]

    # when
    results = run_at_once(
        [lambda t=t: services.voucher_use(code=voucher.code, partner=t) for t in tills]
    )
    # then
    assert sum(isinstance(r, Voucher) for r in results) == 1
    assert sum(isinstance(r, VoucherAlreadyUsed) for r in results) == 1
    assert Voucher.objects.get(pk=voucher.pk).status == "used"


def test_one_member_redeeming_at_once_from_many_tills_keeps_the_limit():
    factories.make_tiers()
    member = factories.make_member()
    factories.give_points(member, 1000)
    reward = factories.make_reward(points_cost=10, limit_per_member=2)

    results = run_at_once(
        [
            lambda: services.reward_redeem(member=Member.objects.get(pk=member.pk), reward=reward)
            for _ in range(6)
        ]
    )

    assert sum(isinstance(r, Redemption) for r in results) == 2
    assert sum(isinstance(r, LimitReached) for r in results) == 4
    assert Member.objects.get(pk=member.pk).points_balance == 980
