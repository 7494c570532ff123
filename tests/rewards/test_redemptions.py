from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member
from accounts.services import member_set_status
from loyalty.core.errors import InsufficientPoints
from loyalty.core.models import LedgerEntry, PointLot
from rewards import services
from rewards.errors import (
    LimitReached,
    OutOfStock,
    RedemptionNotCancellable,
    RewardInactive,
    TierTooLow,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherExpired,
    VoucherNotFound,
)
from rewards.models import Redemption, Reward, Voucher
from tests.concurrency import run_at_once
from tests.factories import give_points, make_member, make_partner, make_reward


def snapshot(member, reward):
    return (
        Member.objects.get(pk=member.pk).points_balance,
        Reward.objects.get(pk=reward.pk).stock,
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        Voucher.objects.count(),
    )


def test_redeeming_spends_points_takes_stock_and_issues_a_voucher(member):
    # given
    give_points(member, 250)
    reward = make_reward(points_cost=100, stock=3, voucher_valid_days=14)
    # when
    redemption = services.reward_redeem(member=member, reward=reward)
    # then
    assert redemption.points_spent == 100
    assert Member.objects.get(pk=member.pk).points_balance == 150
    assert Reward.objects.get(pk=reward.pk).stock == 2
    voucher = redemption.voucher
    assert voucher.status == "issued"
    assert voucher.expires_on == timezone.localdate() + timedelta(days=14)
    assert len(voucher.code) == 12 and set(voucher.code) <= set(services.CODE_ALPHABET)
    assert not set(voucher.code) & set("01OIL5S8BUV")
    entry = redemption.spend_entry
    assert (entry.kind, entry.points, entry.cause) == ("spend", -100, redemption)


def test_loyal_members_pay_less(member, tiers):
    # given: Gold gives 10% off
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    member.refresh_from_db()
    give_points(member, 1000)
    reward = make_reward(points_cost=255)
    # when
    redemption = services.reward_redeem(member=member, reward=reward)
    # then: 255 × 0.9 = 229.5, rounded in the member's favour
    assert services.member_cost(reward=reward, member=member) == 229
    assert redemption.points_spent == 229
    assert redemption.discount_percent == 10


def test_spending_uses_the_soonest_expiring_points_first(member):
    from loyalty.core.ledger import points_credit

    today = timezone.localdate()
    late = points_credit(
        member=member, points=100, kind="gift", cause=member, expires_on=today + timedelta(400)
    )
    soon = points_credit(
        member=member, points=100, kind="gift", cause=member, expires_on=today + timedelta(20)
    )
    services.reward_redeem(member=member, reward=make_reward(points_cost=120))
    assert dict(PointLot.objects.values_list("entry_id", "remaining")) == {late.pk: 80, soon.pk: 0}


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("short", InsufficientPoints),
        ("no_stock", OutOfStock),
        ("inactive", RewardInactive),
        ("not_yet", RewardInactive),
        ("ended", RewardInactive),
        ("tier", TierTooLow),
        ("limit", LimitReached),
        ("closed", MemberNotActive),
    ],
)
def test_every_refusal_changes_nothing(member, tiers, staff_user, setup, error):
    # given
    now = timezone.now()
    give_points(member, 150)
    reward = make_reward(points_cost=100, stock=5, limit_per_member=1)
    if setup == "short":
        Reward.objects.filter(pk=reward.pk).update(points_cost=151)
    elif setup == "no_stock":
        Reward.objects.filter(pk=reward.pk).update(stock=0)
    elif setup == "inactive":
        Reward.objects.filter(pk=reward.pk).update(is_active=False)
    elif setup == "not_yet":
        Reward.objects.filter(pk=reward.pk).update(active_from=now + timedelta(hours=1))
    elif setup == "ended":
        Reward.objects.filter(pk=reward.pk).update(active_until=now - timedelta(seconds=1))
    elif setup == "tier":
        Reward.objects.filter(pk=reward.pk).update(min_tier=tiers["silver"])
    elif setup == "limit":
        services.reward_redeem(member=member, reward=reward)
    elif setup == "closed":
        member_set_status(member=member, status="closed", staff_user=staff_user, reason="Left")
    reward.refresh_from_db()
    before = snapshot(member, reward)
    # when
    with pytest.raises(error):
        services.reward_redeem(member=Member.objects.get(pk=member.pk), reward=reward)
    # then
    assert snapshot(member, reward) == before


