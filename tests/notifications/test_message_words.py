"""Every message the program sends is worded in the reader's language (notifications.params,
message_words): no English word in another language's words but names, brands, codes and what
staff wrote; numbers and dates in the language's own format.

Each template folder has at least one case below (a hand-made context, as its sender builds
it); the messages the services write (the ledger words' fixture: enrolment, referrals,
feedback, gifts, campaigns, birthdays, anniversaries, closing, expiry) are checked too.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format

from loyalty.base.formats import num
from notifications.models import Message
from notifications.params import PerLanguage, params_decode, params_encode
from notifications.services import message_emails, message_send, message_words, render_message
from tests import factories
from tests.loyalty.test_ledger_words import LANGS, every_entry  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates" / "notifications"
GOLD = PerLanguage(en="Gold", lt="Auksinis", bg="Златно", da="Guld", ru="Золотой", pl="Złoty")
SILVER = PerLanguage(
    en="Silver", lt="Sidabrinis", bg="Сребърно", da="Sølv", ru="Серебряный", pl="Srebrny"
)
COFFEE = PerLanguage(
    en="Free coffee",
    lt="Nemokama kava",
    bg="Безплатно кафе",
    da="Gratis kaffe",
    ru="Бесплатный кофе",
    pl="Darmowa kawa",
)
THANKS = PerLanguage(
    en="Thank you", lt="Ačiū", bg="Благодарим", da="Tak", ru="Спасибо", pl="Dziękujemy"
)
SPRING = PerLanguage(
    en="Spring is here", lt="Pavasaris", bg="Пролет", da="Forår", ru="Весна", pl="Wiosna"
)
DAY, LATER = date(2026, 3, 5), date(2026, 9, 30)
DUE = datetime(2026, 3, 7, 15, 30, tzinfo=UTC)
URL = "https://shop.example/feedback/1234/"
STAFF_WORDS = "Kasos klaida ištaisyta"  # what staff wrote, shown as written
# Names, brands and codes, and staff's own words: shown as they are in every language.
CODES = ["BDAY-7K2Q", "SPRING-42", "LT-2Q7K", "1234"]
ALLOWED = {
    w.lower() for w in re.findall(r"[^\W\d_]+", f"Rasa Ieva Tomas Agnė Red Cross EUR {STAFF_WORDS}")
}
# English words that are also the language's own.
SAME = {
    "da": {"point", "bonus", "for", "team", "have", "pause", "situation", "link", "mail", "person"},
    "pl": {"bonus", "link"},
    "lt": set(),
    "bg": set(),
    "ru": set(),
}

CASES = [
    ("welcome", {"welcome_points": 100}),
    ("account_closed", {"points": 1250, "by_staff": True}),
    ("account_closed", {"points": 0, "by_staff": False}),
    ("anniversary", {"years": 3, "points": 80, "tier": GOLD, "anniversary": DAY}),
    ("birthday", {"gift": "points", "points": 75, "belated": False, "birthday": DAY}),
    (
        "birthday",
        {
            "gift": "voucher",
            "points": 0,
            "belated": True,
            "birthday": DAY,
            "reward": COFFEE,
            "voucher_code": "BDAY-7K2Q",
            "voucher_valid_until": LATER,
        },
    ),
    (
        "birthday",
        {
            "gift": "donation",
            "points": 0,
            "belated": False,
            "birthday": DAY,
            "donation_amount": Decimal("1250.50"),
            "donation_currency": "EUR",
            "donation_cause": "Red Cross",
        },
    ),
    (
        "campaign",
        {
            "subject": SPRING,
            "card": SPRING,
            "points": 1500,
            "reward": COFFEE,
            "voucher": "SPRING-42",
        },
    ),
    (
        "feedback_answered",
        {
            "item": {"pk": "1234"},
            "answer": {
                "handler_name": "Agnė",
                "what_was_done": STAFF_WORDS,
                "what_changes": STAFF_WORDS,
            },
            "url": URL,
        },
    ),
    (
        "feedback_received",
        {"item": {"pk": "1234", "kind": "complaint", "first_answer_due": DUE}, "url": URL},
    ),
    ("feedback_received", {"item": {"pk": "1234", "kind": "praise", "first_answer_due": DUE}}),
    ("feedback_thanks", {"item": {"pk": "1234"}, "points": 30, "url": URL}),
    (
        "gift",
        {"title": THANKS, "card": THANKS, "note": STAFF_WORDS, "points": 1250, "reward": ""},
    ),
    (
        "gift",
        {
            "title": THANKS,
            "card": THANKS,
            "note": "",
            "points": 0,
            "reward": COFFEE,
            "voucher_code": "BDAY-7K2Q",
            "voucher_valid_until": LATER,
        },
    ),
    ("pause_ended", {}),
    ("pause_ending", {"ends_on": LATER}),
    ("pause_extended", {"ends_on": LATER, "months": 5}),
    ("pause_refused", {}),
    ("pause_requested", {"months": 3}),
    ("pause_started", {"ends_on": LATER, "months": 3}),
    ("points_expiring", {"points": 1250, "expires_on": DAY}),
    ("points_expiring", {"points": 1, "expires_on": DAY}),
    ("referral_qualified_friend", {"referrer_name": "Ieva", "points": 100}),
    ("referral_qualified_referrer", {"friend_name": "Tomas", "points": 200}),
    ("referral_vouch_thanks", {"friend_name": "Tomas"}),
    ("survey", {"url": URL}),
    (
        "tier_changed",
        {
            "old_tier": GOLD,
            "new_tier": SILVER,
            "qualifying": 1200,
            "old_threshold": 2000,
            "points_needed": 800,
            "new_grace_until": LATER,
            "new_points_needed": 300,
        },
    ),
    (
        "tier_grace",
        {
            "tier": GOLD,
            "lower_tier": SILVER,
            "qualifying": 1200,
            "threshold": 2000,
            "points_needed": 800,
            "until": LATER,
        },
    ),
]
# Not a message to a member: the invitation e-mail a member's friend gets (referrals).
INVITATION = {
    "referrer_name": "Ieva",
    "join_url": "https://shop.example/join/LT-2Q7K",
    "code": "LT-2Q7K",
    "vouched": True,
    "days": 30,
    "bonus": 1500,
    "min_purchase": Decimal("20.50"),
    "currency": "EUR",
}


def _values(value):
    """The numbers and dates a context holds."""
    if isinstance(value, dict) and not isinstance(value, PerLanguage):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, int | Decimal | date) and not isinstance(value, bool):
        yield value


def _formatted(value, language: str) -> str:
    with translation.override(language):
        if isinstance(value, datetime):
            return date_format(timezone.localtime(value), "DATETIME_FORMAT")
        if isinstance(value, date):
            return date_format(value, "DATE_FORMAT")
        if isinstance(value, Decimal):  # an amount, with its decimals ("1 250,50")
            return format_decimal(value, format="#,##0.00", locale=translation.to_locale(language))
        return str(num(value))


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]{3,}", re.sub(r"https?://\S+", " ", text))}


def _whole(value: str) -> re.Pattern:
    """The value, not a part of a longer number."""
    return re.compile(rf"(?<!\d){re.escape(value)}(?!\d)")


def _problems(english: str, text: str, language: str, context: dict, codes=()) -> list[str]:
    """What is not in `language`: an English word, a number or date in another format."""
    problems = []
    rest = re.sub(r"https?://\S+", " ", text)
    shown = {_formatted(v, "en"): _formatted(v, language) for v in _values(context)}
    english_rest = english
    for en in sorted(shown, key=len, reverse=True):  # a date before the day in it
        theirs = shown[en]
        if _whole(en).search(english_rest) and not _whole(theirs).search(rest):
            problems.append(f"{theirs!r} missing (the {language} format)")
        english_rest = _whole(en).sub(" ", english_rest)
        rest = _whole(theirs).sub(" ", rest)  # (a language may say "1 year" for "a year")
    for code in (*CODES, *codes):
        rest = re.sub(rf"\b{re.escape(code)}\b", " ", rest, flags=re.IGNORECASE)
    if re.search(r"\d", rest):
        problems.append(f"a number not in the {language} format: {rest!r}")
    if language != "en":
        english_words = _words(english) - ALLOWED - SAME[language]
        found = _words(rest) & english_words
        if found:
            problems.append(f"English {sorted(found)}")
        for name in (GOLD, SILVER, COFFEE, THANKS, SPRING):
            if re.search(rf"\b{name['en']}\b", text):
                problems.append(f"{name['en']!r}: a name in English")
    return problems


@pytest.fixture
def rasa(db, tiers):
    return factories.make_member(email="rasa@example.com", first_name="Rasa")


def test_every_template_folder_has_a_case():
    assert {kind for kind, _c in CASES} | {"referral_invitation"} == {
        folder.name for folder in TEMPLATES.iterdir() if folder.is_dir()
    }


@pytest.mark.parametrize("language", LANGS)
def test_every_message_is_worded_in_the_readers_language(rasa, language):
    problems = []
    for i, (kind, context) in enumerate(CASES):
        message = message_send(rasa, kind, context, dedupe_key=str(i), email=False)
        english = " ".join(message_words(message, language="en"))
        subject, body = message_words(message, language=language)
        if not subject.strip() or not body.strip():
            problems.append(f"{kind}: no words")
        codes = [rasa.member_number]
        for problem in _problems(english, f"{subject}\n{body}", language, context, codes):
            problems.append(f"{kind} #{i} in {language}: {problem}")
    context = params_decode(params_encode(INVITATION))
    english = " ".join(render_message(kind="referral_invitation", language="en", context=context))
    text = "\n".join(render_message(kind="referral_invitation", language=language, context=context))
    for problem in _problems(english, text, language, INVITATION):
        problems.append(f"referral_invitation in {language}: {problem}")
    assert problems == []


def test_the_english_words_hold_the_values(rasa):
    message = message_send(rasa, "tier_grace", dict(CASES[-1][1]), dedupe_key="g", email=False)
    subject, body = message_words(message, language="en")
    assert subject == "You keep Gold: here is what keeps it"
    assert "you collected 1,200 qualifying points; Gold asks for 2,000." in body
    assert "If not, you will move to Silver, one tier down" in body
    assert f"at least until {_formatted(LATER, 'en')}." in body


def test_a_message_is_read_in_the_language_the_member_has_now(rasa):
    # given a message sent in English
    message = message_send(rasa, "points_expiring", {"points": 1250, "expires_on": DAY})
    sent_subject = message.subject
    # when the member switches to Lithuanian
    rasa.language = "lt"
    rasa.save(update_fields=["language"])
    message.refresh_from_db()
    # then their inbox and their e-mail speak Lithuanian; the record of what was sent stays
    lithuanian = message_words(message, language="lt")
    assert lithuanian[0] != sent_subject and _formatted(1250, "lt") in lithuanian[0]
    (email,) = message_emails(message.pk)
    assert (email.subject, email.body) == lithuanian
    assert message.subject == sent_subject == "1,250 points expire on " + _formatted(DAY, "en")


def test_staff_read_a_message_in_their_own_language(rasa, admin_client):
    message = message_send(rasa, "tier_grace", dict(CASES[-1][1]), dedupe_key="s", email=False)
    with translation.override("da"):
        expected = message_words(message, language="da")[0]
    response = admin_client.get(
        f"/admin/notifications/message/{message.pk}/change/", HTTP_ACCEPT_LANGUAGE="da"
    )
    assert response.status_code == 200
    assert "Guld" in expected
    assert expected in response.content.decode()


def test_a_message_from_before_parameters_were_kept_shows_as_stored(rasa):
    old = Message.objects.create(
        member=rasa, kind="welcome", language="en", subject="Welcome", body="Hello"
    )
    assert old.params is None
    assert message_words(old, language="lt") == ("Welcome", "Hello")


def test_a_model_instance_is_no_parameter(rasa):
    with pytest.raises(TypeError):
        message_send(rasa, "survey", {"member": rasa})
    assert not Message.objects.filter(kind="survey").exists()


@pytest.mark.parametrize("language", LANGS)
def test_the_messages_the_services_write_are_in_the_readers_language(every_entry, language):  # noqa: F811
    problems = []
    messages = Message.objects.select_related("member__user")
    assert {m.kind for m in messages} >= {
        "welcome",
        "anniversary",
        "birthday",
        "campaign",
        "gift",
        "feedback_received",
        "feedback_thanks",
        "account_closed",
    }
    for message in messages:
        assert message.params is not None
        english = " ".join(message_words(message, language="en"))
        text = "\n".join(message_words(message, language=language))
        context = params_decode(message.params)
        user = message.member.user  # a name, or for one without, the e-mail's
        codes = [user.first_name or user.email.split("@")[0], message.member.member_number]
        codes += re.findall(r"[A-Z0-9]+-[A-Z0-9-]+", english)
        codes += (
            re.findall(r"\d+", context.get("item", {}).get("pk", "")) if "item" in context else []
        )
        for problem in _problems(english, text, language, context, codes):
            problems.append(f"{message.kind} in {language}: {problem}")
    assert problems == []
