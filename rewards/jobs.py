"""The rewards' part of the daily expiry job (registered in apps.py, with the occasions' jobs)."""

from __future__ import annotations

from datetime import date

from loyalty.core.jobs import Counts
from loyalty.core.models import JobRun

from .services import vouchers_expire_due


def vouchers_expiry(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Vouchers past their validity expire (each in its own transaction)."""
    expired = vouchers_expire_due(today=day)
    counts = Counts(considered=expired, paid=expired)
    counts.details.update(vouchers_expired=expired)
    return counts
