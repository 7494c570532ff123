"""Requests per API key, a configurable rate (LOYALTY_API_RATE, e.g. "6000/minute")."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return settings.LOYALTY_API_RATE

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return f"throttle:api_key:{request.auth.pk}"
