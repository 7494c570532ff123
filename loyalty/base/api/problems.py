"""Errors as application/problem+json (RFC 9457) with a stable machine `code`.

One exception handler maps the program's own errors (LoyaltyError, loyalty.base.errors) and
DRF's to the same shape: {type, title, status, detail, code}, plus `errors` for field
validation and any extra fields an error carries (e.g. `member_number` on member_exists). A
middleware does the same for anything that escapes a view under /api/, so a partner never sees
an HTML page or a traceback.
"""

import logging
import sys
from http import HTTPStatus

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty.base.errors import LoyaltyError
from loyalty.base.outages import RETRY_AFTER_SECONDS, is_outage

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://loyalty.invalid/problems/"
logger = logging.getLogger(__name__)

DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "malformed_json",
    exceptions.ValidationError: "invalid_request",
}


def problem(status_code: int, code: str, detail: str, **extra) -> dict:
    body = {
        "type": TYPE_BASE + code,
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def problem_response(status_code: int, code: str, detail: str, headers=None, **extra):
    return Response(
        problem(status_code, code, detail, **extra),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _flatten_detail(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten_detail(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten_detail(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every handled error becomes a problem response."""
    if isinstance(exc, LoyaltyError):
        set_rollback()
        extra = {k: v for k, v in exc.extra.items() if k not in {"type", "status", "code"}}
        return problem_response(exc.status, exc.code, exc.message, **extra)
    if isinstance(exc, RequestDataTooBig):
        return problem_response(413, "body_too_large", "The request body is too large.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    code = DRF_CODES.get(type(exc), "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem_response(
            exc.status_code,
            code,
            "The request has invalid fields: " + _flatten_detail(detail),
            headers=headers,
            errors=detail,
        )
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        # DRF answers 403 when no scheme is declared; the API always declares Api-Key.
        status_code = status.HTTP_401_UNAUTHORIZED
        headers.setdefault("WWW-Authenticate", "Api-Key")
    else:
        status_code = exc.status_code
    return problem_response(status_code, code, _flatten_detail(exc.detail), headers=headers)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown URLs under /api/ answer in JSON like the rest of the API."""
    return JsonResponse(
        problem(404, "not_found", "There is no such endpoint."),
        status=404,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class ApiProblemMiddleware:
    """Anything that escapes a view under /api/ becomes a 500 problem, logged, never HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        return server_error_response(request, exception)


def server_error_response(request, exception) -> JsonResponse:
    """What an API request gets for an error nothing else handled: a problem, and a log entry
    with the traceback (a 500); a 503 with Retry-After when a service is out of reach (the
    database, Redis, the broker); a 413 for a body over the size limit."""
    if isinstance(exception, RequestDataTooBig):
        body = problem(413, "body_too_large", "The request body is too large.")
        return JsonResponse(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
    if is_outage(exception):
        logger.warning(
            "%s %s: a service is out of reach: %r", request.method, request.path, exception
        )
        return unavailable_response()
    logger.error("Unhandled error in %s %s", request.method, request.path, exc_info=exception)
    body = problem(500, "server_error", "Something went wrong on our side; it is logged.")
    return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)


def unavailable_response() -> JsonResponse:
    body = problem(
        503,
        "service_unavailable",
        "A service the program needs is out of reach for a moment; nothing was recorded. Try "
        "again shortly (with the same Idempotency-Key).",
    )
    response = JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# --- Django's error handlers (loyalty.urls): what Django answers before or around a view, such as
# a 400 for a Host header not in ALLOWED_HOSTS, is a problem under /api/ too.


def _site_or_api(status_code: int, code: str, detail: str, site_handler):
    def handler(request, exception=None):
        if status_code == 500 and is_outage(sys.exc_info()[1]):
            # (Django calls handler500 while it handles the exception)
            return _unavailable(request)
        if request.path.startswith("/api/"):
            return JsonResponse(
                problem(status_code, code, detail),
                status=status_code,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        if status_code == 500:
            return site_handler(request)
        return site_handler(request, exception)

    return handler


def _unavailable(request):
    """503, a problem under /api/, the site's own page elsewhere (templates/503.html: it needs
    neither the database nor Redis to render)."""
    if request.path.startswith("/api/"):
        return unavailable_response()
    response = render(request, "503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


bad_request = _site_or_api(400, "bad_request", "The request is malformed.", defaults.bad_request)
permission_denied = _site_or_api(
    403, "forbidden", "You may not do this.", defaults.permission_denied
)
page_not_found = _site_or_api(
    404, "not_found", "There is no such endpoint.", defaults.page_not_found
)
server_error = _site_or_api(
    500, "server_error", "Something went wrong on our side; it is logged.", defaults.server_error
)
