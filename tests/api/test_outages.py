"""When the database is out of reach: 503 with Retry-After (a problem on the API, the site's own
page elsewhere), nothing half-written, and a retry with the same key goes through once it is
back. The database really is out of reach here: the connection is pointed at a port where
nothing listens."""

from contextlib import contextmanager

import pytest
from django.db import connection

from loyalty.core.models import IdempotencyRecord, Purchase
from tests import factories
from tests.api.conftest import make_client

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def database_out_of_reach():
    connection.close()
    port = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "9"  # (discard: nothing listens)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


def test_a_purchase_while_the_database_is_out_of_reach_is_a_503_then_goes_through():
    # given
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    api = make_client(partner)
    body = {
        "member_number": member.member_number,
        "external_id": "DOWN-1",
        "amount": "10.00",
        "currency": "EUR",
    }
    # when
    with database_out_of_reach():
        response = api.post("/api/v1/purchases/", body, idempotency_key="down-1")
    # then: a problem that says to come back, not a 500
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "30"
    assert response.json()["code"] == "service_unavailable"
    assert not Purchase.objects.exists() and not IdempotencyRecord.objects.exists()
    # when: the same request once it is back
    again = api.post("/api/v1/purchases/", body, idempotency_key="down-1")
    # then
    assert again.status_code == 201, again.content
    assert Purchase.objects.get().points_earned == 10


def test_a_member_page_while_the_database_is_out_of_reach_is_the_sites_503_page(client):
    # given: a member logged in
    factories.make_tiers()
    member = factories.make_member(email="ona@example.com", password="a-long-Secret-42")
    client.force_login(member.user)
    client.raise_request_exception = False
    # when
    with database_out_of_reach():
        response = client.get("/dashboard/")
    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"We will be back in a moment" in response.content
    assert b"Traceback" not in response.content