def test_a_cancelled_redemption_does_not_count_towards_the_limit(member):
    give_points(member, 300)
    reward = make_reward(points_cost=100, limit_per_member=1)
    first = services.reward_redeem(member=member, reward=reward)
    services.redemption_cancel(redemption=first, reason="changed mind")
    services.reward_redeem(member=member, reward=reward)
    assert Redemption.objects.filter(status="active").count() == 1


def test_a_voucher_is_used_exactly_once(member):
    # given
    give_points(member, 100)
    partner = make_partner("Till")
    voucher = services.reward_redeem(member=member, reward=make_reward()).voucher
    # when: typed with dashes and in lower case
    used = services.voucher_use(code=voucher.display_code.lower(), partner=partner)
    # then
    assert (used.status, used.used_by) == ("used", partner)
    with pytest.raises(VoucherAlreadyUsed):
        services.voucher_use(code=voucher.code, partner=partner)
    with pytest.raises(VoucherNotFound):
        services.voucher_use(code="NOPE", partner=partner)


def test_cancelling_returns_points_and_stock(member):
    # given
    give_points(member, 100)
    reward = make_reward(points_cost=100, stock=1)
    redemption = services.reward_redeem(member=member, reward=reward)
    # when
    services.redemption_cancel(redemption=redemption, reason="Wrong reward")
    # then
    redemption.refresh_from_db()
    assert redemption.status == "cancelled" and redemption.voucher.status == "cancelled"
    assert Member.objects.get(pk=member.pk).points_balance == 100
    assert Reward.objects.get(pk=reward.pk).stock == 1
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert reversal.reverses == redemption.spend_entry and reversal.points == 100
    with pytest.raises(RedemptionNotCancellable):
        services.redemption_cancel(redemption=redemption)
    with pytest.raises(VoucherCancelled):
        services.voucher_use(code=redemption.voucher.code, partner=make_partner("Till"))


def test_a_used_voucher_cannot_be_cancelled(member):
    give_points(member, 100)
    redemption = services.reward_redeem(member=member, reward=make_reward())
    services.voucher_use(code=redemption.voucher.code, partner=make_partner("Till"))
    with pytest.raises(RedemptionNotCancellable):
        services.redemption_cancel(redemption=redemption)
    assert Member.objects.get(pk=member.pk).points_balance == 0


def test_vouchers_expire_after_their_last_valid_day_and_return_points(member):
    # given
    give_points(member, 300)
    at = timezone.make_aware(timezone.datetime(2026, 3, 1, 12))
    keeps = make_reward(points_cost=100, voucher_valid_days=10, stock=4)
    forfeits = make_reward(points_cost=50, voucher_valid_days=10, return_points_on_expiry=False)
    v1 = services.reward_redeem(member=member, reward=keeps, at=at).voucher
    v2 = services.reward_redeem(member=member, reward=forfeits, at=at).voucher
    assert v1.expires_on == date(2026, 3, 11)
    # when: the last valid day
    assert services.vouchers_expire_due(today=date(2026, 3, 11)) == 0
    partner = make_partner("Till")
    # then: the day after, both expire; only one gives points back
    assert services.vouchers_expire_due(today=date(2026, 3, 12)) == 2
    assert services.vouchers_expire_due(today=date(2026, 3, 12)) == 0
    assert Voucher.objects.get(pk=v1.pk).status == "expired"
    assert Member.objects.get(pk=member.pk).points_balance == 250
    assert Reward.objects.get(pk=keeps.pk).stock == 4
    with pytest.raises(VoucherExpired):
        services.voucher_use(code=v2.code, partner=partner, at=at + timedelta(days=11))


