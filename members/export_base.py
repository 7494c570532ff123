"""What the parts of the member's data download share (members.export): a section, dates and
amounts as text, and someone else masked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from accounts.models import Member
from referrals.emails import mask_email


@dataclass(frozen=True)
class Section:
    """One key of the download: `rows(member)` gives its value; `models` are the labels of the
    models whose rows it holds (the test checks that every row is there)."""

    name: str
    models: tuple[str, ...]
    rows: Callable[[Member], object]


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(amount) -> str | None:
    return str(amount) if amount is not None else None


def masked_person(member: Member) -> dict:
    """Someone else as the member may see them: a first letter and a masked address."""
    first = member.user.first_name.strip()
    return {"name": f"{first[:1]}***" if first else "***", "email": mask_email(member.user.email)}
