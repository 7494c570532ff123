"""An outgoing e-mail carries the member it is for (loyalty.base.distribution): a message's
member, an invitation's referrer, none for a staff alert; migration notifications/0005 fills the
older rows of members' messages."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from notifications.models import OutgoingEmail
from notifications.outbox import email_enqueue
from notifications.services import message_send
from referrals import invitations

pytestmark = pytest.mark.django_db

fill = importlib.import_module("notifications.migrations.0005_member_on_outgoing_emails").fill


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


def test_the_migration_fills_the_older_e_mails_of_members_messages(member):
    message = message_send(member, "points_expiring", {"points": 10, "expires_on": "2027-01-01"})
    staff_alert = email_enqueue(kind="escalation", object_id=message.pk)  # (the same id)
    OutgoingEmail.objects.update(member=None)
    fill(apps, SimpleNamespace(connection=connection))  # (it reads only the connection)
    assert OutgoingEmail.objects.get(kind="message", object_id=message.pk).member_id == member.pk
    assert OutgoingEmail.objects.get(pk=staff_alert.pk).member_id is None
