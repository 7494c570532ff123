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


def named(instance, language: str | None = None) -> str:
    """A tier's or earning rule's name as a member reads it: `name_<language>` where staff wrote
    one, else `name` (the English name, which staff and the ledger's records use)."""
    language = (language or translation.get_language() or "en")[:2]
    if language != "en" and language in LANGUAGE_CODES:
        return getattr(instance, f"name_{language}", "") or instance.name
    return instance.name
