"""The e-mail outbox: a row written with what caused it, sent after commit at least once, never
twice by its id, retried with backoff when the mail server fails, sent later by the dispatcher
when the first attempt never came."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications.models import Message, OutgoingEmail
from notifications.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    email_send,
    email_send_for,
    emails_dispatch_due,
)
from notifications.services import message_send
from referrals import invitations

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(member):
    """A member whose welcome e-mail is out of the way: these tests count the outbox's rows."""
    OutgoingEmail.objects.all().delete()
    return member


class FailingBackend:
    """A mail server that refuses every message (an SMTP server down, say)."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


def test_a_message_and_its_email_are_written_together_or_not_at_all(member):
    Message.objects.all().delete()
    # when: a message in a transaction that rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        message_send(member, "welcome", dedupe_key="rolled-back")
        assert OutgoingEmail.objects.filter(kind="message").count() == 1
        raise RuntimeError("the caller's write fails")
    # then: neither the message nor its e-mail
    assert not Message.objects.exists()
    assert not OutgoingEmail.objects.exists()


def test_the_email_goes_after_commit_with_its_id_and_is_recorded(
    member, mailoutbox, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(member, "welcome", dedupe_key="hello")
    # then
    email = OutgoingEmail.objects.get(kind="message", object_id=message.pk)
    assert email.status == OutgoingEmail.Status.SENT and email.attempts == 1
    assert [m.to for m in mailoutbox] == [[member.user.email]]
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<{email.pk}.0@127.0.0.1>"
    message.refresh_from_db()
    assert message.emailed_at == email.sent_at


def test_an_email_is_sent_once_however_often_it_is_asked_for(member, mailoutbox):
    # given: the after-commit attempt never ran (the broker was down)
    message = message_send(member, "welcome", dedupe_key="once")
    email = OutgoingEmail.objects.get()
    # when: the dispatcher, a redelivered task and the old task all ask
    assert emails_dispatch_due() == 1
    assert email_send(email_id=email.pk) is True
    assert email_send(email_id=email.pk) is False
    assert email_send_for(kind="message", object_id=message.pk) is False
    # then
    assert len(mailoutbox) == 1
    assert emails_dispatch_due() == 0


def test_a_mail_server_that_fails_is_tried_again_later_then_the_email_goes(
    member, mailoutbox, settings
):
    # given
    message_send(member, "welcome", dedupe_key="later")
    email = OutgoingEmail.objects.get()
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    # when: the first attempt fails
    assert email_send(email_id=email.pk) is False
    # then: recorded, not lost, and not due again before its backoff
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutgoingEmail.Status.PENDING, 1)
    assert "the mail server is down" in email.last_error
    assert email.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert emails_dispatch_due() == 0
    # when: the server is back and the backoff over
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert email_send(email_id=email.pk) is True
    # then
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 2, "")
    assert len(mail.outbox) == 1


def test_an_email_that_keeps_failing_is_given_up_after_a_day_of_attempts(member, settings):
    message_send(member, "welcome", dedupe_key="never")
    email = OutgoingEmail.objects.get()
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    for _ in range(MAX_ATTEMPTS):
        OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        email_send(email_id=email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutgoingEmail.Status.FAILED, MAX_ATTEMPTS)


def test_an_attempt_that_died_is_handed_out_again_when_its_lease_runs_out(member, mailoutbox):
    # given: a worker claimed the e-mail and died before sending it
    message_send(member, "welcome", dedupe_key="lease")
    email = OutgoingEmail.objects.get()
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now() + LEASE)
    assert emails_dispatch_due() == 0
    # when: the lease ran out
    OutgoingEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    # then: the next attempt sends it, with the same Message-ID a resend would carry
    assert email_send(email_id=email.pk) is True
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<{email.pk}.0@127.0.0.1>"


def test_an_invitation_names_its_referrer_on_one_plain_line(referrer_with_name, mailoutbox):
    # given: a referrer whose name holds a line break, an escape and a bidirectional override
    invitation = invitations.referral_invite(referrer=referrer_with_name, email="rasa@example.com")
    # when
    assert invitations.invitation_send_email(invitation_id=invitation.pk) is True
    # then
    sent = mailoutbox[0]
    assert "\n" not in sent.subject and "\x1b" not in sent.subject and "\u202e" not in sent.subject
    assert "Ona Bcc: x@example.com" in sent.subject
    assert "\x1b" not in sent.body and "\u202e" not in sent.body


@pytest.fixture
def referrer_with_name(tiers):
    from tests import factories

    return factories.make_member(
        email="ona@example.com", first_name="Ona\nBcc: x@example.com\x1b[2J\u202e"
    )
