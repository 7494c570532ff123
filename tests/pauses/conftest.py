"""Shared set-up of the hardship pause tests: a Lithuanian member with points and a voucher."""

from datetime import date

import pytest

from accounts.models import Member, User
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry, PointLot
from loyalty.core.pause_models import PausePolicy
from tests.jobs.conftest import enroll
from tests.members.conftest import member_client, web_member  # noqa: F401 (fixtures)


def lot(member, points: int, expires_on: date) -> PointLot:
    entry = points_credit(
        member=member,
        points=points,
        kind=LedgerEntry.Kind.GIFT,
        cause=member,
        expires_on=expires_on,
    )
    return PointLot.objects.get(entry=entry)


def fresh(member) -> Member:
    return Member.objects.select_related("user").get(pk=member.pk)


@pytest.fixture
def ona(db, tiers):
    """A Lithuanian member who joined in 2024."""
    return enroll(
        joined_on=date(2024, 1, 1), email="ona@example.com", first_name="Ona", language="lt"
    )


@pytest.fixture
def staff(db):
    return User.objects.create_user(email="care@example.com", password="x", is_staff=True)


@pytest.fixture
def waiting_policy(db):
    """Requests wait for staff."""
    PausePolicy.objects.filter(pk=1).update(grant_automatically=False)