def test_a_voucher_past_its_day_cannot_be_used_before_the_job_runs(member):
    give_points(member, 100)
    at = timezone.now() - timedelta(days=40)
    voucher = services.reward_redeem(
        member=member, reward=make_reward(voucher_valid_days=30), at=at
    ).voucher
    with pytest.raises(VoucherExpired):
        services.voucher_use(code=voucher.code, partner=make_partner("Till"))
    assert Voucher.objects.get(pk=voucher.pk).status == "issued"


def test_names_fall_back_to_english(db):
    from django.utils import translation

    reward = make_reward(name_en="Free coffee", name_lt="Nemokama kava")
    with translation.override("lt"):
        assert reward.name == "Nemokama kava"
    with translation.override("pl"):
        assert reward.name == "Free coffee"
    assert reward.localized("name", "lt") == "Nemokama kava"


def test_a_member_redeeming_again_and_again_does_not_beat_the_limit(member):
    """One after the other (on SQLite too); the PostgreSQL race is in test_concurrency."""
    give_points(member, 500)
    reward = make_reward(points_cost=10, limit_per_member=2)
    services.reward_redeem(member=member, reward=reward)
    services.reward_redeem(member=member, reward=reward)
    with pytest.raises(LimitReached):
        services.reward_redeem(member=member, reward=reward)
    assert Member.objects.get(pk=member.pk).points_balance == 480
    assert Redemption.objects.filter(member=member, reward=reward).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("tills", [2, 6])
def test_a_member_redeeming_concurrently_spends_their_points_once(tiers, tills):
    """Points for exactly one redemption, redeemed from several tills at the same moment: one
    wins, the others are refused for lack of points, and nothing of theirs is left behind."""
    # given
    member = make_member(email="ona@example.com")
    give_points(member, 100)
    reward = make_reward(points_cost=100, stock=10)
    partners = [make_partner(f"Till {i}") for i in range(tills)]

    def redeem(partner):
        return lambda: services.reward_redeem(
            member=Member.objects.get(pk=member.pk), reward=reward, partner=partner
        )

    # when
    results = run_at_once([redeem(p) for p in partners])
    # then: exactly one redemption, every other one refused with InsufficientPoints
    won = [r for r in results if isinstance(r, Redemption)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert (len(won), len(refused)) == (1, tills - 1), results
    winner = won[0]
    # and the balance, the ledger, the lots, the stock and the vouchers agree with one spend
    assert Member.objects.get(pk=member.pk).points_balance == 0
    spends = list(LedgerEntry.objects.filter(member=member, kind="spend"))
    assert [(e.points, e.balance_after, e.cause) for e in spends] == [(-100, 0, winner)]
    assert Redemption.objects.get() == winner and winner.points_spent == 100
    assert Redemption.objects.get().spend_entry == spends[0]
    assert Voucher.objects.get().redemption == winner
    assert Reward.objects.get(pk=reward.pk).stock == 9
    assert list(PointLot.objects.filter(member=member).values_list("remaining", flat=True)) == [0]


def test_an_expired_voucher_cannot_be_cancelled_for_its_points(member):
    give_points(member, 100)
    at = timezone.now() - timedelta(days=40)
    reward = make_reward(voucher_valid_days=30, return_points_on_expiry=False)
    redemption = services.reward_redeem(member=member, reward=reward, at=at)
    with pytest.raises(RedemptionNotCancellable):
        services.redemption_cancel(redemption=redemption)
    assert Member.objects.get(pk=member.pk).points_balance == 0


def test_stock_comes_back_only_if_it_was_taken(member):
    give_points(member, 100)
    reward = make_reward(points_cost=100)  # unlimited at redemption
    redemption = services.reward_redeem(member=member, reward=reward)
    Reward.objects.filter(pk=reward.pk).update(stock=5)
    services.redemption_cancel(redemption=redemption)
    assert Reward.objects.get(pk=reward.pk).stock == 5
