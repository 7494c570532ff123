"""Staff-written texts kept in each of the program's languages, one field per language."""

from django.conf import settings
from django.utils import translation

LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)


def in_language(instance, field: str, language: str | None = None) -> str:
    """`instance.<field>_<language>` for the active (or given) language, falling back to the
    English text when that language's is empty or the language is not one of ours."""
    language = (language or translation.get_language() or "en")[:2]
    if language not in LANGUAGE_CODES:
        language = "en"
    return getattr(instance, f"{field}_{language}") or getattr(instance, f"{field}_en")
