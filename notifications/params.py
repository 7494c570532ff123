"""A message's parameters as JSON: what its templates are rendered from when it is shown.

A message keeps its kind and these parameters, and is worded when read, in the reader's
language (notifications.words). Values JSON has no type for come back as they went in: a date,
a moment, a Decimal. A name staff wrote in every language (a tier, a reward, a card) is kept as
`PerLanguage`, all its languages, and becomes the reader's one when the message is rendered.
A number is kept as a number and comes back as `Count` (a whole one) or `Amount`, which show
themselves in the reader's format (loyalty.base.formats.num: "1 234" in Lithuanian) while a
template still counts with them ({% blocktranslate count %}); an id shown as a code ("no. 1234")
goes in as a string.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_decimal
from django.conf import settings
from django.utils import translation
from django.utils.dateparse import parse_datetime

from loyalty.base.formats import num

_TYPES = {"$date", "$datetime", "$decimal", "$languages"}


class PerLanguage(dict):
    """Words in each language ({"en": "Gold", "lt": "Auksinis", ...}); shown in the active one
    (the default language's if it has none)."""

    @classmethod
    def of(cls, words) -> PerLanguage:
        """Call `words(language)` for every language of the program."""
        return cls({code: words(code) for code, _name in settings.LANGUAGES})

    def __str__(self) -> str:
        language = translation.get_language() or settings.LANGUAGE_CODE
        for code in (language, language.split("-")[0], settings.LANGUAGE_CODE):
            if self.get(code):
                return self[code]
        return next((words for words in self.values() if words), "")

    def __bool__(self) -> bool:
        return bool(str(self))


class Count(int):
    """A whole number that renders in the active language's format; counts as an int."""

    def __str__(self) -> str:
        return str(num(int(self)))


class Amount:
    """A decimal amount that renders in the active language's format."""

    def __init__(self, value: Decimal):
        self.value = value

    def __str__(self) -> str:
        """With the decimals it has: 7.50 is "7,50", not "7,5"."""
        places = max(0, -int(self.value.as_tuple().exponent))
        language = translation.get_language() or settings.LANGUAGE_CODE
        return format_decimal(
            self.value,
            format="#,##0." + "0" * places if places else "#,##0",
            locale=translation.to_locale(language),
        )

    def __bool__(self) -> bool:
        return bool(self.value)


def params_encode(context: dict) -> dict:
    """JSON for the context; a value JSON cannot hold (a model instance) is a programming
    error: pass its id or the plain values the template shows."""
    return {str(key): _encode(value, key) for key, value in context.items()}


def params_decode(params: dict) -> dict:
    return {key: _decode(value) for key, value in params.items()}


def _encode(value, key):
    if isinstance(value, PerLanguage):
        return {"$languages": {code: str(words) for code, words in dict(value).items()}}
    if isinstance(value, Amount):
        return {"$decimal": str(value.value)}
    if value is None or isinstance(value, str | bool | int | float):
        return int(value) if isinstance(value, Count) else value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, list | tuple):
        return [_encode(item, key) for item in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, key) for k, v in value.items()}
    raise TypeError(f"A message parameter must be plain data; {key!r} is {type(value).__name__}.")


def _decode(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return Count(value)
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _TYPES:
        ((kind, raw),) = value.items()
        if kind == "$date":
            return date.fromisoformat(raw)
        if kind == "$datetime":
            return parse_datetime(raw)
        if kind == "$decimal":
            return Amount(Decimal(raw))
        return PerLanguage(raw)
    return {key: _decode(item) for key, item in value.items()}
