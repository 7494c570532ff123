"""The partner API's own front door: /api/v1/ requests skip the member site's middleware.

Partners authenticate with a key on every request, so sessions, CSRF, logins, messages, the
member lookup, django-axes and static files do nothing for them, yet they cost about a
millisecond a request: a fifth of what a purchase costs in Python. `loyalty.wsgi.application`
sends /api/v1/ to a handler built from settings.API_MIDDLEWARE and everything else (the member
site, the admin, the API schema and docs) to Django's usual handler.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_PREFIX = "/api/v1/"


class ApiMiddlewareMixin:
    """A handler whose middleware chain comes from settings.API_MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # BaseHandler builds the chain from settings.MIDDLEWARE alone. Handlers are built once,
        # before they serve (at import of loyalty.wsgi, or by a test's client), so lending it
        # the API's list for the duration of the build affects nothing else.
        site_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site_middleware


class ApiWSGIHandler(ApiMiddlewareMixin, WSGIHandler):
    def __call__(self, environ, start_response):
        return super().__call__(_with_chunked_body_read(environ), start_response)


def _with_chunked_body_read(environ):
    """A body sent in chunks has no Content-Length, and Django reads such a body as empty: the
    partner would be told its fields are missing. The server has undone the chunking, so read
    the body here, at most one byte over DATA_UPLOAD_MAX_MEMORY_SIZE (which then answers 413)."""
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
    if not chunked or environ.get("CONTENT_LENGTH"):
        return environ
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = environ["wsgi.input"].read(limit + 1 if limit is not None else -1)
    return {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}


class SplitApplication:
    """The WSGI application: the partner API to its own handler, everything else to the site's."""

    def __init__(self, site, api):
        self.site = site
        self.api = api

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else self.site
        return handler(environ, start_response)
