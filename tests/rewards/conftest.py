"""Fixtures for the rewards tests: uploads in a temporary folder, a reward and its redemptions."""

import pytest
from django.core.files.base import ContentFile

from rewards import services
from tests import factories
from tests.factories import give_points, make_reward
from tests.rewards.admin_helpers import png_bytes


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def coffee(db):
    return make_reward(
        slug="free-coffee",
        name_en="Free coffee",
        points_cost=100,
        stock=5,
        image=ContentFile(png_bytes(), name="free-coffee.png"),
    )


@pytest.fixture
def redemption(member, coffee):
    give_points(member, 300)
    return services.reward_redeem(member=member, reward=coffee)


@pytest.fixture
def two_redemptions(redemption, coffee):
    other = factories.make_member(email="jonas@example.com")
    give_points(other, 100)
    return redemption, services.reward_redeem(member=other, reward=coffee)
