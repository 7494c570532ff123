"""Logins: failed logins counted per source address as well as per account (password spraying),
a second factor for staff in the admin, and the admin's Content-Security-Policy."""

import io
import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories
from tests.caching import cache_empty

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Secret-42"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache_empty()


def _login(client, email, password, address="203.0.113.7"):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


def test_spraying_from_one_address_is_stopped_for_every_account(client, tiers, settings):
    # given: members, and an address that tries one password on many accounts
    settings.LOYALTY_LOGIN_FAILURES_PER_ADDRESS = 5
    ona = factories.make_member(email="ona@example.com", password=PASSWORD)
    for n in range(5):
        response = _login(client, f"someone{n}@example.com", "Summer2026!")
        assert response.status_code == 200  # the form again, with its error
    # when: the right password of an account never tried before, from that address
    response = _login(client, "ona@example.com", PASSWORD)
    # then: refused, and told why
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed logins from your network" in response.content.decode()
    # and from another address the member logs in
    response = _login(client, "ona@example.com", PASSWORD, address="198.51.100.2")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ona.user.pk)


def test_fewer_failures_than_the_limit_lock_nobody_out(client, tiers, settings):
    settings.LOYALTY_LOGIN_FAILURES_PER_ADDRESS = 5
    factories.make_member(email="ona@example.com", password=PASSWORD)
    for n in range(4):
        _login(client, f"someone{n}@example.com", "Summer2026!")
    assert _login(client, "ona@example.com", PASSWORD).status_code == 302


def test_the_admin_login_is_stopped_by_the_same_count(client, settings):
    settings.LOYALTY_LOGIN_FAILURES_PER_ADDRESS = 3
    get_user_model().objects.create_user(email="boss@example.com", password=PASSWORD, is_staff=True)
    for n in range(3):
        client.post(
            "/admin/login/",
            {"username": f"x{n}@example.com", "password": "nope"},
            REMOTE_ADDR="203.0.113.9",
        )
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "boss@example.com", "password": PASSWORD},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_the_count_is_skipped_when_the_cache_is_out_of_reach(client, tiers, settings):
    settings.LOYALTY_LOGIN_FAILURES_PER_ADDRESS = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    factories.make_member(email="ona@example.com", password=PASSWORD)
    _login(client, "someone@example.com", "nope")
    assert _login(client, "ona@example.com", PASSWORD).status_code == 302


# --- the second factor ----------------------------------------------------------------------------


@pytest.fixture
def boss(db):
    return get_user_model().objects.create_superuser(email="boss@example.com", password=PASSWORD)


def test_staff_need_a_second_factor_for_the_admin_when_it_is_required(client, boss, settings):
    # given
    settings.LOYALTY_STAFF_OTP = True
    # when: the password alone
    client.post("/admin/login/", {"username": "boss@example.com", "password": PASSWORD})
    # then: not in
    assert client.get("/admin/").status_code == 302
    # given: a device, from the command staff use
    call_command("staff_otp_add", "boss@example.com", stdout=io.StringIO())
    device = TOTPDevice.objects.get(user=boss)
    # when: a wrong code, then the right one
    client.post(
        "/admin/login/",
        {
            "username": "boss@example.com",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": "000000" if totp(device.bin_key) != 0 else "111111",
        },
    )
    assert client.get("/admin/").status_code == 302
    device.refresh_from_db()
    device.throttle_reset()  # (a wrong code makes the device wait before the next one)
    client.post(
        "/admin/login/",
        {
            "username": "boss@example.com",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}",
        },
    )
    # then
    assert client.get("/admin/").status_code == 200


def test_without_the_requirement_the_password_is_enough(client, boss, settings):
    settings.LOYALTY_STAFF_OTP = False
    client.post("/admin/login/", {"username": "boss@example.com", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_production_settings_require_the_second_factor():
    # the settings read with DEBUG off, as production runs them
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 50}
    env.pop("LOYALTY_STAFF_OTP", None)
    code = "from django.conf import settings; print(settings.LOYALTY_STAFF_OTP)"
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "loyalty.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "True"


# --- the admin's Content-Security-Policy ----------------------------------------------------------


def test_every_admin_page_carries_a_content_security_policy(client, boss, settings):
    settings.LOYALTY_STAFF_OTP = False
    client.force_login(boss)
    for path in ["/admin/login/", "/admin/", "/admin/accounts/member/"]:
        policy = client.get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("style-src")[0]
