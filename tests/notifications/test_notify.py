import pytest

from accounts.models import Member
from notifications.models import Message
from notifications.services import (
    message_send,
    message_send_email,
    messages_mark_read,
    render_message,
)
from tests import factories


def test_joining_leaves_a_welcome_message_and_emails_it_once(
    tiers, mailoutbox, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        member = factories.make_member(email="ieva@example.com", first_name="Ieva")
    # then
    message = Message.objects.get(member=member)
    assert message.kind == "welcome"
    assert "Ieva" in message.subject and member.member_number in message.body
    assert [m.to for m in mailoutbox] == [["ieva@example.com"]]
    assert message_send_email(message_id=message.pk) is False  # never twice
    assert len(mailoutbox) == 1


def test_a_message_with_a_key_is_stored_at_most_once(member, mailoutbox):
    first = message_send(member, "welcome", dedupe_key="again")
    second = message_send(member, "welcome", dedupe_key="again")
    assert first.pk == second.pk
    assert Message.objects.filter(member=member, dedupe_key="again").count() == 1


def test_no_email_when_the_member_does_not_want_it(
    member, mailoutbox, django_capture_on_commit_callbacks
):
    Member.objects.filter(pk=member.pk).update(email_messages=False)
    member.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(member, "welcome", dedupe_key="quiet")
    assert message.email_wanted is False
    assert mailoutbox == []


def test_marking_read_touches_only_the_members_own_messages(member, tiers):
    other = factories.make_member()
    mine = Message.objects.get(member=member)
    assert (
        messages_mark_read(
            member=member,
            message_ids=[
                mine.pk,
                *Message.objects.filter(member=other).values_list("pk", flat=True),
            ],
        )
        == 1
    )
    assert Message.objects.filter(member=other, read_at__isnull=True).count() == 1


# What the welcome says in each language (locale/*/LC_MESSAGES/django.po): a phrase of the
# subject, and of the body its first sentence after the greeting and its signature.
WELCOME = {
    "en": (
        "Welcome to the loyalty program",
        "Thank you for joining us",
        "The loyalty program team",
    ),
    "lt": ("Sveiki atvykę į lojalumo programą", "Dėkojame, kad prisijungėte", "Lojalumo programos"),
    "bg": (
        "Добре дошли в програмата",
        "Благодарим Ви, че се присъединихте",
        "Екипът на програмата",
    ),
    "da": ("Velkommen til loyalitetsprogrammet", "Tak, fordi du er blevet medlem", "Holdet bag"),
    "ru": ("добро пожаловать в программу", "Спасибо, что присоединились", "Команда программы"),
    "pl": ("Witamy w programie lojalnościowym", "Dziękujemy za dołączenie", "Zespół programu"),
}


@pytest.mark.parametrize("language", ["en", "lt", "bg", "da", "ru", "pl"])
def test_the_welcome_renders_in_every_language(tiers, language):
    member = factories.make_member(language=language, first_name="Ieva")
    message = Message.objects.get(member=member)
    assert message.language == language and message.body
    # the same message rendered in English, for comparison
    english_subject, english_body = render_message(
        kind="welcome", language="en", context={"member": member, "name": "Ieva"}
    )
    greeting, thanks, team = WELCOME[language]
    assert greeting in message.subject and "Ieva" in message.subject
    assert thanks in message.body and team in message.body
    assert member.member_number in message.body
    if language == "en":
        assert (message.subject, message.body) == (english_subject, english_body)
    else:
        assert message.subject != english_subject
        assert message.body != english_body
        for english in WELCOME["en"]:
            assert english not in message.subject and english not in message.body


def test_a_welcome_gift_is_credited_when_configured(tiers, settings):
    # given
    settings.LOYALTY_WELCOME_POINTS = 50
    # when
    member = factories.make_member(email="gift@example.com")
    # then
    assert Member.objects.get(pk=member.pk).points_balance == 50
    entry = member.ledger_entries.get()
    assert (entry.kind, entry.points, entry.cause) == ("gift", 50, member)
    assert "50 points" in Message.objects.get(member=member).body
