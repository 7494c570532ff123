"""Small rules of the languages we write in, applied to text we put together.

- one_period: dates in Lithuanian, Bulgarian and Russian end in an abbreviation with its own
  full stop ("2026 m. gruodžio 6 d.", "6 декабря 2026 г."). Where a translated sentence ends
  with such a date, the sentence's own full stop follows it ("... iki 2026 m. gruodžio 6 d..");
  as in print, the abbreviation's stop ends the sentence. Applied to every message we render
  and to the member pages' sentences that end with a date.
- vocative: Lithuanian addresses a person in the vocative ("Sveiki, Jonai", not "Jonas");
  greetings by name use address_form(), which leaves other languages' names as they are.
"""

import re

from django.utils import translation
from django.utils.safestring import SafeData, mark_safe

# A full stop right after a word's abbreviation stop ("d..", "г..", "p.m.."), not an ellipsis.
_DOUBLE_STOP = re.compile(r"(?<=\w\.)\.(?!\.)")


def one_period(text):
    """ "… 6 d.." → "… 6 d."; an ellipsis ("...") stays. Keeps a SafeString safe (the regex
    removes a character that is not markup)."""
    if not text:
        return text
    result = _DOUBLE_STOP.sub("", str(text))
    return mark_safe(result) if isinstance(text, SafeData) else result


# Lithuanian first names by ending, longest first (the vocative of feminine -a, Ona, Rūta, is
# the name itself; a name with none of these endings stays as written).
_LITHUANIAN_VOCATIVE = (
    ("ias", "iau"),  # Kornelias → Korneliau
    ("ius", "iau"),  # Andrius → Andriau, Paulius → Pauliau
    ("as", "ai"),  # Jonas → Jonai, Vytautas → Vytautai
    ("is", "i"),  # Jurgis → Jurgi, Kęstutis → Kęstuti
    ("ys", "y"),  # Kazys → Kazy
    ("us", "au"),  # Mikalojus → Mikalojau
    ("ė", "e"),  # Eglė → Egle, Gintarė → Gintare
)


def lithuanian_vocative(name: str) -> str:
    """The vocative of a Lithuanian first name: "Jonas" → "Jonai", "Andrius" → "Andriau",
    "Kęstutis" → "Kęstuti", "Kazys" → "Kazy", "Eglė" → "Egle", "Ona" → "Ona". Each word of a
    double name changes ("Jonas Petras" → "Jonai Petrai"); a word that is not all letters (an
    e-mail's local part, when there is no name) stays as written."""
    return " ".join(_word_vocative(word) for word in name.split(" "))


def _word_vocative(word: str) -> str:
    if len(word) < 3 or not word.isalpha():
        return word
    lower = word.lower()
    for ending, vocative in _LITHUANIAN_VOCATIVE:
        if lower.endswith(ending):
            return word[: -len(ending)] + (vocative.upper() if word.isupper() else vocative)
    return word


def address_form(name: str, language: str | None = None) -> str:
    """A first name as a greeting addresses the person, in `language` (the active language if
    none): the vocative in Lithuanian, the name as written elsewhere."""
    language = (language or translation.get_language() or "").split("-")[0]
    if language == "lt" and name:
        return lithuanian_vocative(name)
    return name
