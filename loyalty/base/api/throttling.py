"""Requests per API key, a configurable rate (LOYALTY_API_RATE, e.g. "6000/minute").

A counter per key and window in the cache (Redis in production), read as a sliding window: the
current window's count plus the previous one's, weighted by how much of it still overlaps the
last `duration` seconds. On Redis that is one round trip (INCR, EXPIRE and GET in a pipeline),
atomic under concurrent requests, and a few bytes whatever the traffic. (DRF's
SimpleRateThrottle keeps a list of every request's time in the window, read and written whole
on every request: at 6,000 a minute, a list of 6,000 floats pickled twice a request, and two
requests at once each miss the other.) A request refused still counts: a client that keeps
sending while refused stays refused.

When the cache cannot be reached the throttle lets requests through and says so in the log, at
most once a minute a process: an outage of Redis must not take the partner API down with it
(nothing else in a request needs Redis: keys, rules and tiers are cached per process, the broker
is written to after commit and its outages only delay what it carries).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60
_last_logged = [0.0]
DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class _KeyRequest:
    """What the throttle reads of a request: its API key (request.auth)."""

    auth: object


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """ "6000/minute" -> (6000, 60); None or "" -> None (no throttling)."""
    if not rate:
        return None
    number, period = rate.split("/")
    return int(number), DURATIONS[period.strip()[0]]


def _counts(current: str, previous: str, window: int) -> tuple[int, int]:
    """This window's count after adding this request, and the previous window's."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        current_key = backend.make_and_validate_key(current)
        # (Django's RedisCache has no INCR-or-create; its client's redis-py connection does)
        client = backend._cache.get_client(current_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incr(current_key)
        pipe.expire(current_key, 2 * window)
        pipe.get(backend.make_and_validate_key(previous))
        count, _, before = pipe.execute()
        return int(count), int(before or 0)
    try:
        count = backend.incr(current)
    except ValueError:  # the window's first request (or its counter expired)
        count = 1 if backend.add(current, 1, 2 * window) else backend.incr(current)
    return count, int(backend.get(previous) or 0)


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self):
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = parse_rate(settings.LOYALTY_API_RATE)
        if rate is None or request.auth is None:
            return True
        limit, window = rate
        now = time.time()
        index, elapsed = divmod(now, window)
        prefix = f"throttle:api_key:{request.auth.pk}"
        try:
            count, before = _counts(f"{prefix}:{int(index)}", f"{prefix}:{int(index) - 1}", window)
        except Exception as exc:  # the cache is out of reach (any backend's error): fail open
            now = time.monotonic()
            if now - _last_logged[0] >= LOG_EVERY_SECONDS:
                _last_logged[0] = now
                logger.warning("API throttling is off: the cache is out of reach (%r).", exc)
            return True
        if before * (1 - elapsed / window) + count <= limit:
            return True
        self.retry_after = max(1, math.ceil(window - elapsed))
        return False

    def wait(self) -> float | None:
        return self.retry_after

    def allow_key(self, key) -> bool:
        """allow_request for a request authenticated with `key`, without the request (the
        purchase lane asks before DRF builds one)."""
        return self.allow_request(_KeyRequest(key), None)
