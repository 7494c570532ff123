"""The staff dashboard: the latest nightly Snapshot as panels (insights.dashboard), each with a
chart, a table and a CSV download of that same table. Staff with the permission to view
snapshots (or superusers) see it; it reads one row whatever the program's size."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

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


def _csv_cell(value):
    # A cell that would start a spreadsheet formula is written as text.
    text = str(value)
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text
    )


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def dashboard_csv(request, key: str):
    _allowed(request)
    snapshot = snapshot_latest()
    panel = dashboard.panel(snapshot.figures, settings.LOYALTY_CURRENCY, key) if snapshot else None
    if panel is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{key}-{snapshot.day}.csv"'
    writer = csv.writer(response)
    writer.writerow([_csv_cell(cell) for cell in panel.header])
    for row in panel.rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return response
