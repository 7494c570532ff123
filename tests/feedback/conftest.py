from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from feedback import services
from feedback.models import FeedbackItem
from loyalty.core.purchases import purchase_record
from tests import factories
from tests.feedback.page_helpers import _answer

PASSWORD = "a-long-Secret-42"


@pytest.fixture
def member(db, tiers):
    """A member who reads English and can log in with PASSWORD."""
    return factories.make_member(
        email="ona@example.com",
        first_name="Ona",
        last_name="Petraitė",
        language="en",
        password=PASSWORD,
    )


@pytest.fixture
def other_member(db, tiers):
    return factories.make_member(email="jonas@example.com", first_name="Jonas", language="lt")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        email="agent@example.com", password=PASSWORD, first_name="Rasa", is_staff=True
    )


@pytest.fixture
def manager(db):
    user = get_user_model().objects.create_user(
        email="boss@example.com", password=PASSWORD, first_name="Darius", is_staff=True
    )
    user.groups.add(Group.objects.get_or_create(name="Managers")[0])
    return user


@pytest.fixture
def file_item(member):
    """File an item through the service (a complaint about service by default)."""

    def make(**kwargs) -> FeedbackItem:
        kwargs.setdefault("member", member)
        kwargs.setdefault("kind", FeedbackItem.Kind.COMPLAINT)
        kwargs.setdefault("category", FeedbackItem.Category.SERVICE)
        kwargs.setdefault("text", "The cashier was rude to me today.")
        return services.feedback_file(**kwargs)

    return make


@pytest.fixture
def chief(db):
    """A superuser: sees and does everything in the admin."""
    return get_user_model().objects.create_superuser(
        email="chief@example.com", password=PASSWORD, first_name="Eglė"
    )


@pytest.fixture
def web(chief):
    client = Client()
    client.force_login(chief)
    return client


@pytest.fixture
def member_client(client, member):
    client.force_login(member.user)
    return client


@pytest.fixture
def buy(partner):
    def make(member, external_id, *, amount="25.00", days_ago=1):
        return purchase_record(
            partner=partner,
            member=member,
            external_id=external_id,
            amount=Decimal(amount),
            currency="EUR",
            occurred_at=timezone.now() - timedelta(days=days_ago),
        ).purchase

    return make


@pytest.fixture
def publish(file_item, staff):
    def make(item=None, *, language="en", problem="Long queues.", what_changed="A second till."):
        item = item or file_item(publish_consent=True)
        if item.first_answered_at is None:
            _answer(item, staff)
        return services.case_publish(
            item=item,
            staff_user=staff,
            language=language,
            problem=problem,
            what_changed=what_changed,
        )

    return make
