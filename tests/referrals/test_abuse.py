"""Every abuse rule: hard rules reject, soft flags wait for staff unless vouched, the cap holds."""

import pytest
from django.db import IntegrityError, transaction

from accounts import services as account_services
from accounts.models import Member
from loyalty.core.models import LedgerEntry
from referrals import invitations, services
from referrals.emails import canonical_email, mask_email
from referrals.models import Referral
from tests import factories
from tests.referrals.conftest import FRIEND_BONUS, buy, join

REFERRAL = LedgerEntry.Kind.REFERRAL


def no_bonus_paid() -> bool:
    return not LedgerEntry.objects.filter(kind=REFERRAL).exists()


# --- the canonical e-mail address --------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("Ona.Kaz@Gmail.com", "onakaz@gmail.com"),
        (" o.n.a.k.a.z+shop@googlemail.com ", "onakaz@gmail.com"),
        ("ona.kaz+news@example.com", "ona.kaz@example.com"),
        ("ona.kaz@example.com", "ona.kaz@example.com"),
        ("ONA+a+b@Outlook.com", "ona@outlook.com"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_the_canonical_address_is_the_mailbox_the_provider_delivers_to(email, canonical):
    assert canonical_email(email) == canonical


@pytest.mark.parametrize(
    ("email", "masked"),
    [("ona.kaz@example.com", "o***@e***.com"), ("j@mail.co.uk", "j***@m***.uk"), ("x", "***")],
)
def test_a_friends_address_is_masked(email, masked):
    assert mask_email(email) == masked


# --- hard rules: rejected, never paid -------------------------------------------------------------


@pytest.mark.parametrize(
    "alias", ["onakaz@gmail.com", "O.Na.Kaz+friend@googlemail.com", "ona.kaz+2@gmail.com"]
)
def test_self_referral_by_a_gmail_alias_is_rejected(referrer, code, shop, alias):
    # when
    me_again = join(code, email=alias)
    buy(shop, me_again)
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REJECTED
    assert referral.flags == ["self_email"]
    assert no_bonus_paid()


def test_self_referral_by_a_plus_tag_elsewhere_is_rejected_but_dots_count(tiers, shop):
    # given
    me = factories.make_member(email="ona.kaz@example.com")
    code = me.referral_code.code
    # when
    tagged = join(code, email="ona.kaz+more@example.com")
    dotted = join(code, email="onakaz@example.com")  # another mailbox at most providers
    # then
    assert Referral.objects.get(referee=tagged).flags == ["self_email"]
    assert Referral.objects.get(referee=tagged).status == Referral.Status.REJECTED
    assert Referral.objects.get(referee=dotted).status == Referral.Status.PENDING


def test_paying_with_the_referrers_means_of_payment_rejects(referrer, code, shop):
    # given
    buy(shop, referrer, amount="5", payment_fingerprint="card-ona")
    friend = join(code)
    # when
    buy(shop, friend, amount="30", payment_fingerprint="card-ona")
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REJECTED
    assert referral.flags == ["same_payment"]
    assert referral.qualifying_purchase is None
    assert no_bonus_paid()
    # and a later purchase with another card changes nothing
    buy(shop, friend, amount="30", payment_fingerprint="card-jonas")
    assert Referral.objects.get().status == Referral.Status.REJECTED


def test_an_earlier_small_purchase_with_the_referrers_card_also_counts(referrer, code, shop):
    # given
    buy(shop, referrer, amount="5", payment_fingerprint="card-ona")
    friend = join(code)
    buy(shop, friend, amount="2", payment_fingerprint="card-ona")
    # when
    buy(shop, friend, amount="30", payment_fingerprint="card-jonas")
    # then
    assert Referral.objects.get().status == Referral.Status.REJECTED
    assert no_bonus_paid()


def test_a_different_means_of_payment_qualifies(referrer, code, shop):
    # given
    buy(shop, referrer, amount="5", payment_fingerprint="card-ona")
    friend = join(code)
    # when
    buy(shop, friend, amount="30", payment_fingerprint="card-jonas")
    # then
    assert Referral.objects.get().status == Referral.Status.QUALIFIED


def test_an_earlier_membership_under_the_same_address_is_not_a_new_friend(
    referrer, code, shop, staff_user
):
    # given: Jonas was a member once and closed his membership
    old = factories.make_member(email="jonas.p@gmail.com")
    account_services.member_set_status(
        member=old, status=Member.Status.CLOSED, staff_user=staff_user, reason="Asked to leave"
    )
    # when: he comes back under an alias with Ona's code
    back = join(code, email="jonasp+again@gmail.com")
    buy(shop, back)
    # then
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REJECTED
    assert referral.flags == ["not_new"]
    assert no_bonus_paid()


def test_a_customer_with_earlier_purchases_is_not_a_new_friend(referrer, code, shop):
    # given
    customer = factories.make_member()
    buy(shop, customer)
    # when
    referral = services.referral_start(referee=customer, code=code)
    # then
    assert referral.status == Referral.Status.REJECTED
    assert referral.flags == ["not_new"]


def test_no_chain_back_to_the_referrer(referrer, code):
    # given: Ona brought Jonas, Jonas brought Rūta
    jonas = join(code)
    ruta = join(jonas.referral_code.code)
    # when: Ona "joins" with Rūta's code
    referral = services.referral_start(referee=referrer, code=ruta.referral_code.code)
    # then
    assert referral.status == Referral.Status.REJECTED
    assert referral.flags == ["chain"]


def test_a_chain_is_looked_for_only_a_few_levels_up(referrer, code, monkeypatch):
    # given
    jonas = join(code)
    ruta = join(jonas.referral_code.code)
    monkeypatch.setattr(services, "CHAIN_DEPTH", 1)
    # when
    referral = services.referral_start(referee=referrer, code=ruta.referral_code.code)
    # then
    assert referral.status == Referral.Status.PENDING


def test_the_database_refuses_a_self_referral_and_a_second_referral(referrer, code):
    # given
    friend = join(code)
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(referrer=referrer, referee=referrer, expires_on="2030-01-01")
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            referrer=factories.make_member(), referee=friend, expires_on="2030-01-01"
        )


