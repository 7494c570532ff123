"""Top-level URLs: the admin, the partner API and the member site."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from loyalty import ops

handler400 = "loyalty.base.api.problems.bad_request"
handler403 = "loyalty.base.api.problems.permission_denied"
handler404 = "members.error_pages.page_not_found"
handler500 = "loyalty.base.api.problems.server_error"

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include(("loyalty.api_urls", "api"))),
    path("", include("feedback.urls")),
    path("", include("members.urls")),
]

if settings.SERVE_MEDIA:
    # Small deployments let Django serve uploaded images; larger ones serve /media/ from a proxy.
    urlpatterns.append(
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )
