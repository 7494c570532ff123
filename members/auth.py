"""Login throttling: helpers for django-axes (per account and address), and failed logins
counted per source address (against password spraying)."""

import logging

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from accounts.models import normalize_email


def client_ip(request) -> str:
    """The client's IP address. Behind TRUSTED_PROXY_COUNT proxies, each appending the address
    it saw to X-Forwarded-For, it is that many entries from the right; anything further left
    was written by the client and is not trusted."""
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def axes_username(request, credentials: dict | None) -> str:
    """The address a login attempt is counted against: trimmed and lower-cased, as stored.

    So "Ona@Example.com " and "ona@example.com" share one failure count.
    """
    if credentials and credentials.get("username"):
        value = credentials["username"]
    else:
        value = getattr(request, "POST", {}).get("username", "") if request else ""
    return normalize_email(str(value or ""))


# --- failed logins per source address ----------------------------------------------------------
#
# django-axes locks an (e-mail, address) pair after a few failures: it stops guessing one
# account's password. Password spraying tries one or two common passwords on many accounts from
# one address, which that count never sees. So failures are also counted per address (in the
# cache, an hour at a time), and past LOYALTY_LOGIN_FAILURES_PER_ADDRESS every login from that
# address is refused for the rest of the hour, the member site's and the admin's alike. With the
# cache out of reach the count is skipped (logged), never the login.

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 3600


def _key(request) -> str | None:
    address = client_ip(request) if request is not None else ""
    return f"login-failures:{address}" if address else None


def address_failures(request) -> int:
    key = _key(request)
    if key is None:
        return 0
    try:
        return int(cache.get(key) or 0)
    except Exception as exc:  # the cache out of reach: do not count
        logger.warning("Failed logins per address are not counted: %r", exc)
        return 0


def address_blocked(request) -> bool:
    return address_failures(request) >= settings.LOYALTY_LOGIN_FAILURES_PER_ADDRESS


@receiver(user_login_failed)
def count_address_failure(sender, credentials=None, request=None, **kwargs) -> None:
    key = _key(request)
    if key is None:
        return
    try:
        if not cache.add(key, 1, WINDOW_SECONDS):
            cache.incr(key)
    except Exception as exc:  # the cache out of reach: do not count
        logger.warning("Failed logins per address are not counted: %r", exc)


class AddressThrottleBackend:
    """First of the authentication backends: refuses every login from an address past its
    failed logins (PermissionDenied stops Django from asking the others). It never logs anyone
    in, so it has no get_user: Django's test client would otherwise log users in through it."""

    def authenticate(self, request, **credentials):
        if request is not None and address_blocked(request):
            raise PermissionDenied
        return None
