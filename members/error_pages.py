"""The site's own 404 page, in the member's language and with the member's menu.

A URL no pattern matches never reaches a view, so MemberMiddleware.process_view never ran:
this handler looks the member up itself. Under /api/ (and for the other errors) the answer
stays loyalty.base.api.problems'. The 500 page (templates/500.html) needs no database: it is
rendered by Django with the language already active and no context processors.
"""

import logging

from django.shortcuts import render

from loyalty.base.api import problems

from .middleware import member_attach

logger = logging.getLogger(__name__)


def page_not_found(request, exception=None):
    if request.path.startswith("/api/") or request.path.startswith("/admin/"):
        return problems.page_not_found(request, exception)
    if getattr(request, "member", None) is None and hasattr(request, "user"):
        try:
            member_attach(request)
        except Exception as error:  # the database out of reach: a plain 404 still helps
            logger.warning("The 404 page is shown without the member: %r", error)
    return render(request, "404.html", status=404)
