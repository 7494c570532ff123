"""Numbers and money in the reader's language (CLDR rules, via Babel): the template filters of
every app's pages (members_tags) and the forms that put a number into a label; and the short
date-time of the staff lists."""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal
from django.utils import timezone, translation
from django.utils.formats import date_format


def _locale() -> Locale:
    return _babel_locale(translation.get_language() or "en")


@lru_cache(maxsize=32)
def _babel_locale(language: str) -> Locale:
    return Locale.parse(translation.to_locale(language))


def _decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def num(value):
    """1234 → "1,234" in English, "1 234" in Lithuanian; "12.5" → "12,5" in Danish."""
    number = _decimal(value)
    if number is None:
        return value
    return format_decimal(number, locale=_locale())


def signed(value, decimals=None):
    """Like num, with a sign: "+120", "−40"; `signed:2` keeps at most two decimals."""
    number = _decimal(value)
    if number is None:
        return value
    pattern = "#,##0." + "#" * int(decimals) if decimals else None
    text = format_decimal(abs(number), format=pattern, locale=_locale())
    if not number or text.strip("0") == "":
        return text
    return f"+{text}" if number > 0 else f"−{text}"


def money(value, currency):
    """An amount with its ISO 4217 currency: "€23.40", "23,40 €"."""
    amount = _decimal(value)
    if amount is None or not currency:
        return value
    # (-0 equals 0, and would share its cached words; Babel writes it "-€0.00")
    return _money(amount, amount.is_signed(), str(currency), translation.get_language() or "en")


@lru_cache(maxsize=4096)
def _money(amount: Decimal, signed: bool, currency: str, language: str) -> str:
    """Babel takes about 40 µs an amount, and a ledger page or the history shows dozens, most
    of the same few prices. (Equal amounts write alike: 12.5 and 12.50 both with the currency's
    own decimals.)"""
    return format_currency(amount, currency, locale=_babel_locale(language))


def minutes(value) -> int:
    """A timedelta in whole minutes, rounded up: what a person waits."""
    try:
        seconds = value.total_seconds()
    except AttributeError:
        return value
    return max(1, -(-int(seconds) // 60))


def short_datetime(moment) -> str:
    """A moment for a staff list: in the program's time zone (TIME_ZONE), in the active
    language's SHORT_DATETIME_FORMAT: "8 Dec 2026, 17:53", "2026-12-08 17:53"; "-" for none."""
    if moment is None:
        return "-"
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
