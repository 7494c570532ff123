"""The staff dashboard: the latest nightly Snapshot as panels (insights.dashboard), each with a
chart, a table and a CSV download of that same table. Staff with the permission to view
snapshots (or superusers) see it; it reads one row whatever the program's size."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from loyalty.base.staff import csv_response

from . import dashboard, words
from .figures import snapshot_latest
from .ladder import policy_current
from .models import Snapshot

PERMISSION = "insights.view_snapshot"


def _allowed(request) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied


def dashboard_view(request):
    _allowed(request)
    snapshot = snapshot_latest()
    panels = dashboard.panels(snapshot.figures, settings.LOYALTY_CURRENCY) if snapshot else []
    return TemplateResponse(
        request,
        "admin/insights/dashboard.html",
        {
            **admin.site.each_context(request),
            "title": _("Dashboard"),
            "snapshot": snapshot,
            "panels": panels,
            "rules": words.rung_rules(policy_current()),
            "opts": Snapshot._meta,
        },
    )


def dashboard_csv(request, key: str):
    _allowed(request)
    snapshot = snapshot_latest()
    panel = dashboard.panel(snapshot.figures, settings.LOYALTY_CURRENCY, key) if snapshot else None
    if panel is None:
        raise Http404
    return csv_response(f"{key}-{snapshot.day}.csv", panel.header, panel.rows)
