"""Requests per API key, a configurable rate (LOYALTY_API_RATE, e.g. "6000/minute").

The counts live in the cache (Redis in production). When the cache cannot be reached the
throttle lets requests through and says so in the log, at most once a minute a process: an
outage of Redis must not take the partner API down with it (nothing else in a request needs
Redis: keys, rules and tiers are cached per process, the broker is written to after commit and
its outages only delay what it carries).
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60
_last_logged = [0.0]


@dataclass(frozen=True)
class _KeyRequest:
    """What the throttle reads of a request: its API key (request.auth)."""

    auth: object


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return settings.LOYALTY_API_RATE

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return f"throttle:api_key:{request.auth.pk}"

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache is out of reach (any backend's error): fail open
            now = time.monotonic()
            if now - _last_logged[0] >= LOG_EVERY_SECONDS:
                _last_logged[0] = now
                logger.warning("API throttling is off: the cache is out of reach (%r).", exc)
            return True

    def allow_key(self, key) -> bool:
        """allow_request for a request authenticated with `key`, without the request (the
        purchase lane asks before DRF builds one)."""
        return self.allow_request(_KeyRequest(key), None)
