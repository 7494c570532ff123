"""The admin of API key scopes: staff choose them when creating a key and edit an active key's."""

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts import services
from accounts.models import ApiScope, PartnerApiKey

EVERY_SCOPE = list(ApiScope.values)


def test_key_change_page_edits_the_scopes_only(admin_client, partner):
    # given
    key, raw_key = services.api_key_create(partner=partner, name="till")
    assert services.api_key_authenticate_cached(raw_key).scopes == EVERY_SCOPE

    # when
    page = admin_client.get(reverse("admin:accounts_partnerapikey_change", args=[key.pk]))
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_change", args=[key.pk]),
        {"name": "renamed", "scopes": ["read", "feedback"]},
    )
    delete = admin_client.post(
        reverse("admin:accounts_partnerapikey_delete", args=[key.pk]), {"post": "yes"}
    )

    # then
    assert page.status_code == 200
    assert page.content.decode().count('type="checkbox" name="scopes"') == len(EVERY_SCOPE)
    assert response.status_code == 302, response.content
    assert delete.status_code == 403
    key.refresh_from_db()
    assert (key.name, key.scopes) == ("till", ["read", "feedback"])
    # the change applies at once in this process (the key cache is cleared)
    assert services.api_key_authenticate_cached(raw_key).scopes == ["read", "feedback"]
    assert LogEntry.objects.filter(object_id=str(key.pk)).exists()


def test_key_scopes_need_at_least_one(admin_client, partner):
    # given
    key, _raw = services.api_key_create(partner=partner, name="till")

    # when
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_change", args=[key.pk]), {"scopes": []}
    )

    # then
    assert response.status_code == 200
    assert "Choose at least one scope." in response.content.decode()
    key.refresh_from_db()
    assert key.scopes == EVERY_SCOPE


def test_key_created_with_chosen_scopes_and_listed_with_them(admin_client, partner):
    # when
    admin_client.post(
        reverse("admin:accounts_partnerapikey_add"),
        {"partner": partner.pk, "name": "Reports", "scopes": ["read"]},
    )
    listing = admin_client.get(reverse("admin:accounts_partnerapikey_changelist"))

    # then
    key = PartnerApiKey.objects.get()
    assert key.scopes == ["read"]
    assert str(ApiScope.READ.label) in listing.content.decode()


def test_a_revoked_keys_scopes_do_not_change(admin_client, partner):
    # given
    key, _raw = services.api_key_create(partner=partner, name="till")
    services.api_key_revoke(key=key)

    # when
    response = admin_client.post(
        reverse("admin:accounts_partnerapikey_change", args=[key.pk]), {"scopes": ["read"]}
    )

    # then
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.scopes == EVERY_SCOPE
