"""The feedback book's scheduled jobs (registered in apps.py): escalation of severe and overdue
items every 15 minutes, and the daily survey round."""

from __future__ import annotations

from datetime import date, timedelta

from loyalty.core.jobs import Counts
from loyalty.core.models import JobRun

from .services import feedback_escalate_due
from .surveys import surveys_invite_due


def escalation(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Escalate the open items that are severe or overdue and were not escalated yet, once
    each; the managers hear after commit."""
    escalated = feedback_escalate_due()
    total = sum(escalated.values())
    counts = Counts(considered=total, paid=total)
    counts.details.update(escalated)
    return counts


def survey_round(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Ask the members who bought something or got an answer to a complaint the day before
    `day` the survey's two questions (once a quarter each)."""
    asked = surveys_invite_due(day=day - timedelta(days=1))
    counts = Counts(considered=asked, paid=asked)
    counts.details.update(surveys_invited=asked)
    return counts
