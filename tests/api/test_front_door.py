"""loyalty.wsgi serves /api/v1/ through the API's short middleware chain and the rest through the
site's, called as a WSGI server calls it (so Django's request signals run too)."""

import io
import json
import uuid
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings

from accounts.services import api_key_create
from loyalty.base.api.handlers import ApiWSGIHandler
from loyalty.core.models import LedgerEntry
from loyalty.wsgi import application
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    method: str, path: str, body: bytes = b"", chunked: bool = False, **headers
) -> tuple[int, dict, bytes]:
    """Call loyalty.wsgi as a WSGI server does; `chunked` as one does for a body sent in chunks
    (undone, with Transfer-Encoding and no Content-Length)."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "wsgi.input": io.BytesIO(body),
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    chunks = application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started["status"], started["headers"], content


def purchase_body(member, external_id: str) -> bytes:
    return json.dumps(
        {
            "member_number": member.member_number,
            "external_id": external_id,
            "amount": "20.00",
            "currency": "EUR",
        }
    ).encode()


@pytest.fixture
def api_key(partner, base_rule, tiers):
    _, raw = api_key_create(partner=partner, name="front door")
    return raw


def test_a_purchase_goes_through_the_api_chain(api_key):
    member = factories.make_member()
    body = purchase_body(member, "door-1")
    status, headers, content = call(
        "POST",
        "/api/v1/purchases/",
        body,
        authorization=f"Api-Key {api_key}",
        idempotency_key=str(uuid.uuid4()),
    )
    assert status == 201, content
    assert json.loads(content)["points_earned"] == 20
    assert LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.EARN).count() == 1
    # The site's chain would add these; the API's security middleware still answers for itself.
    assert "X-Frame-Options" not in headers
    assert "Set-Cookie" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Length"] == str(len(content))


def test_a_body_sent_in_chunks_is_read_whole_or_refused_as_too_large(api_key, settings):
    # given
    member = factories.make_member()
    body = purchase_body(member, "chunked-1")
    headers = {"authorization": f"Api-Key {api_key}"}
    # when
    status, _, content = call(
        "POST", "/api/v1/purchases/", body, chunked=True, idempotency_key="c1", **headers
    )
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    too_large = call(
        "POST",
        "/api/v1/purchases/",
        body + b" " * 200,
        chunked=True,
        idempotency_key="c2",
        **headers,
    )
    # then
    assert status == 201, content
    assert json.loads(content)["points_earned"] == 20
    assert too_large[0] == 413 and json.loads(too_large[2])["code"] == "body_too_large"
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_api_errors_stay_problems_on_the_api_chain(api_key):
    status, headers, content = call("GET", "/api/v1/nowhere/", authorization=f"Api-Key {api_key}")
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(content)["code"] == "not_found"

    status, headers, content = call("GET", "/api/v1/rewards/")
    assert status == 401
    assert json.loads(content)["code"] == "not_authenticated"
    assert "X-Frame-Options" not in headers


def test_the_rest_goes_through_the_site_chain(db):
    status, headers, _ = call("GET", "/api/schema/")
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY"

    status, headers, _ = call("GET", "/")
    assert status in {200, 302}
    assert headers["X-Frame-Options"] == "DENY"


def test_building_the_api_handler_leaves_the_site_settings_alone():
    site_middleware = list(settings.MIDDLEWARE)
    ApiWSGIHandler()
    assert site_middleware == settings.MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in settings.API_MIDDLEWARE


def problem_of(status: int, headers: dict, content: bytes) -> tuple[int, str]:
    assert headers["Content-Type"] == "application/problem+json", content
    body = json.loads(content)
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    return status, body["code"]


@pytest.mark.parametrize("path", ["/api/v1/members/123456789/", "/api/schema/", "/api/docs/"])
def test_a_host_we_do_not_serve_gets_a_problem_under_the_api(api_key, path):
    answer = call("GET", path, host="evil.example", authorization=f"Api-Key {api_key}")
    assert problem_of(*answer) == (400, "bad_request")


def test_a_host_we_do_not_serve_gets_the_sites_page_elsewhere(db):
    status, headers, _ = call("GET", "/", host="evil.example")
    assert status == 400 and headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "method, path, headers, expected",
    [
        ("GET", "/api/schema/", {"accept": "text/html"}, (406, "not_acceptable")),
        ("POST", "/api/schema/", {}, (405, "method_not_allowed")),
        ("OPTIONS", "/api/schema/", {}, (405, "method_not_allowed")),
        ("GET", "/api/schema/?format=xml", {}, (404, "not_found")),
        ("POST", "/api/docs/", {}, (405, "method_not_allowed")),
        ("OPTIONS", "/api/docs/", {}, (405, "method_not_allowed")),
        ("GET", "/api/docs/", {"accept": "application/json"}, (406, "not_acceptable")),
        ("GET", "/api/docs/?format=json", {}, (404, "not_found")),
    ],
)
def test_what_the_schema_and_docs_refuse_is_a_problem_in_json(db, method, path, headers, expected):
    assert problem_of(*call(method, path, **headers)) == expected
