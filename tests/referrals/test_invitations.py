"""Inviting friends by e-mail, a few a day, and vouching for them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.errors import MemberNotActive
from loyalty.base.errors import InvalidInput
from notifications.models import Message
from referrals import invitations
from referrals.errors import AlreadyInvited, InvitationLimitReached
from referrals.models import Invitation, Referral
from tests import factories
from tests.referrals.conftest import join


def test_an_invitation_is_emailed_after_commit_with_the_join_link(
    referrer, code, mailoutbox, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invitations.referral_invite(referrer=referrer, email=" Rasa@Example.com ")
        assert mailoutbox == []  # nothing before commit
    for callback in callbacks:
        callback()
    # then
    assert invitation.email == "rasa@example.com"
    assert invitation.vouched is False
    [mail] = mailoutbox
    assert mail.to == ["rasa@example.com"]
    assert "Ona" in mail.subject
    assert f"https://loyalty.example/join/{code}" in mail.body
    assert referrer.referral_code.display_code in mail.body
    assert "&#x27;" not in mail.body
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    assert invitations.invitation_send_email(invitation_id=invitation.pk) is False  # never twice
    assert len(mailoutbox) == 1


def test_a_vouched_invitation_says_so(referrer, mailoutbox, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invitations.referral_invite(referrer=referrer, email="rasa@example.com", vouched=True)
    # then
    assert "know you personally" in mailoutbox[0].body
    assert Invitation.objects.get().vouched is True


def test_at_most_a_few_invitations_a_day(referrer, settings):
    # given
    settings.REFERRAL_INVITES_PER_DAY = 3
    for i in range(3):
        invitations.referral_invite(referrer=referrer, email=f"f{i}@example.com")
    assert invitations.invitations_left_today(member=referrer) == 0
    # when / then
    with pytest.raises(InvitationLimitReached) as caught:
        invitations.referral_invite(referrer=referrer, email="f9@example.com")
    assert caught.value.status == 429
    assert Invitation.objects.count() == 3
    # and tomorrow there are new ones
    tomorrow = timezone.now() + timedelta(days=1)
    invitations.referral_invite(referrer=referrer, email="f9@example.com", now=tomorrow)
    assert Invitation.objects.count() == 4


def test_a_friend_is_invited_once(referrer):
    # given
    invitations.referral_invite(referrer=referrer, email="rasa.m@gmail.com")
    # when / then
    with pytest.raises(AlreadyInvited):
        invitations.referral_invite(referrer=referrer, email="RasaM+x@googlemail.com", vouched=True)
    assert Invitation.objects.count() == 1


def test_a_member_cannot_invite_themselves(referrer):
    with pytest.raises(InvalidInput) as caught:
        invitations.referral_invite(referrer=referrer, email="o.n.a.kaz@gmail.com")
    assert caught.value.extra["field"] == "email"
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("email", ["", "nope", "a@", "@b.com"])
def test_an_invalid_address_is_refused(referrer, email):
    with pytest.raises(InvalidInput):
        invitations.referral_invite(referrer=referrer, email=email)
    assert not Invitation.objects.exists()


def test_a_closed_member_cannot_invite(referrer, staff_user):
    from accounts.services import member_set_status

    member_set_status(member=referrer, status="closed", staff_user=staff_user, reason="Left")
    with pytest.raises(MemberNotActive):
        invitations.referral_invite(referrer=referrer, email="rasa@example.com")


def test_an_existing_member_gets_no_invitation_email(
    referrer, mailoutbox, django_capture_on_commit_callbacks
):
    # given
    factories.make_member(email="rasa@example.com")
    mailoutbox.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.referral_invite(referrer=referrer, email="rasa@example.com")
    # then: recorded, not sent, and the inviting member is not told who is a member
    assert invitation.pk is not None
    assert mailoutbox == []


def test_vouching_is_recorded_on_the_referral_and_thanked(referrer, code):
    # given
    invitation = invitations.referral_invite(
        referrer=referrer, email="rasa@example.com", vouched=True
    )
    # when
    friend = join(code, email="rasa@example.com", first_name="Rasa")
    # then
    referral = Referral.objects.get()
    assert (referral.invitation, referral.vouched) == (invitation, True)
    thanks = Message.objects.get(member=referrer, kind="referral_vouch_thanks")
    assert "Rasa" in thanks.subject and "vouching" in thanks.body
    assert friend.referral == referral


def test_an_invitation_without_a_vouch_is_linked_but_not_vouched(referrer, code):
    # given
    invitation = invitations.referral_invite(referrer=referrer, email="rasa@example.com")
    # when
    join(code, email="rasa@example.com")
    # then
    referral = Referral.objects.get()
    assert (referral.invitation, referral.vouched) == (invitation, False)
    assert not Message.objects.filter(kind="referral_vouch_thanks").exists()


def test_another_members_vouch_does_not_count(referrer, code):
    # given
    other = factories.make_member()
    invitations.referral_invite(referrer=other, email="rasa@example.com", vouched=True)
    # when
    join(code, email="rasa@example.com")
    # then
    assert Referral.objects.get().vouched is False
