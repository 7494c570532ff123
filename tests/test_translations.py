"""Every message the program shows is translated, for real, into the five other languages.

The messages are extracted afresh (as `make messages` does) into a scratch copy of locale/, so
a string added to a template or to Python code without a translation fails here, as does a
fuzzy or empty translation.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ["lt", "bg", "da", "ru", "pl"]
IGNORE = [".venv", "tests", "bench", "staticfiles", "media"]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Extract into a scratch copy of the project: makemessages writes into the ./locale it
    finds, and the real files must not change while the tests run."""
    copy = tmp_path_factory.mktemp("project") / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "media", "staticfiles", "__pycache__", "*.sqlite3", "docs", ".*"
        ),
    )
    command = [sys.executable, "manage.py", "makemessages", "--no-obsolete", "--no-location"]
    command += [f"--locale={lang}" for lang in LANGUAGES]
    command += [f"--ignore={path}" for path in IGNORE]
    result = subprocess.run(command, cwd=copy, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return copy / "locale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(extracted, language):
    with open(extracted / language / "LC_MESSAGES" / "django.po", "rb") as po:
        catalog = read_po(po, locale=language)
    missing, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(translations):
            missing.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert missing == [], f"{len(missing)} untranslated in {language}: {missing[:10]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy in {language}: {fuzzy[:10]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_are_not_english_copies(language):
    with open(ROOT / "locale" / language / "LC_MESSAGES" / "django.po", "rb") as po:
        catalog = read_po(po, locale=language)
    messages = [m for m in catalog if m.id and isinstance(m.id, str) and len(m.id) > 20]
    copies = [m.id for m in messages if m.string == m.id]
    assert len(copies) <= len(messages) // 20, f"{language} copies English: {copies[:10]}"
