"""The purchase lane (loyalty.core.api.lane) answers exactly as PurchaseView, headers included, and
leaves to the view every request it cannot answer that way."""

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.utils import timezone

from accounts.models import Member
from loyalty.base.api import throttling
from loyalty.core.api.lane import purchase_lane
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from tests import factories
from tests.api.conftest import make_client
from tests.caching import cache_empty

LANE = "loyalty.core.api.lane.PurchaseLaneMiddleware"


@pytest.fixture(autouse=True)
def _fresh_rates():
    """Throttle counts live in the cache, keyed by the API key's id, which SQLite reuses."""
    cache_empty()
    yield
    cache_empty()


PATH = "/api/v1/purchases/"


def view_client(partner):
    """A partner client whose API chain has no lane: every purchase goes through the view."""
    client = make_client(partner)
    without_lane = [name for name in settings.API_MIDDLEWARE if name != LANE]
    with override_settings(API_MIDDLEWARE=without_lane):
        client.handler.load_middleware()
    return client


@pytest.fixture
def lane(partner, base_rule, tiers):
    assert LANE in settings.API_MIDDLEWARE
    return make_client(partner)


@pytest.fixture
def view(partner, base_rule, tiers):
    return view_client(partner)


def body(member, external_id, amount="12.50", **extra):
    return {
        "member_number": member.member_number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
        **extra,
    }


def answer(response, member, external_id) -> tuple[int, str, dict]:
    """Status, body with this run's member and purchase ids taken out, headers (the request id,
    new on every request, only said to be there)."""
    text = response.content.decode()
    text = text.replace(member.member_number, "<member>").replace(external_id, "<purchase>")
    headers = dict(response.headers)
    assert headers.pop("X-Request-ID")
    return response.status_code, text, headers


def both(lane, view, scenario):
    """Run the scenario once per client, each with a new member and its own purchase id of the
    same length; their answers must be the same."""
    answers = []
    for client, external_id in [
        (lane, "LANE-" + uuid.uuid4().hex[:8]),
        (view, "VIEW-" + uuid.uuid4().hex[:8]),
    ]:
        member = factories.make_member()
        response = scenario(client, member, external_id)
        # DRF's test responses keep the view's data; the lane's are plain Django responses
        assert hasattr(response, "data") == (client is view)
        answers.append(answer(response, member, external_id))
    assert answers[0] == answers[1]
    return answers[0]


# --- the same answers --------------------------------------------------------------------------


def test_a_purchase(lane, view):
    status, text, headers = both(lane, view, lambda c, m, x: c.post(PATH, body(m, x)))
    assert status == 201
    assert json.loads(text)["points_earned"] == 12
    assert headers["Allow"] == "POST, OPTIONS"
    assert headers["Content-Type"] == "application/json"


def test_a_purchase_with_lines_a_time_and_a_fingerprint(lane, view):
    extra = {
        "occurred_at": (timezone.now() - timedelta(days=3)).replace(microsecond=0).isoformat(),
        "lines": [{"sku": "A", "quantity": 2, "amount": "10.00"}, {"sku": "B", "amount": "2.50"}],
        "payment_fingerprint": "fp-1",
    }
    status, _, _ = both(lane, view, lambda c, m, x: c.post(PATH, body(m, x, **extra)))
    assert status == 201


def test_a_replay(lane, view):
    def scenario(client, member, external_id):
        first = client.post(PATH, body(member, external_id), idempotency_key=external_id)
        again = client.post(PATH, body(member, external_id), idempotency_key=external_id)
        assert again.content == first.content  # the very bytes
        return again

    status, _, headers = both(lane, view, scenario)
    assert status == 201 and headers["Idempotent-Replayed"] == "true"


def test_a_key_reused_for_another_body(lane, view):
    def scenario(client, member, external_id):
        client.post(PATH, body(member, external_id), idempotency_key=external_id)
        return client.post(PATH, body(member, external_id, "9.99"), idempotency_key=external_id)

    status, text, _ = both(lane, view, scenario)
    assert status == 422 and json.loads(text)["code"] == "idempotency_key_reused"


def test_a_purchase_id_used_before(lane, view):
    def scenario(client, member, external_id):
        client.post(PATH, body(member, external_id))
        return client.post(PATH, body(member, external_id))

    status, text, headers = both(lane, view, scenario)
    assert status == 409 and json.loads(text)["code"] == "duplicate_purchase"
    assert headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "change, code",
    [
        ({"member_number": "000000000"}, "member_not_found"),
        ({"currency": "USD"}, "currency_mismatch"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, "invalid_purchase"),
    ],
)
def test_refusals_of_the_service(lane, view, change, code):
    status, text, _ = both(lane, view, lambda c, m, x: c.post(PATH, {**body(m, x), **change}))
    assert status in {400, 404, 409, 422} and json.loads(text)["code"] == code


