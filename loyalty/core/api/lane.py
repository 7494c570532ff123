"""The purchase lane: POST /api/v1/purchases/ answered without DRF's dispatch.

Partners send purchases by the thousand, and URL resolution and DRF's request, authentication,
permission, throttle, negotiation and response machinery cost a sixth of a purchase's CPU
around the few functions that do the work (bench/RESULTS.md, 2026-12-06: measured alone, the
lane saves 12-17% of the CPU per purchase and gives 10-13% more purchases a second over HTTP;
bench/lane.py measures it again). This middleware, last in settings.API_MIDDLEWARE (so
security, language and Content-Length are handled as for every API answer; LOYALTY_PURCHASE_LANE
=false leaves it out), calls those same functions directly:

- the key: accounts.authentication.api_key_from_header and
  accounts.services.api_key_authenticate_cached, as ApiKeyAuthentication does;
- the body: DecimalJSONParser, and PurchaseInput through validated_input;
- the rate: ApiKeyRateThrottle.allow_key, last, so a request it lets through is counted once;
- the work: IdempotentRun with purchase_answer, as PurchaseView runs them, answering with the
  bytes IdempotentRun stored (or replayed);
- refusals: problems.exception_handler, DRF's EXCEPTION_HANDLER.

It takes only requests it can answer exactly as the view would and passes any other one on to
the view untouched: a query string, an Accept or Content-Type other than plain JSON, a missing or
unknown key, a key without the purchases scope, a missing Idempotency-Key, a body that does not
parse or validate, a throttled key.
tests/api/test_purchase_lane.py holds the two to the same answers, headers included.
"""

import io

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.renderers import JSONRenderer

from accounts.authentication import api_key_from_header
from accounts.services import api_key_authenticate_cached
from loyalty.base.api.parsers import DecimalJSONParser
from loyalty.base.api.problems import exception_handler, server_error_response
from loyalty.base.api.serializers import validated_input
from loyalty.base.api.throttling import ApiKeyRateThrottle
from loyalty.base.errors import LoyaltyError
from loyalty.core.errors import IdempotencyKeyRequired

from .idempotency import IdempotentRun, idempotency_key_and_digest
from .purchases import PurchaseInput, PurchaseView, purchase_answer

PURCHASES_PATH = "/api/v1/purchases/"
# What DRF's negotiation answers with plain JSON and no rendering options (no Accept header is
# */*; an empty one DRF refuses with 406, so it goes to the view).
PLAIN_ACCEPT = frozenset({"*/*", "application/json"})


class PurchaseLaneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.allow = ", ".join(PurchaseView().allowed_methods)  # DRF's Allow header

    def __call__(self, request):
        if request.method == "POST" and request.path_info == PURCHASES_PATH:
            try:
                response = purchase_lane(request)
            except Exception as exc:  # e.g. the database or the cache down
                # as ApiProblemMiddleware answers for the view (DRF adds no Allow to a 500)
                return server_error_response(request, exc)
            if response is not None:
                response["Allow"] = self.allow
                return response
        return self.get_response(request)


def purchase_lane(request):
    """The answer to a purchase request, or None to leave it to the view."""
    meta = request.META
    if meta.get("QUERY_STRING") or meta.get("HTTP_ACCEPT", "*/*") not in PLAIN_ACCEPT:
        return None
    if request.content_type != "application/json" or any(
        name != "charset" or value.lower() != "utf-8"
        for name, value in request.content_params.items()
    ):
        return None
    raw_key = api_key_from_header(meta.get("HTTP_AUTHORIZATION", ""))
    key = api_key_authenticate_cached(raw_key) if raw_key is not None else None
    if key is None or not key.has_scope(PurchaseView.required_scope):
        return None  # the view refuses it (401, or 403 insufficient_scope)
    try:
        idempotency_key, digest = idempotency_key_and_digest(request)
        data = DecimalJSONParser().parse(io.BytesIO(request.body))
        values = validated_input(PurchaseInput, data)
    except (IdempotencyKeyRequired, RequestDataTooBig, ParseError, ValidationError):
        return None
    if not ApiKeyRateThrottle().allow_key(key):
        return None
    partner = key.partner
    run = IdempotentRun(partner, idempotency_key, digest, _refusal)
    try:
        answer = run.run(
            lambda: purchase_answer(partner, values),
            without_savepoint=lambda: purchase_answer(partner, values, savepoint=False),
        )
    except (LoyaltyError, APIException) as exc:  # a replay refused: key reused or busy
        answer = _refusal(exc)
    return _rendered(answer, run.body)


def _refusal(exc):
    answer = exception_handler(exc, {})
    if answer is None:
        raise exc
    return answer


def _rendered(answer, body: bytes | None) -> HttpResponse:
    """The DRF Response as DRF's JSONRenderer and finalize_response would render it: with the
    body IdempotentRun stored (or replayed), or, for a refusal of the key itself, rendered."""
    if body is None:
        body = JSONRenderer().render(answer.data, "application/json", {})
    response = HttpResponse(
        body, status=answer.status_code, content_type=answer.content_type or "application/json"
    )
    for name, value in answer.items():
        if name.lower() != "content-type":
            response[name] = value
    return response
