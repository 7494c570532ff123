"""The referrals' part of the daily expiry job (registered in apps.py)."""

from __future__ import annotations

from datetime import date

from loyalty.core.jobs import Counts
from loyalty.core.models import JobRun

from .services import referrals_expire_due


def referrals_expiry(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Referrals whose friend made no qualifying purchase in time expire (one UPDATE)."""
    expired = referrals_expire_due(today=day)
    counts = Counts(considered=expired, paid=expired)
    counts.details.update(referrals_expired=expired)
    return counts
