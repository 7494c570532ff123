"""E-mail through the real broker: a message, an invitation and a staff alert each commit with
their outbox row; the attempt goes through Redis to a Celery worker process, which renders the
e-mail in the reader's language and sends it (to a mail folder, Django's file backend) once,
with its Message-ID, and records it. An e-mail whose first attempt never reached the broker is
sent by the dispatcher through the worker."""

import email
import email.policy
from pathlib import Path

import pytest
from django.db import transaction

from accounts.models import User
from loyalty.core.anomalies import anomaly_record
from loyalty.core.models import Anomaly
from notifications.models import Message, OutgoingEmail
from notifications.outbox import email_enqueue, emails_dispatch_due, message_id
from notifications.services import message_send
from referrals.invitations import referral_invite
from tests.worker import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def mail_folder(tmp_path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    return folder


@pytest.fixture
def worker(workers, mail_folder, through_the_broker):
    # (a fourth slash: django-environ drops one from an absolute path)
    return workers("mailer", EMAIL_URL=f"filemail:///{mail_folder}")


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    mails = []
    for path in sorted(folder.glob("*")):
        # the file backend writes each message followed by a line of dashes
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                mails.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return mails


def _sent(kind: str, object_id: int) -> OutgoingEmail:
    return wait_until(
        lambda: OutgoingEmail.objects.filter(kind=kind, object_id=object_id, status="sent").first(),
        30,
        f"the worker did not send the {kind} e-mail",
    )


def test_a_message_is_emailed_by_the_worker_in_the_members_language_once(
    member, worker, mail_folder
):
    # given: Ona reads Lithuanian
    OutgoingEmail.objects.all().delete()
    # when
    with transaction.atomic():
        message = message_send(member, "welcome", dedupe_key="broker-welcome")
    # then
    outgoing = _sent("message", message.pk)
    [mail] = _mails(mail_folder)
    assert mail["To"] == "ona@example.com"
    assert mail["Message-ID"] == message_id(outgoing, 0)
    assert "Sveiki" in mail["Subject"]
    message.refresh_from_db()
    assert message.emailed_at is not None
    assert outgoing.attempts == 1


def test_an_invitation_is_emailed_by_the_worker(member, worker, mail_folder):
    with transaction.atomic():
        invitation = referral_invite(referrer=member, email="rasa@example.com")
    _sent("invitation", invitation.pk)
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    [mail] = [m for m in _mails(mail_folder) if m["To"] == "rasa@example.com"]
    assert "Ona" in mail["Subject"]


def test_a_staff_alert_is_emailed_by_the_worker(partner, member, worker, mail_folder):
    User.objects.create_superuser(email="boss@example.com", password="x")
    with transaction.atomic():
        anomaly = anomaly_record(
            kind=Anomaly.Kind.LARGE_PURCHASE,
            partner=partner,
            member=member,
            params={"external_id": "L-1", "amount": "6000.00", "points": 6000},
        )
    _sent("anomaly", anomaly.pk)
    [mail] = [m for m in _mails(mail_folder) if m["To"] == "boss@example.com"]
    assert "Corner Shop" in mail["Subject"]
    assert "6000.00" in mail.get_content()


def test_an_email_whose_attempt_never_reached_the_broker_is_sent_by_the_dispatcher(
    member, worker, mail_folder, django_capture_on_commit_callbacks
):
    # given: a message whose after-commit attempt was lost (the broker was down then)
    OutgoingEmail.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        message = message_send(member, "welcome", dedupe_key="lost-attempt")
    assert OutgoingEmail.objects.get(kind="message", object_id=message.pk).status == "pending"
    # when: the beat's dispatcher runs
    with transaction.atomic():
        emails_dispatch_due()
    # then: the worker sends it, once
    _sent("message", message.pk)
    assert len(_mails(mail_folder)) == 1
    assert Message.objects.get(pk=message.pk).emailed_at is not None


def test_an_email_enqueued_twice_is_sent_once(member, worker, mail_folder):
    OutgoingEmail.objects.all().delete()
    with transaction.atomic():
        message = message_send(member, "welcome", dedupe_key="twice")
        # (a caller asking again, e.g. a task run twice: the same row)
        email_enqueue(kind="message", object_id=message.pk)
    _sent("message", message.pk)
    with transaction.atomic():
        emails_dispatch_due()
    assert OutgoingEmail.objects.filter(kind="message", object_id=message.pk).count() == 1
    assert len(_mails(mail_folder)) == 1
