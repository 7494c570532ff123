"""A referral's way: pending, qualified once with both bonuses and messages, expired, reversed."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from accounts import services as account_services
from accounts.models import Member, User
from loyalty.base.errors import InvalidInput
from loyalty.core.enrolment import member_enroll
from loyalty.core.ledger import points_debit
from loyalty.core.models import LedgerEntry, Purchase
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from loyalty.core.wording import LedgerView, entry_words
from notifications.models import Message
from referrals import services
from referrals.errors import InvalidReferralCode
from referrals.models import Referral, ReferralCode, SignupFingerprint
from tests import factories
from tests.referrals.conftest import FRIEND_BONUS, REFERRER_BONUS, buy, join

REFERRAL = LedgerEntry.Kind.REFERRAL


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


# --- codes ---------------------------------------------------------------------------------------


def test_every_new_member_gets_a_short_unguessable_code(referrer):
    # when
    codes = [factories.make_member().referral_code.code for _ in range(20)]
    # then
    code = referrer.referral_code
    assert len(code.code) == 8
    assert set(code.code) <= set(services.CODE_ALPHABET)
    assert not set("01OILU") & set(services.CODE_ALPHABET)
    assert code.display_code == f"{code.code[:4]}-{code.code[4:]}"
    assert len(set(codes)) == 20
    assert services.join_url(code.code) == f"https://loyalty.example/join/{code.code}"


def test_a_code_is_found_however_it_is_typed(referrer, code):
    # when
    typed = f" {code[:4].lower()}-{code[4:]} "
    # then
    assert services.referral_code_find(typed).member == referrer


def test_a_member_without_a_code_gets_one_on_first_need(referrer):
    # given
    ReferralCode.objects.filter(member=referrer).delete()
    # when
    first = services.referral_code_ensure(member=referrer)
    again = services.referral_code_ensure(member=referrer)
    # then
    assert first.pk == again.pk
    assert ReferralCode.objects.filter(member=referrer).count() == 1


@pytest.mark.parametrize("typed", ["", "ABC", "ZZZZZZZZ", "ABCD-EFG0", "😀" * 8])
def test_an_unknown_code_refuses_the_enrolment_and_creates_nothing(referrer, typed):
    # given
    users, members = User.objects.count(), Member.objects.count()
    # when
    with pytest.raises(InvalidReferralCode) as caught:
        member_enroll(email="new@example.com", referral_code=typed or "-")
    # then
    assert caught.value.code == "invalid_referral_code"
    assert caught.value.extra["field"] == "referral_code"
    assert (User.objects.count(), Member.objects.count()) == (users, members)
    assert not Referral.objects.exists()
    assert not SignupFingerprint.objects.filter(email_canonical="new@example.com").exists()


def test_a_closed_members_code_no_longer_works(referrer, code, staff_user):
    # given
    account_services.member_set_status(
        member=referrer, status=Member.Status.CLOSED, staff_user=staff_user, reason="Moved away"
    )
    # when / then
    with pytest.raises(InvalidReferralCode):
        join(code)
    assert not Referral.objects.exists()


def test_joining_with_a_code_starts_a_pending_referral(referrer, code):
    # when
    friend = join(code.lower())
    # then
    referral = Referral.objects.get()
    assert (referral.referrer, referral.referee) == (referrer, friend)
    assert referral.status == Referral.Status.PENDING
    assert referral.flags == []
    assert referral.vouched is False
    assert referral.expires_on == timezone.localdate() + timedelta(days=30)


def test_a_member_is_referred_once(referrer, code):
    # given
    friend = join(code)
    other = factories.make_member()
    # when / then
    with pytest.raises(InvalidReferralCode):
        services.referral_start(referee=friend, code=other.referral_code.code)
    assert Referral.objects.get().referrer == referrer


def test_a_member_cannot_use_their_own_code(referrer, code):
    with pytest.raises(InvalidReferralCode):
        services.referral_start(referee=referrer, code=code)
    assert not Referral.objects.exists()


# --- qualification -------------------------------------------------------------------------------


def test_the_first_big_enough_purchase_qualifies_and_pays_both_once(referrer, code, shop):
    # given
    friend = join(code)
    before = balance(referrer)
    # when
    result = buy(shop, friend, amount="20.00")
    balance_seen_by_the_till = friend.points_balance
    buy(shop, friend, amount="50.00")
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.qualifying_purchase == result.purchase
    assert referral.qualified_at is not None
    assert balance(referrer) == before + REFERRER_BONUS
    assert balance(friend) == 20 + 50 + FRIEND_BONUS
    bonuses = LedgerEntry.objects.filter(kind=REFERRAL).order_by("member_id")
    assert [(e.member_id, e.points, e.cause) for e in bonuses] == sorted(
        [(referrer.pk, REFERRER_BONUS, referral), (friend.pk, FRIEND_BONUS, referral)]
    )
    assert referral.referrer_entry.points == REFERRER_BONUS
    assert referral.friend_entry.points == FRIEND_BONUS
    assert balance_seen_by_the_till == 20 + FRIEND_BONUS


def test_both_members_get_a_message_once(referrer, code, shop):
    # given
    friend = join(code, first_name="Jonas")
    # when
    buy(shop, friend)
    buy(shop, friend)
    # then
    to_referrer = Message.objects.get(member=referrer, kind="referral_qualified_referrer")
    to_friend = Message.objects.get(member=friend, kind="referral_qualified_friend")
    assert "Jonas" in to_referrer.subject and str(REFERRER_BONUS) in to_referrer.body
    assert "Ona" in to_friend.body and str(FRIEND_BONUS) in to_friend.subject


def test_a_small_purchase_neither_qualifies_nor_spoils_it(referrer, code, shop):
    # given
    friend = join(code)
    # when
    buy(shop, friend, amount="19.99")
    # then
    assert Referral.objects.get().status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()
    # and a later big one does
    buy(shop, friend, amount="30")
    assert Referral.objects.get().status == Referral.Status.QUALIFIED


def test_a_purchase_in_another_currency_does_not_qualify(referrer, code, tiers):
    # given
    friend = join(code)
    krone = factories.make_partner("Krone shop", currency="DKK")
    factories.make_rule(name="DKK", partner=krone)
    # when
    purchase_record(partner=krone, member=friend, external_id="K1", amount="500", currency="DKK")
    # then
    assert Referral.objects.get().status == Referral.Status.PENDING


def test_a_purchase_after_the_qualifying_days_does_not_qualify(referrer, code, shop):
    # given
    friend = join(code)
    Referral.objects.update(expires_on=timezone.localdate() - timedelta(days=1))
    # when: the job has not marked it expired yet
    buy(shop, friend)
    # then
    assert Referral.objects.get().status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()


def test_a_closed_referrer_earns_nothing_but_the_friend_still_does(
    referrer, code, shop, staff_user
):
    # given
    friend = join(code)
    account_services.member_set_status(
        member=referrer, status=Member.Status.CLOSED, staff_user=staff_user, reason="Left"
    )
    # when
    buy(shop, friend)
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.referrer_entry is None
    assert referral.friend_entry.points == FRIEND_BONUS
    assert balance(referrer) == 0


def test_a_member_without_a_referral_costs_one_query_more_per_purchase(
    referrer, shop, django_assert_num_queries
):
    # given
    purchase = Purchase(member=referrer, amount=25, currency="EUR", occurred_at=timezone.now())
    # when / then
    with django_assert_num_queries(1):
        assert services.referral_check_purchase(purchase=purchase) is None


def test_a_qualified_friends_purchases_also_take_one_query(
    referrer, code, shop, django_assert_num_queries
):
    # given
    friend = join(code)
    purchase = buy(shop, friend).purchase
    # when / then
    with django_assert_num_queries(1):
        assert services.referral_check_purchase(purchase=purchase) is None


# --- expiry -------------------------------------------------------------------------------------


def test_referrals_not_qualified_in_time_expire(referrer, code, shop):
    # given
    late = join(code)
    in_time = join(code)
    qualified = join(code)
    buy(shop, qualified)
    Referral.objects.update(expires_on=timezone.localdate() - timedelta(days=1))
    Referral.objects.filter(referee=in_time).update(expires_on=timezone.localdate())
    # when
    expired = services.referrals_expire_due()
    again = services.referrals_expire_due()
    # then
    assert (expired, again) == (1, 0)
    statuses = dict(Referral.objects.values_list("referee_id", "status"))
    assert statuses == {
        late.pk: Referral.Status.EXPIRED,
        in_time.pk: Referral.Status.PENDING,
        qualified.pk: Referral.Status.QUALIFIED,
    }
    # and an expired referral never qualifies
    buy(shop, late)
    assert Referral.objects.get(referee=late).status == Referral.Status.EXPIRED


def test_expiry_by_date_counts_days_from_joining(referrer, code):
    # given
    join(code)
    last_day = Referral.objects.get().expires_on
    # when / then
    assert services.referrals_expire_due(today=last_day) == 0
    assert services.referrals_expire_due(today=last_day + timedelta(days=1)) == 1


# --- refunds --------------------------------------------------------------------------------------


def test_a_refund_within_the_return_window_reverses_both_bonuses(referrer, code, shop):
    # given
    friend = join(code)
    purchase = buy(shop, friend, amount="40").purchase
    # when
    purchase_refund(purchase=purchase, external_id="R1")
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REVERSED
    assert referral.reversed_at is not None
    assert balance(referrer) == 0
    assert balance(friend) == 0
    reversals = LedgerEntry.objects.filter(reverses__kind=REFERRAL)
    assert sorted(e.points for e in reversals) == [-REFERRER_BONUS, -FRIEND_BONUS]
    assert (referral.referrer_points_unrecovered, referral.friend_points_unrecovered) == (0, 0)
    # any partner reads these lines: the shop's refund id is not in them
    with translation.override("en"):
        words = {entry_words(e, view=LedgerView(partner_id=None)) for e in reversals}
    assert words == {f"Bonus taken back because a purchase at {shop.name} was refunded"}


def test_what_was_spent_is_recorded_as_unrecovered(referrer, code, shop):
    # given
    friend = join(code)
    purchase = buy(shop, friend, amount="40").purchase
    points_debit(member=referrer, points=150, cause=referrer)
    # when
    purchase_refund(purchase=purchase, external_id="R1")
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REVERSED
    assert referral.referrer_points_unrecovered == 150
    assert balance(referrer) == 0


def test_a_partial_refund_that_keeps_the_minimum_keeps_the_bonus(referrer, code, shop):
    # given
    friend = join(code)
    purchase = buy(shop, friend, amount="50").purchase
    # when
    purchase_refund(purchase=purchase, external_id="R1", amount="30")
    # then
    assert Referral.objects.get().status == Referral.Status.QUALIFIED
    assert balance(referrer) == REFERRER_BONUS
    # and a second one below the minimum reverses
    purchase_refund(purchase=purchase, external_id="R2", amount="0.01")
    assert Referral.objects.get().status == Referral.Status.REVERSED
    assert balance(referrer) == 0


def test_a_refund_after_the_return_window_keeps_the_bonus(referrer, code, shop):
    # given
    friend = join(code)
    purchase = buy(shop, friend, amount="40").purchase
    # when
    purchase_refund(purchase=purchase, external_id="R1", at=timezone.now() + timedelta(days=31))
    # then
    assert Referral.objects.get().status == Referral.Status.QUALIFIED
    assert balance(referrer) == REFERRER_BONUS
    assert balance(friend) == FRIEND_BONUS


def test_a_refund_of_another_purchase_changes_nothing(referrer, code, shop):
    # given
    friend = join(code)
    buy(shop, friend, amount="40")
    other = buy(shop, friend, amount="40").purchase
    # when
    purchase_refund(purchase=other, external_id="R1")
    # then
    assert Referral.objects.get().status == Referral.Status.QUALIFIED
    assert balance(referrer) == REFERRER_BONUS


def test_a_too_long_sign_up_hash_refuses_the_enrolment(referrer, code):
    # given
    members = Member.objects.count()
    # when / then
    with pytest.raises(InvalidInput) as caught:
        join(code, device_hash="d" * 129)
    assert caught.value.extra["field"] == "device_hash"
    assert Member.objects.count() == members
    assert not Referral.objects.exists()


def test_sign_up_hashes_are_kept_for_later_checks(tiers):
    # when
    member = factories.make_member(
        email="Ona.Kaz+x@GMAIL.com", device_hash="dev", address_hash="addr"
    )
    # then
    fingerprint = SignupFingerprint.objects.get(member=member)
    assert (fingerprint.email_canonical, fingerprint.device_hash, fingerprint.address_hash) == (
        "onakaz@gmail.com",
        "dev",
        "addr",
    )


def test_a_bonus_set_to_zero_is_not_paid(referrer, code, shop, settings):
    # given
    settings.REFERRAL_BONUS_REFERRER = 0
    friend = join(code)
    # when
    buy(shop, friend)
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.QUALIFIED
    assert referral.referrer_entry is None
    assert referral.friend_entry.points == FRIEND_BONUS
    assert not Message.objects.filter(kind="referral_qualified_referrer").exists()


def test_members_enrolled_before_referrals_get_a_code_and_fingerprint(referrer):
    # given
    from importlib import import_module

    from django.apps import apps

    migration = import_module("referrals.migrations.0002_codes_for_existing_members")
    ReferralCode.objects.filter(member=referrer).delete()
    SignupFingerprint.objects.filter(member=referrer).delete()
    # when
    migration.forwards(apps, None)
    # then
    assert len(ReferralCode.objects.get(member=referrer).code) == 8
    assert SignupFingerprint.objects.get(member=referrer).email_canonical == "onakaz@gmail.com"
