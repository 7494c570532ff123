"""Month names as CLDR has them, for Django's date formats ("F", "E").

Django's catalogs capitalise month names in some languages: Bulgarian "6 Декември 2026",
Russian and Polish standalone months "Декабрь 2026", "Grudzień 2026", where CLDR (and the
languages) write them in lower case mid-sentence. install() points Django's two month tables at
CLDR's names (through Babel, as our numbers are): "F" becomes the stand-alone name ("декабрь",
"grudzień", "gruodis") and "E" the name inside a date ("декабря", "grudnia", "gruodžio"), in the
active language, so every page, message, form and admin list says them the same way.
Abbreviations ("M", "N", "b") stay Django's."""

from functools import lru_cache

from babel import Locale
from django.utils import dates, translation
from django.utils.functional import lazy


@lru_cache(maxsize=64)
def _names(language: str, context: str) -> dict[int, str]:
    return Locale.parse(translation.to_locale(language)).months[context]["wide"]


def month_name(month: int, context: str = "stand-alone") -> str:
    """The month's name in the active language: "stand-alone" (a month and a year) or
    "format" (inside a date: the genitive in Lithuanian, Russian and Polish)."""
    return _names(translation.get_language() or "en", context)[month]


def install() -> None:
    """Point Django's month tables (used by its date formats) at CLDR's names. The tables are
    changed in place, since django.utils.dateformat holds them by reference."""
    lazy_name = lazy(month_name, str)
    dates.MONTHS.update({m: lazy_name(m, "stand-alone") for m in range(1, 13)})
    dates.MONTHS_ALT.update({m: lazy_name(m, "format") for m in range(1, 13)})
