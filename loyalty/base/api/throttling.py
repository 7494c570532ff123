"""Requests per API key, a configurable rate (LOYALTY_API_RATE, e.g. "6000/minute").

A counter per key and window in the cache (Redis in production), read as a sliding window: the
current window's count plus the previous one's, weighted by how much of it still overlaps the
last `duration` seconds. On Redis that is one round trip (INCR, EXPIRE and GET in a pipeline),
atomic under concurrent requests, and a few bytes whatever the traffic. (DRF's
SimpleRateThrottle keeps a list of every request's time in the window, read and written whole
on every request: at 6,000 a minute, a list of 6,000 floats pickled twice a request, and two
requests at once each miss the other.) A request refused still counts: a client that keeps
sending while refused stays refused.

At a high rate a process does not ask the cache for every request: it takes a lease of slots
(INCRBY n: the next n numbers of the window's count are its own) and numbers its requests from
it, so a till sending 100 a second costs the cache one round trip in `LEASE_MAX`, not one a
request (the round trip was a tenth of a production purchase's Python time, bench/RESULTS.md).
Each request is still judged by its own number against the limit, so no more than the limit
pass; what a lease loses is the slots a process took and did not use before the window ended,
counted as used: a key may be refused that many requests early (a lease is at most a
two-hundredth of the limit; a process holds at most one a thread). At low rates (under 400 a
window) a lease is one slot: exact, as before.

When the cache cannot be reached the throttle lets requests through and says so in the log, at
most once a minute a process: an outage of Redis must not take the partner API down with it
(nothing else in a request needs Redis: keys, rules and tiers are cached per process, the broker
is written to after commit and its outages only delay what it carries).
"""

from __future__ import annotations

import logging
import math
import threading
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
LEASE_MAX = 16
LEASE_SHARE = 200  # a lease is at most this fraction of the limit (so 1 below 400 a window)


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


def lease_size(limit: int) -> int:
    return max(1, min(LEASE_MAX, limit // LEASE_SHARE))


def _counts(current: str, previous: str, window: int, slots: int) -> tuple[int, int]:
    """This window's count after adding `slots`, and the previous window's."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        current_key = backend.make_and_validate_key(current)
        # (Django's RedisCache has no INCR-or-create; its client's redis-py connection does)
        client = backend._cache.get_client(current_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incrby(current_key, slots)
        pipe.expire(current_key, 2 * window)
        pipe.get(backend.make_and_validate_key(previous))
        count, _, before = pipe.execute()
        return int(count), int(before or 0)
    try:
        count = backend.incr(current, slots)
    except ValueError:  # the window's first request (or its counter expired)
        count = slots if backend.add(current, slots, 2 * window) else backend.incr(current, slots)
    return count, int(backend.get(previous) or 0)


@dataclass
class _Lease:
    """Slots `next`..`last` of a key's count in window `index`, this process's to number its
    requests with; `before` is the previous window's count when it was taken."""

    index: int
    next: int
    last: int
    before: int


_leases: dict[str, list[_Lease]] = {}  # a key's leases with slots left (threads take them at once)
_leases_lock = threading.Lock()


def _slot(prefix: str, index: int, window: int, limit: int) -> tuple[int, int]:
    """This request's number in the window's count, and the previous window's count."""
    with _leases_lock:
        leases = _leases.get(prefix)
        while leases:
            lease = leases[-1]
            if lease.index == index and lease.next <= lease.last:
                lease.next += 1
                return lease.next - 1, lease.before
            leases.pop()  # used up, or of a window gone by
    slots = lease_size(limit)
    count, before = _counts(f"{prefix}:{index}", f"{prefix}:{index - 1}", window, slots)
    if slots > 1:
        with _leases_lock:
            _leases.setdefault(prefix, []).append(_Lease(index, count - slots + 2, count, before))
    return count - slots + 1, before


def leases_forget() -> None:
    """Drop this process's leases (tests that move the clock or empty the cache)."""
    with _leases_lock:
        _leases.clear()


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
            count, before = _slot(prefix, int(index), window, limit)
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