def test_a_closed_member(lane, view):
    def scenario(client, member, external_id):
        Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
        return client.post(PATH, body(member, external_id))

    status, text, _ = both(lane, view, scenario)
    assert status >= 400 and json.loads(text)["code"] == "member_not_active"


def test_in_the_partners_language(lane, view):
    scenario = lambda c, m, x: c.post(PATH, body(m, x), HTTP_ACCEPT_LANGUAGE="lt")  # noqa: E731
    status, _, headers = both(lane, view, scenario)
    assert status == 201 and headers["Content-Language"] == "lt"


def test_the_rate_is_counted_once(lane, settings):
    settings.LOYALTY_API_RATE = "2/minute"
    member = factories.make_member()
    statuses = [lane.post(PATH, body(member, f"R-{i}")).status_code for i in range(3)]
    assert statuses == [201, 201, 429]


def test_the_cache_out_of_reach_while_counting_the_rate_lets_the_purchase_through(
    lane, view, settings, caplog
):
    # given: throttling on, and the cache that counts the rate at a port where nothing listens
    settings.LOYALTY_API_RATE = "100/minute"
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    throttling._last_logged[0] = 0.0
    for number, client in enumerate((lane, view), 1):
        member = factories.make_member()
        # when
        with override_settings(CACHES=unreachable):
            response = client.post(PATH, body(member, f"DOWN-{number}"))
        # then: the throttle fails open, lane and view alike, and the purchase is recorded
        assert response.status_code == 201, response.content
        assert Purchase.objects.filter(external_id=f"DOWN-{number}", member=member).exists()
    # and it says so in the log (once a minute at most, not once a request)
    warnings = [r for r in caplog.records if "throttling is off" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"


def test_an_empty_accept_header_is_refused_whichever_way_the_purchase_goes(lane, view):
    for client in (lane, view):
        member = factories.make_member()
        response = client.post(PATH, body(member, "EMPTY-ACCEPT"), HTTP_ACCEPT="")
        assert response.status_code == 406
        assert response.json()["code"] == "not_acceptable"
    assert not Purchase.objects.exists()


def test_what_the_lane_wrote_is_what_the_view_writes(lane, view):
    for client, external_id in [(lane, "LANE-1"), (view, "VIEW-1")]:
        member = factories.make_member()
        assert (
            client.post(PATH, body(member, external_id), idempotency_key=external_id).status_code
            == 201
        )
        purchase = Purchase.objects.get(external_id=external_id)
        entry = LedgerEntry.objects.get(purchase=purchase)
        record = IdempotencyRecord.objects.get(key=external_id)
        assert (purchase.points_earned, entry.points, entry.balance_after) == (12, 12, 12)
        assert record.response_status == 201
        assert json.loads(record.response_body)["points_earned"] == 12


# --- what it leaves to the view ------------------------------------------------------------------


@pytest.fixture
def good_request(partner, base_rule, tiers):
    from accounts.services import api_key_create

    _, raw_key = api_key_create(partner=partner, name="lane")
    member = factories.make_member()

    def build(payload=None, path=PATH, content_type="application/json", **headers):
        headers = {
            "HTTP_AUTHORIZATION": f"Api-Key {raw_key}",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex,
            **headers,
        }
        data = json.dumps(body(member, uuid.uuid4().hex[:12])) if payload is None else payload
        return RequestFactory().post(path, data, content_type=content_type, **headers)

    return build


def test_the_lane_answers_a_plain_purchase(good_request):
    response = purchase_lane(good_request())
    assert response is not None and response.status_code == 201
    charset = purchase_lane(good_request(content_type="application/json; charset=UTF-8"))
    assert charset is not None and charset.status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"path": PATH + "?x=1"},
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_ACCEPT": ""},
        {"HTTP_ACCEPT": "application/json; indent=4"},
        {"content_type": "text/plain"},
        {"content_type": "application/json; charset=latin-1"},
        {"HTTP_AUTHORIZATION": ""},
        {"HTTP_AUTHORIZATION": "Bearer abc"},
        {"HTTP_AUTHORIZATION": "Api-Key not-a-key"},
        {"HTTP_IDEMPOTENCY_KEY": ""},
        {"payload": "{not json"},
        {"payload": "[]"},
        {"payload": json.dumps({"member_number": "1"})},
        {"payload": '{"member_number": "1\\u0000"}'},
        {"payload": '{"member_number": "1", "x": ' + "[" * 400 + "]" * 400 + "}"},
    ],
)
def test_the_lane_leaves_anything_else_to_the_view(good_request, change):
    assert purchase_lane(good_request(**change)) is None
    assert not Purchase.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_the_lane_leaves_a_throttled_key_to_the_view(good_request, settings):
    settings.LOYALTY_API_RATE = "1/minute"
    assert purchase_lane(good_request()).status_code == 201
    assert purchase_lane(good_request()) is None
