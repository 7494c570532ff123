"""The sign-up's device hash for the referral abuse checks (referrals: same_device). Friends
often sign up on the referrer's phone, so it is a hint for staff, never proof, and nothing
readable is kept: a keyed hash of a random id in a long-lived cookie, set when the join page is
shown.

No address hash is sent: the web sign-up asks for no postal address, and an IP address is no
stand-in for one (mobile networks share one address among many strangers).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

DEVICE_COOKIE = "loyalty_device"
DEVICE_COOKIE_AGE = 5 * 365 * 24 * 3600


def device_id(request) -> str:
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    if len(value) == 32 and value.isalnum():
        return value
    return secrets.token_hex(16)


def remember_device(response, value: str):
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def device_hash(value: str) -> str:
    return salted_hmac("members.signup.device", value).hexdigest()
