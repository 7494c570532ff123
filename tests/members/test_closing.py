"""A member closes their account from the profile (members.closing, loyalty.core.closing)."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.errors import MemberIsStaff
from accounts.models import Member, User
from loyalty.core.closing import member_close
from loyalty.core.models import LedgerEntry, PointLot
from notifications.models import Message
from referrals.invitations import referral_invite
from referrals.models import Invitation
from rewards.models import Redemption, Voucher
from rewards.services import reward_redeem
from tests import factories
from tests.members.conftest import PASSWORD


@pytest.fixture
def with_points_and_a_voucher(web_member):
    factories.give_points(web_member, 300, expires_on=date(2099, 1, 1))
    factories.give_points(web_member, 40)  # never expires
    coffee = factories.make_reward(slug="coffee", points_cost=100)
    reward_redeem(member=web_member, reward=coffee)
    web_member.refresh_from_db()
    return web_member


def test_the_profile_links_to_a_page_that_says_what_happens(
    member_client, with_points_and_a_voucher
):
    # when
    profile = member_client.get(reverse("members:profile"))
    page = member_client.get(reverse("members:account_close"))
    # then
    assert reverse("members:account_close") in profile.content.decode()
    text = page.content.decode()
    assert page.status_code == 200
    assert "The 240 points on your account expire now" in text
    assert "Your 1 unused voucher is cancelled" in text
    assert "Closing cannot be undone." in text
    assert "erase your personal data" in text
    assert 'name="password"' in text and 'name="confirm"' in text


def test_a_wrong_password_is_refused_and_nothing_changes(member_client, with_points_and_a_voucher):
    # when
    response = member_client.post(
        reverse("members:account_close"), {"confirm": "on", "password": "not-it"}
    )
    unticked = member_client.post(reverse("members:account_close"), {"password": PASSWORD})
    # then
    assert response.status_code == 200
    assert "That is not your password; your account is still open." in response.content.decode()
    assert "Tick the box to confirm" in unticked.content.decode()
    member = Member.objects.get(pk=with_points_and_a_voucher.pk)
    assert (member.status, member.points_balance) == (Member.Status.ACTIVE, 240)
    assert Voucher.objects.get().status == Voucher.Status.ISSUED


def test_closing_expires_the_points_cancels_vouchers_and_logs_out(
    member_client, with_points_and_a_voucher, client
):
    # given
    member = with_points_and_a_voucher
    referral_invite(referrer=member, email="friend@example.com")
    # when
    response = member_client.post(
        reverse("members:account_close"), {"confirm": "on", "password": PASSWORD}
    )
    # then: a goodbye page, logged out
    assert response.status_code == 302 and response.url == reverse("members:account_closed")
    goodbye = member_client.get(response.url)
    assert "Your account is closed" in goodbye.content.decode()
    assert member_client.get(reverse("members:dashboard")).status_code == 302
    # the voucher's points came back, then every lot expired, one entry per lot
    member.refresh_from_db()
    assert (member.status, member.points_balance) == (Member.Status.CLOSED, 0)
    assert not member.user.is_active
    assert Voucher.objects.get().status == Voucher.Status.CANCELLED
    assert Redemption.objects.get().status == Redemption.Status.CANCELLED
    expired = LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EXPIRE)
    assert sorted(e.points for e in expired) == [-300, -40]
    assert {e.cause_type.model for e in expired} == {"pointlot"}
    assert not PointLot.objects.filter(member=member, remaining__gt=0).exists()
    assert not Invitation.objects.filter(referrer=member).exists()
    assert Message.objects.filter(member=member, kind="account_closed").exists()
    # and the login is refused
    login = client.post(
        reverse("members:login"), {"username": member.user.email, "password": PASSWORD}
    )
    assert login.status_code == 200 and "_auth_user_id" not in client.session


def test_a_member_without_a_password_closes_with_the_tick_alone(client, tiers):
    # given: enrolled at a till, never claimed the web account
    member = factories.make_member(email="till@example.com")
    client.force_login(member.user)
    page = client.get(reverse("members:account_close"))
    # when
    response = client.post(reverse("members:account_close"), {"confirm": "on"})
    # then
    assert 'name="password"' not in page.content.decode()
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == Member.Status.CLOSED


def test_closing_twice_is_refused(web_member):
    member_close(member=web_member, by=web_member.user)
    with pytest.raises(Exception, match="closed"):
        member_close(member=web_member, by=web_member.user)


def test_staff_closing_says_so_kindly_and_a_second_closing_says_goodbye_again(admin_client, tiers):
    # given: a member whose name has an apostrophe
    member = factories.make_member(email="obrien@example.com", first_name="Seán O'Brien")
    url = reverse("admin:accounts_member_change_status", args=[member.pk])
    # when: staff close the membership, reopen it, and close it again
    admin_client.post(url, {"status": "closed", "reason": "Duplicate account"})
    admin_client.post(url, {"status": "active", "reason": ""})
    admin_client.post(url, {"status": "closed", "reason": "Duplicate account"})
    # then: two goodbyes, neither saying the member asked, the name as written
    goodbyes = Message.objects.filter(member=member, kind="account_closed")
    assert goodbyes.count() == 2
    for message in goodbyes:
        assert "As you asked" not in message.body
        assert "We have closed your loyalty account" in message.body
        assert "Dear Seán O'Brien," in message.body or "Hello Seán O'Brien," in message.body
    # and staff's reason, their own words, is not in what the member reads
    assert "Duplicate account" not in goodbyes.first().body


def test_a_member_closing_is_told_it_was_as_they_asked(web_member):
    member_close(member=web_member, by=web_member.user)
    assert "As you asked" in Message.objects.get(member=web_member, kind="account_closed").body


def test_a_staff_users_own_membership_cannot_be_closed(web_member):
    # given: the member is also a staff user
    User.objects.filter(pk=web_member.user_id).update(is_superuser=True)
    web_member = Member.objects.get(pk=web_member.pk)
    # when / then
    with pytest.raises(MemberIsStaff):
        member_close(member=web_member, by=web_member.user)
    web_member.refresh_from_db()
    assert web_member.status == Member.Status.ACTIVE and web_member.user.is_active
