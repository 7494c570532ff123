"""Shared set-up of the scheduled-job tests: tiers with anniversary bonuses, a clock, runs."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from loyalty.core import jobs
from loyalty.core.models import JobRun, Tier
from tests import factories

VILNIUS = ZoneInfo("Europe/Vilnius")


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    """A moment in the program's time zone."""
    return datetime(year, month, day, hour, tzinfo=VILNIUS)


def travel(moment: datetime | date):
    """Freeze the clock at a moment (a date means 09:00 that day in Vilnius)."""
    if not isinstance(moment, datetime):
        moment = at(moment.year, moment.month, moment.day)
    return time_machine.travel(moment, tick=False)


def run(name: str, day: date | None = None) -> JobRun:
    return jobs.job_run(name=name, day=day)


def enroll(*, joined_on: date | None = None, on: date | None = None, **kwargs):
    """A member enrolled (through the service) on the day `on` (default: joined_on)."""
    with travel(on or joined_on or date(2020, 1, 1)):
        return factories.make_member(joined_on=joined_on, **kwargs)


@pytest.fixture
def tiers(db):
    """Bronze, Silver (500) and Gold (1,500) with anniversary thank-yous: base + per year."""
    made = factories.make_tiers()
    bonuses = {"bronze": (50, 10), "silver": (100, 20), "gold": (200, 50)}
    for code, (base, per_year) in bonuses.items():
        Tier.objects.filter(code=code).update(
            anniversary_bonus_base=base, anniversary_bonus_per_year=per_year
        )
    return {code: Tier.objects.get(pk=tier.pk) for code, tier in made.items()}
