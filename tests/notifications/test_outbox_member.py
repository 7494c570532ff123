"""An outgoing e-mail carries the member it is for (loyalty.base.distribution): a message's
member, an invitation's referrer, none for a staff alert; `manage.py member_ids_fill` fills the
older rows of members' messages."""

import pytest

from notifications.models import OutgoingEmail
from notifications.outbox import email_enqueue
from notifications.services import message_send
from notifications.tasks import message_email_task
from referrals import invitations
from referrals.tasks import invitation_email_task
from tests.member_copies import fill

pytestmark = pytest.mark.django_db


def test_an_e_mail_carries_the_member_it_is_for(member):
    OutgoingEmail.objects.all().delete()  # (the welcome e-mail's)
    message = message_send(member, "points_expiring", {"points": 10, "expires_on": "2027-01-01"})
    invitation = invitations.referral_invite(referrer=member, email="friend@example.org")
    staff_alert = email_enqueue(kind="escalation", object_id=123)
    assert OutgoingEmail.objects.get(kind="message", object_id=message.pk).member_id == member.pk
    assert (
        OutgoingEmail.objects.get(kind="invitation", object_id=invitation.pk).member_id == member.pk
    )
    assert OutgoingEmail.objects.get(pk=staff_alert.pk).member_id is None


def test_the_fill_fills_the_older_e_mails_of_members_messages(member):
    message = message_send(member, "points_expiring", {"points": 10, "expires_on": "2027-01-01"})
    staff_alert = email_enqueue(kind="escalation", object_id=message.pk)  # (the same id)
    OutgoingEmail.objects.update(member=None)
    fill()
    assert OutgoingEmail.objects.get(kind="message", object_id=message.pk).member_id == member.pk
    assert OutgoingEmail.objects.get(pk=staff_alert.pk).member_id is None


def test_an_older_task_that_makes_its_outbox_row_gives_it_the_member(member):
    # given: a message and an invitation whose e-mail tasks were queued before the outbox
    message = message_send(member, "points_expiring", {"points": 1, "expires_on": "2027-01-01"})
    invitation = invitations.referral_invite(referrer=member, email="friend@example.org")
    OutgoingEmail.objects.all().delete()
    # when
    message_email_task(message.pk)
    invitation_email_task(invitation.pk)
    # then
    assert set(OutgoingEmail.objects.values_list("kind", "member_id")) == {
        ("message", member.pk),
        ("invitation", member.pk),
    }
