"""Requests per API key, a configurable rate (LOYALTY_API_RATE, e.g. "6000/minute")."""

from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


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

    def allow_key(self, key) -> bool:
        """allow_request for a request authenticated with `key`, without the request (the
        purchase lane asks before DRF builds one)."""
        return self.allow_request(_KeyRequest(key), None)
