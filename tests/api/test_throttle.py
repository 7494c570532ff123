"""The per-key rate: a sliding window of two counters in the cache (Redis in CI, the local
memory cache without it), exact under concurrent requests, a few bytes whatever the traffic."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import caches

from accounts.services import api_key_create
from loyalty.base.api.throttling import ApiKeyRateThrottle, lease_size, leases_forget, parse_rate
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def key(db):
    key, _ = api_key_create(partner=factories.make_partner("Rate Shop"), name="rate")
    # (a key id another run of the suite may have counted under, in a Redis that outlives it)
    window = int(START.timestamp()) // 60
    caches["default"].delete_many([f"throttle:api_key:{key.pk}:{window + n}" for n in range(-1, 4)])
    leases_forget()
    yield key
    leases_forget()


def _stored(key, seconds: int) -> int | None:
    window = (int(START.timestamp()) + seconds) // 60
    return caches["default"].get(f"throttle:api_key:{key.pk}:{window}")


def _allowed(key, count: int) -> int:
    return sum(ApiKeyRateThrottle().allow_key(key) for _ in range(count))


def test_rates_are_read_as_a_number_and_a_period():
    assert parse_rate("6000/minute") == (6000, 60)
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("5/hour") == (5, 3600)
    assert parse_rate("") is None and parse_rate(None) is None


def test_the_previous_window_weighs_in_as_it_slides_out(key, settings):
    settings.LOYALTY_API_RATE = "10/minute"
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        assert _allowed(key, 12) == 10
    # a second later, a new window: the last one's count still covers (almost) all the minute
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        throttle = ApiKeyRateThrottle()
        assert throttle.allow_key(key) is False
        assert throttle.wait() == 60
    # half-way through, half of the last window's count is left: room for a few more
    with time_machine.travel(START + timedelta(seconds=90), tick=False):
        assert 0 < _allowed(key, 10) < 10
    # two windows on, nothing of it is left
    with time_machine.travel(START + timedelta(seconds=180), tick=False):
        assert _allowed(key, 12) == 10


@pytest.mark.parametrize(
    "rate, each, limit",
    [
        ("10/minute", 5, 10),  # a slot a request: 40 requests at once
        ("4000/minute", 520, 4000),  # leases of 16 slots: 4,160 requests at once
    ],
)
def test_concurrent_requests_are_each_counted(key, settings, rate, each, limit):
    # given: 8 threads sending at once
    settings.LOYALTY_API_RATE = rate
    allowed = []
    barrier = threading.Barrier(8)

    def till():
        barrier.wait()
        allowed.append(_allowed(key, each))

    with time_machine.travel(START + timedelta(seconds=5), tick=False):
        threads = [threading.Thread(target=till) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # then: exactly the rate, not one more (a read-then-write count lets more through), and not
    # one fewer (each leased slot numbers one request)
    assert sum(allowed) == limit


def test_the_count_stays_a_number_whatever_the_traffic(key, settings):
    settings.LOYALTY_API_RATE = "100000/minute"
    with time_machine.travel(START + timedelta(seconds=1), tick=False):
        assert _allowed(key, 500) == 500
    # (leases of 16 slots: 32 round trips numbered 512 slots, the last 12 kept for what comes)
    assert _stored(key, 1) == 512


def test_low_rates_count_every_request_in_the_cache(key, settings):
    settings.LOYALTY_API_RATE = "399/minute"
    assert lease_size(399) == 1
    with time_machine.travel(START + timedelta(seconds=1), tick=False):
        assert _allowed(key, 3) == 3
    assert _stored(key, 1) == 3


def test_a_high_rate_asks_the_cache_once_in_sixteen_requests(key, settings):
    # given: the default rate, 6,000 a minute
    settings.LOYALTY_API_RATE = "6000/minute"
    with time_machine.travel(START + timedelta(seconds=1), tick=False):
        # when: one request
        assert _allowed(key, 1) == 1
        # then: the process took 16 slots
        assert _stored(key, 1) == 16
        # and the next 15 ask the cache nothing; the 17th takes the next lease
        assert _allowed(key, 15) == 15
        assert _stored(key, 1) == 16
        assert _allowed(key, 1) == 1
        assert _stored(key, 1) == 32


def test_a_lease_ends_with_its_window(key, settings):
    settings.LOYALTY_API_RATE = "6000/minute"
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        assert _allowed(key, 1) == 1
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        assert _allowed(key, 1) == 1
    # the new window's request took a lease of its own; the old window keeps its 16
    assert (_stored(key, 59), _stored(key, 60)) == (16, 16)
