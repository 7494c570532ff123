"""`Authorization: Api-Key <key>`: partners authenticate with a key, never a session."""

from dataclasses import dataclass

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.errors import InsufficientScope
from accounts.models import ApiScope, Partner, PartnerApiKey
from accounts.services import api_key_authenticate_cached


@dataclass(frozen=True)
class PartnerClient:
    """Stands in for request.user on API requests: the partner behind the key."""

    partner: Partner
    key: PartnerApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False

    @property
    def pk(self):
        return None


def api_key_from_header(header: str) -> str | None:
    """The raw key of an `Authorization: Api-Key <key>` header; None for any other header."""
    scheme, _, raw_key = header.partition(" ")
    raw_key = raw_key.strip()
    if scheme.lower() != ApiKeyAuthentication.keyword.lower() or not raw_key:
        return None
    return raw_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw_key = api_key_from_header(header)
        if raw_key is None:
            raise exceptions.AuthenticationFailed(
                "Use the header 'Authorization: Api-Key <key>'.", code="invalid_api_key"
            )
        # Cached per process for a few seconds: see accounts.services.API_KEY_CACHE_SECONDS.
        key = api_key_authenticate_cached(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed(
                "The API key is unknown or revoked.", code="invalid_api_key"
            )
        return PartnerClient(partner=key.partner, key=key), key

    def authenticate_header(self, request):
        return self.keyword


class HasScope(permissions.BasePermission):
    """The key behind the request has the view's `required_scope` (an ApiScope value).

    A view that declares none is refused outright, so a new endpoint is closed until it says
    what it needs (tests/api/test_key_scopes.py checks that every one does)."""

    def has_permission(self, request, view):
        scope = getattr(view, "required_scope", None)
        if scope not in ApiScope.values:
            raise InsufficientScope(
                _("This endpoint declares no API key scope."), required_scope=""
            )
        key = getattr(request.user, "key", None)
        if key is None or not key.has_scope(scope):
            raise InsufficientScope(
                _("This API key does not have the scope '%(scope)s' this request needs.")
                % {"scope": str(scope)},
                required_scope=str(scope),
            )
        return True


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; a key is shown once when staff create it.",
        }