# --- soft flags: staff review unless vouched ----------------------------------------------------


@pytest.mark.parametrize(
    ("hashes", "flag"),
    [({"device_hash": "dev-1"}, "same_device"), ({"address_hash": "addr-1"}, "same_address")],
)
def test_sharing_the_referrers_device_or_address_waits_for_review(tiers, shop, hashes, flag):
    # given
    ona = factories.make_member(email="ona@example.com", device_hash="dev-1", address_hash="addr-1")
    # when
    friend = join(ona.referral_code.code, **hashes)
    buy(shop, friend, amount="30")
    # then: the purchase is kept for the review, nothing is paid yet
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.FLAGGED
    assert referral.flags == [flag]
    assert referral.qualifying_purchase is not None
    assert no_bonus_paid()


def test_other_devices_and_addresses_raise_no_flag(tiers):
    # given
    ona = factories.make_member(email="ona@example.com", device_hash="dev-1", address_hash="addr-1")
    # when
    join(ona.referral_code.code, device_hash="dev-2", address_hash="addr-2")
    # then
    assert Referral.objects.get().status == Referral.Status.PENDING


def test_a_vouched_friend_passes_soft_flags(tiers, shop):
    # given
    ona = factories.make_member(email="ona@example.com", device_hash="dev-1")
    invitations.referral_invite(referrer=ona, email="Jonas@Example.com", vouched=True)
    # when
    friend = join(ona.referral_code.code, email="jonas@example.com", device_hash="dev-1")
    buy(shop, friend)
    # then
    referral = Referral.objects.get()
    assert referral.vouched is True
    assert referral.flags == ["same_device"]  # still visible to staff
    assert referral.status == Referral.Status.QUALIFIED
    assert Member.objects.get(pk=friend.pk).points_balance == 25 + FRIEND_BONUS


def test_vouching_does_not_lift_a_hard_rule(referrer, code, staff_user):
    # given
    old = factories.make_member(email="jonas.p@gmail.com")
    account_services.member_set_status(
        member=old, status=Member.Status.CLOSED, staff_user=staff_user, reason="Left"
    )
    invitations.referral_invite(referrer=referrer, email="jonasp@gmail.com", vouched=True)
    # when
    join(code, email="jonasp@gmail.com")
    # then
    referral = Referral.objects.get()
    assert (referral.status, referral.vouched) == (Referral.Status.REJECTED, True)
    assert not referrer.messages.filter(kind="referral_vouch_thanks").exists()


# --- the monthly cap ------------------------------------------------------------------------------


def test_beyond_the_monthly_cap_referrals_wait_for_review(referrer, code, shop, settings):
    # given
    settings.REFERRAL_MONTHLY_CAP = 2
    friends = [join(code) for _ in range(3)]
    invitations.referral_invite(referrer=referrer, email="vouched@example.com", vouched=True)
    vouched = join(code, email="vouched@example.com")
    # when
    for friend in [*friends, vouched]:
        buy(shop, friend)
    # then
    statuses = [Referral.objects.get(referee=f).status for f in [*friends, vouched]]
    assert statuses == ["qualified", "qualified", "flagged", "flagged"]
    assert Referral.objects.get(referee=friends[2]).flags == ["monthly_cap"]
    assert Referral.objects.get(referee=vouched).flags == ["monthly_cap"]  # a vouch is no lift
    assert LedgerEntry.objects.filter(kind=REFERRAL, member=referrer).count() == 2


def test_the_cap_counts_only_this_months_rewarded_referrals(referrer, code, shop, settings):
    # given
    settings.REFERRAL_MONTHLY_CAP = 1
    first = join(code)
    buy(shop, first)
    Referral.objects.filter(referee=first).update(
        qualified_at="2020-01-15T12:00:00+00:00"
    )  # last month or earlier
    second = join(code)
    # when
    buy(shop, second)
    # then
    assert Referral.objects.get(referee=second).status == Referral.Status.QUALIFIED
