"""Login throttling helpers for django-axes."""

from django.conf import settings

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
