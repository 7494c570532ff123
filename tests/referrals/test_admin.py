"""Staff: the referral list with conversion, the review queue, approve and reject."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Member
from loyalty.base.errors import NotAllowed
from loyalty.core.models import LedgerEntry
from referrals import invitations, services
from referrals.errors import ReferralNotReviewable
from referrals.models import Referral
from tests import factories
from tests.referrals.conftest import FRIEND_BONUS, REFERRER_BONUS, buy, join

REFERRAL = LedgerEntry.Kind.REFERRAL


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def flagged(tiers):
    """A friend who signed up on the referrer's phone: waiting for review."""
    ona = factories.make_member(email="ona@example.com", first_name="Ona", device_hash="phone")
    friend = join(ona.referral_code.code, device_hash="phone")
    referral = Referral.objects.get(referee=friend)
    assert referral.status == Referral.Status.FLAGGED
    return referral


def act(admin_client, action, referrals, url="admin:referrals_flaggedreferral_changelist"):
    return admin_client.post(
        reverse(url),
        {"action": action, "_selected_action": [r.pk for r in referrals]},
        follow=True,
    )


def test_the_changelist_shows_the_conversion_rate(admin_client, referrer, code, shop):
    # given: 1 of 4 qualified
    buy(shop, join(code))
    for _ in range(3):
        join(code)
    # when
    response = admin_client.get(reverse("admin:referrals_referral_changelist"))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "All time: 1 of 4 referrals qualified." in page
    assert "25&nbsp;%" in page
    months = response.context["conversion_months"]
    assert [(m["referrals"], m["qualified"], m["rate"]) for m in months] == [(4, 1, 0.25)]


@pytest.mark.parametrize("flags", ["any", "none", "same_device", "monthly_cap"])
def test_the_changelist_filters_by_flag(admin_client, flagged, flags):
    # when
    response = admin_client.get(
        reverse("admin:referrals_referral_changelist"), {"flags": flags, "vouched__exact": "0"}
    )
    # then
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == ([flagged] if flags in {"any", "same_device"} else [])


def test_the_review_queue_shows_only_flagged_referrals(admin_client, flagged, referrer, code):
    # given
    join(code)
    # when
    response = admin_client.get(reverse("admin:referrals_flaggedreferral_changelist"))
    # then
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [flagged.pk]
    detail = admin_client.get(
        reverse("admin:referrals_referral_change", args=[flagged.pk])
    ).content.decode()
    assert flagged.referrer.member_number in detail and "signed up on the referrer" in detail


def test_approving_after_the_purchase_pays_both(admin_client, flagged, shop):
    # given
    buy(shop, flagged.referee)
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()
    # when
    response = act(admin_client, "approve", [flagged])
    # then
    assert response.status_code == 200
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.QUALIFIED
    assert flagged.reviewed_by is not None and flagged.reviewed_at is not None
    assert Member.objects.get(pk=flagged.referrer_id).points_balance == REFERRER_BONUS
    assert Member.objects.get(pk=flagged.referee_id).points_balance == 25 + FRIEND_BONUS
    assert any("Qualified" in m for m in _messages(response))


def test_approving_before_the_purchase_lets_it_go_on(admin_client, flagged, shop):
    # when
    act(admin_client, "approve", [flagged])
    # then
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()
    # and the friend's purchase then qualifies it without another review
    buy(shop, flagged.referee)
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.QUALIFIED


def test_rejecting_pays_nothing_ever(admin_client, flagged, shop):
    # when
    act(admin_client, "reject", [flagged])
    buy(shop, flagged.referee)
    # then
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.REJECTED
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()


def test_approving_a_decided_referral_changes_nothing(admin_client, referrer, code, shop):
    # given
    friend = join(code)
    buy(shop, friend)
    referral = Referral.objects.get()
    # when
    response = act(admin_client, "approve", [referral], url="admin:referrals_referral_changelist")
    # then
    assert any("Nothing was changed" in m for m in _messages(response))
    assert LedgerEntry.objects.filter(kind=REFERRAL).count() == 2


def test_a_refund_while_waiting_for_review_takes_the_purchase_out(flagged, shop, staff_user):
    # given
    purchase = buy(shop, flagged.referee, amount="30").purchase
    from loyalty.core.refunds import purchase_refund

    purchase_refund(purchase=purchase, external_id="R1")
    # when
    referral = services.referral_approve(referral=flagged, staff_user=staff_user)
    # then
    assert referral.status == Referral.Status.PENDING
    assert not LedgerEntry.objects.filter(kind=REFERRAL).exists()


def test_only_staff_review(flagged):
    with pytest.raises(NotAllowed):
        services.referral_approve(referral=flagged, staff_user=flagged.referee.user)
    with pytest.raises(NotAllowed):
        services.referral_reject(referral=flagged, staff_user=None)
    flagged.refresh_from_db()
    assert flagged.status == Referral.Status.FLAGGED


def test_an_expired_referral_cannot_be_decided(flagged, staff_user):
    # given
    Referral.objects.filter(pk=flagged.pk).update(status=Referral.Status.EXPIRED)
    # when / then
    with pytest.raises(ReferralNotReviewable):
        services.referral_approve(referral=flagged, staff_user=staff_user)
    with pytest.raises(ReferralNotReviewable):
        services.referral_reject(referral=flagged, staff_user=staff_user)


@pytest.mark.parametrize("model", ["invitation", "referralcode"])
def test_invitations_and_codes_are_listed(admin_client, referrer, model):
    invitations.referral_invite(referrer=referrer, email="rasa@example.com", vouched=True)
    response = admin_client.get(reverse(f"admin:referrals_{model}_changelist"))
    assert response.status_code == 200
