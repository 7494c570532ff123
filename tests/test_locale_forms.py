"""Dates, numbers, month names, greetings and Django's own messages in each language's forms.

The expected strings are CLDR's (Unicode CLDR, as Babel ships it: the long date, the short time
with "{1}, {0}" or "{1} {0}" between them, the yMMMM and MMMMd skeletons, the decimal pattern),
written out here so a change of Django's catalogues or of our format modules shows."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import password_validation
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from loyalty.base.formats import short_datetime
from loyalty.base.wording import address_form, lithuanian_vocative, one_period
from members.forms import MemberSetPasswordForm
from notifications.services import message_send, render_message
from tests import factories

DAY = date(2026, 12, 6)
MOMENT = datetime(2026, 12, 6, 17, 54)
NNBSP, NBSP = "\u202f", "\xa0"

# language: date, date-time, short date, short date-time, month and year, day and month,
# 1500, 1234.5 (CLDR: en_150 for English in Europe).
CLDR = {
    "en": (
        "6 December 2026",
        "6 December 2026, 17:54",
        "6 Dec 2026",
        "6 Dec 2026, 17:54",
        "December 2026",
        "6 December",
        "1,500",
        "1,234.5",
    ),
    "lt": (
        "2026 m. gruodžio 6 d.",
        "2026 m. gruodžio 6 d. 17:54",
        "2026-12-06",
        "2026-12-06 17:54",
        "2026 m. gruodis",
        "gruodžio 6 d.",
        f"1{NBSP}500",
        f"1{NBSP}234,5",
    ),
    "bg": (
        f"6 декември 2026{NNBSP}г.",
        f"6 декември 2026{NNBSP}г., 17:54",
        f"6.12.2026{NNBSP}г.",
        f"6.12.2026{NNBSP}г., 17:54",
        f"декември 2026{NNBSP}г.",
        "6 декември",
        f"1{NBSP}500",
        f"1{NBSP}234,5",
    ),
    "da": (
        "6. december 2026",
        "6. december 2026 17.54",
        "06.12.2026",
        "06.12.2026 17.54",
        "december 2026",
        "6. december",
        "1.500",
        "1.234,5",
    ),
    "ru": (
        f"6 декабря 2026{NNBSP}г.",
        f"6 декабря 2026{NNBSP}г., 17:54",
        "06.12.2026",
        "06.12.2026, 17:54",
        f"декабрь 2026{NNBSP}г.",
        "6 декабря",
        f"1{NBSP}500",
        f"1{NBSP}234,5",
    ),
    "pl": (
        "6 grudnia 2026",
        "6 grudnia 2026 17:54",
        "6.12.2026",
        "6.12.2026, 17:54",
        "grudzień 2026",
        "6 grudnia",
        f"1{NBSP}500",
        f"1{NBSP}234,5",
    ),
}


@pytest.mark.parametrize("language", CLDR)
def test_dates_months_and_numbers_read_as_cldr_has_them(language):
    # given
    day, moment, short_day, short_moment, month, month_day, whole, decimal = CLDR[language]
    template = Template(
        '{% load members_tags %}{{ d|date:"DATE_FORMAT" }}|{{ m|date:"DATETIME_FORMAT" }}|'
        '{{ d|date:"SHORT_DATE_FORMAT" }}|{{ m|date:"SHORT_DATETIME_FORMAT" }}|'
        '{{ d|date:"YEAR_MONTH_FORMAT" }}|{{ d|date:"MONTH_DAY_FORMAT" }}|'
        "{{ 1500|num }}|{{ n|num }}"
    )

    # when
    with translation.override(language):
        shown = template.render(Context({"d": DAY, "m": MOMENT, "n": Decimal("1234.5")}))
        in_python = (date_format(DAY, "DATE_FORMAT"), date_format(MOMENT, "TIME_FORMAT"))

    # then
    assert shown.split("|") == [
        day,
        moment,
        short_day,
        short_moment,
        month,
        month_day,
        whole,
        decimal,
    ]
    assert in_python == (day, moment.rsplit(" ", 1)[-1])
    assert not moment.endswith(".")  # 24-hour clocks, no "p.m." to end a sentence with


@pytest.mark.parametrize("language", CLDR)
def test_a_staff_lists_moment_is_the_short_date_time_in_the_programs_time_zone(language, settings):
    # given: 15:54 UTC is 17:54 in Vilnius in December
    settings.TIME_ZONE = "Europe/Vilnius"
    moment = datetime(2026, 12, 6, 15, 54, tzinfo=UTC)

    # when / then
    with translation.override(language):
        assert short_datetime(moment) == CLDR[language][3]


def test_month_names_are_lower_case_mid_sentence_where_the_language_writes_them_so():
    # given: Django's catalogues have "Декември" (bg), "Январь" (ru), "Grudzień" (pl)
    months = {"bg": "януари", "ru": "январь", "pl": "styczeń", "lt": "sausis", "da": "januar"}

    for language, january in months.items():
        with translation.override(language):
            # when
            label = date_format(date(2026, 1, 1), "YEAR_MONTH_FORMAT")

            # then
            assert label.startswith(january) or label.endswith(january), label

    with translation.override("en"):
        assert date_format(date(2026, 1, 1), "YEAR_MONTH_FORMAT") == "January 2026"


@pytest.mark.parametrize(
    ("name", "vocative"),
    [
        ("Jonas", "Jonai"),
        ("Tomas", "Tomai"),
        ("Andrius", "Andriau"),
        ("Kęstutis", "Kęstuti"),
        ("Jurgis", "Jurgi"),
        ("Marius", "Mariau"),
        ("Vytautas", "Vytautai"),
        ("Ona", "Ona"),
        ("Rūta", "Rūta"),
        ("Eglė", "Egle"),
        ("Gintarė", "Gintare"),
        ("Mykolas", "Mykolai"),
        ("Paulius", "Pauliau"),
        ("Matas", "Matai"),
        ("Dainius", "Dainiau"),
        ("Ignas", "Ignai"),
        ("Kazys", "Kazy"),
        ("Jonas Petras", "Jonai Petrai"),
        ("jonas.p", "jonas.p"),  # an e-mail's local part, when there is no first name
    ],
)
def test_the_lithuanian_vocative_of_first_names(name, vocative):
    assert lithuanian_vocative(name) == vocative
    assert address_form(name, "lt") == vocative
    for language in ("en", "bg", "da", "ru", "pl"):
        assert address_form(name, language) == name


def test_one_full_stop_after_a_date_that_ends_a_sentence():
    assert one_period("iki 2026 m. gruodžio 6 d..") == "iki 2026 m. gruodžio 6 d."
    assert one_period(f"до 6 декабря 2026{NNBSP}г.. Ещё") == f"до 6 декабря 2026{NNBSP}г. Ещё"
    assert one_period("by 5:54 p.m..") == "by 5:54 p.m."
    assert one_period("Wait... and see.") == "Wait... and see."


@pytest.mark.parametrize("language", ["lt", "bg", "ru"])
@pytest.mark.parametrize(
    "kind",
    ["gift", "birthday", "points_expiring", "tier_grace", "pause_ending", "pause_extended"],
)
def test_messages_have_no_double_full_stop_after_a_date(language, kind):
    # given: every date the messages name, on one day
    context = {
        "name": "Jonai",
        "gift": "voucher",
        "points": 0 if kind == "gift" else 120,  # (a gift of points names no date)
        "points_needed": 30,
        "ends_on": DAY,
        "expires_on": DAY,
        "until": DAY,
        "voucher_valid_until": DAY,
        "voucher_code": "ABCD-1234",
        "reward": "Coffee",
        "tier": "Gold",
        "lower_tier": "Silver",
    }

    # when
    subject, body = render_message(kind=kind, language=language, context=context)

    # then
    with translation.override(language):
        day = date_format(DAY, "DATE_FORMAT")
    assert day in subject + body
    assert not re.search(r"\w\.\.(?!\.)", subject + body), body


def test_a_lithuanian_message_ends_a_sentence_with_the_dates_own_full_stop():
    # when
    _subject, body = render_message(
        kind="gift",
        language="lt",
        context={
            "name": "Jonai",
            "voucher_code": "ABCD-1234",
            "voucher_valid_until": DAY,
            "reward": "Kava",
        },
    )

    # then
    assert "Jis galioja iki 2026 m. gruodžio 6 d.\n" in body + "\n"


def test_messages_greet_a_lithuanian_member_in_the_vocative(db, tiers):
    # given
    jonas = factories.make_member(email="jonas@example.com", first_name="Jonas", language="lt")
    ieva = factories.make_member(email="ieva@example.com", first_name="Ieva", language="en")

    # when
    to_jonas = message_send(jonas, "welcome", dedupe_key="w")
    to_ieva = message_send(ieva, "welcome", dedupe_key="w")

    # then
    assert to_jonas.body.startswith("Sveiki, Jonai,")
    assert "Jonas" not in to_jonas.subject + to_jonas.body
    assert to_ieva.body.startswith("Hello Ieva,")


def test_the_dashboard_greets_a_lithuanian_member_in_the_vocative(client, db, tiers):
    # given
    andrius = factories.make_member(
        email="andrius@example.com", first_name="Andrius", language="lt", password="x-Long-42!"
    )
    client.force_login(andrius.user)

    # when
    page = client.get(reverse("members:dashboard")).content.decode()

    # then
    assert "Sveiki, Andriau" in page


# Django's password rules and form errors, said through our catalogue (accounts/passwords.py).
# Lithuanian and Bulgarian pass once the lead has translated the strings `make messages` takes
# from accounts/passwords.py and members/forms.py (Django's own catalogues lack them).
ENGLISH_RULES = [
    "Your password can’t be too similar to your other personal information.",
    "Your password must contain at least 8 characters.",
    "Your password can’t be a commonly used password.",
    "Your password can’t be entirely numeric.",
]


def test_the_password_rules_are_ours_and_read_plainly_in_english():
    with translation.override("en"):
        assert password_validation.password_validators_help_texts() == ENGLISH_RULES
        with pytest.raises(Exception) as refused:
            password_validation.validate_password("1234")
    assert refused.value.messages == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]


@pytest.mark.parametrize(
    "language",
    ["lt", "bg", "da", "ru", "pl"],
)
def test_the_password_rules_and_errors_speak_every_language(language, db):
    # given
    user = factories.make_member(email="x@example.com", language=language).user

    with translation.override(language):
        # when
        rules = password_validation.password_validators_help_texts()
        try:
            password_validation.validate_password("1234")
        except Exception as refused:
            errors = refused.messages
        form = MemberSetPasswordForm(
            user, {"new_password1": "a-Long-one-42", "new_password2": "another-42"}
        )
        form.is_valid()

    # then: none left in English
    assert not set(rules) & set(ENGLISH_RULES), rules
    assert "This password is too short" not in " ".join(errors)
    assert "This password is too common." not in errors
    assert form.errors["new_password2"] != ["The two passwords are not the same."]


@pytest.mark.parametrize("language", CLDR)
def test_money_reads_as_babel_writes_it_in_each_language_however_often_asked(language):
    from babel.numbers import format_currency

    from loyalty.base.formats import money

    locale = translation.to_locale(language)
    with translation.override(language):
        for _ in range(2):  # (the second time from the cache)
            for amount, currency in [
                ("12.5", "EUR"),
                ("12.50", "EUR"),
                ("1234", "DKK"),
                ("7.5", "JPY"),
                ("0.99", "PLN"),
                ("0", "EUR"),
                ("-0", "EUR"),
            ]:
                assert money(amount, currency) == format_currency(
                    Decimal(amount), currency, locale=locale
                )
