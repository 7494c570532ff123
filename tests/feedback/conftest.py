import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from feedback import services
from feedback.models import FeedbackItem
from tests import factories

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
