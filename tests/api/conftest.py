import uuid

import pytest
from rest_framework.test import APIClient, ForceAuthClientHandler

from accounts.services import api_key_create
from loyalty.base.api.handlers import ApiMiddlewareMixin
from tests import factories


class ApiClientHandler(ApiMiddlewareMixin, ForceAuthClientHandler):
    """The test client's handler with the partner API's middleware, as loyalty.wsgi serves it."""


class PartnerClient(APIClient):
    """An API client that sends the partner's key and, on POST, a fresh Idempotency-Key."""

    def __init__(self, raw_key: str, partner, **kwargs):
        super().__init__(**kwargs)
        self.handler = ApiClientHandler(enforce_csrf_checks=False)
        self.partner = partner
        self.raw_key = raw_key
        self.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    def post(self, path, data=None, format="json", idempotency_key=None, **extra):
        key = idempotency_key if idempotency_key is not None else str(uuid.uuid4())
        if key is not False:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        if "content_type" in extra:
            format = None
        return super().post(path, data, format=format, **extra)


def make_client(partner) -> PartnerClient:
    _, raw = api_key_create(partner=partner, name="test")
    return PartnerClient(raw, partner)


@pytest.fixture
def api(partner, base_rule, tiers):
    return make_client(partner)


@pytest.fixture
def other_api(db):
    return make_client(factories.make_partner("Other Shop"))


@pytest.fixture(autouse=True)
def _no_throttle_by_default(settings):
    settings.LOYALTY_API_RATE = None
