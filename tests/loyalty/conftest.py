"""Fixtures for the loyalty tests that buy over the partner API (not throttled)."""

import pytest

from tests.api.conftest import make_client


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.LOYALTY_API_RATE = None


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)
