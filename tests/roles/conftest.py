"""Staff in each role (the groups loyalty.core.roles makes), and a member with points."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from loyalty.core import roles
from tests import factories


def staff_in(role: str, email: str | None = None) -> User:
    user = User.objects.create_user(
        email=email or f"{role.lower()}@example.com", password="x", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def support(db):
    return staff_in(roles.SUPPORT)


@pytest.fixture
def manager(db):
    return staff_in(roles.MANAGERS)


@pytest.fixture
def marketing(db):
    return staff_in(roles.MARKETING)


@pytest.fixture
def finance(db):
    return staff_in(roles.FINANCE)


@pytest.fixture
def ona(db, tiers):
    member = factories.make_member(email="ona@example.com", first_name="Ona", language="lt")
    factories.give_points(member, 2000)
    member.refresh_from_db()
    return member
