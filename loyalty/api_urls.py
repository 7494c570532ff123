"""URLs of the partner API v1 and its schema and docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts import api as members
from feedback import api as feedback
from loyalty.base.api.problems import PROBLEM_CONTENT_TYPE, api_not_found
from loyalty.core.api import purchases as views
from referrals import api as referrals
from rewards import api as rewards


class ProblemsInJSON:
    """The schema (YAML or JSON) and the docs (HTML) render their own formats, but their
    refusals (a method, an Accept or a format they do not serve) are problems in JSON like
    every other error of the API. GET and HEAD only: there is nothing else to ask of them."""

    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.content_type == PROBLEM_CONTENT_TYPE:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


class SchemaView(ProblemsInJSON, SpectacularAPIView):
    pass


class DocsView(ProblemsInJSON, SpectacularSwaggerView):
    pass


v1 = [
    path("members/", members.MemberListView.as_view(), name="members"),
    path("members/<str:member_number>/", members.MemberDetailView.as_view(), name="member"),
    path(
        "members/<str:member_number>/ledger/",
        members.MemberLedgerView.as_view(),
        name="member-ledger",
    ),
    path(
        "members/<str:member_number>/referrals/",
        referrals.MemberReferralsView.as_view(),
        name="member-referrals",
    ),
    path("purchases/", views.PurchaseView.as_view(), name="purchases"),
    path(
        "purchases/<path:external_id>/refunds/", views.RefundView.as_view(), name="purchase-refunds"
    ),
    path("rewards/", rewards.RewardListView.as_view(), name="rewards"),
    path("redemptions/", rewards.RedemptionView.as_view(), name="redemptions"),
    path(
        "redemptions/<int:redemption_id>/cancel/",
        rewards.RedemptionCancelView.as_view(),
        name="redemption-cancel",
    ),
    path("vouchers/<str:code>/use/", rewards.VoucherUseView.as_view(), name="voucher-use"),
    path("feedback/", feedback.FeedbackView.as_view(), name="feedback"),
    path("feedback/<int:item_id>/", feedback.FeedbackDetailView.as_view(), name="feedback-item"),
]

urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^.*$", api_not_found),
]
