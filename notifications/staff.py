"""E-mail to staff (escalations, alerts): who is told, and one e-mail per language they read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation

from accounts.models import User


def staff_to_tell(group: str) -> list[User]:
    """The active staff of `group`, or else the active superusers, each with an e-mail address."""
    users = User.objects.filter(is_active=True).exclude(email="").order_by("email")
    in_group = list(users.filter(groups__name=group, is_staff=True))
    return in_group or list(users.filter(is_superuser=True))


def staff_emails(group: str, render: Callable[[], tuple[str, str]]) -> list[EmailMessage]:
    """One e-mail per language the staff to tell read (the site's for those who set none), to
    all who read it: `render()` gives its subject and body, called in that language."""
    by_language: dict[str, set[str]] = {}
    for user in staff_to_tell(group):
        by_language.setdefault(user.language or settings.LANGUAGE_CODE, set()).add(user.email)
    emails = []
    for language, addresses in sorted(by_language.items()):
        with translation.override(language):
            subject, body = render()
        emails.append(EmailMessage(" ".join(subject.split()), body, to=sorted(addresses)))
    return emails
