"""The partner API: v1 gathered from the apps that serve it, the schema and the docs; anything
else under /api/ is a JSON 404. Each app keeps its own endpoints in its api_urls.py."""

from django.urls import include, path, re_path

from loyalty.base.api.docs import DocsView, SchemaView
from loyalty.base.api.problems import api_not_found

# In this order the schema lists them, as it always has.
V1_APPS = [
    "members.api_urls",
    "referrals.api_urls",
    "loyalty.core.api.urls",
    "rewards.api_urls",
    "feedback.api_urls",
]

urlpatterns = [
    path("v1/", include(([path("", include(module)) for module in V1_APPS], "v1"))),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^[\s\S]*$", api_not_found),  # (a newline in the path too)
]
