"""URLs of the partner API v1 and its schema and docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as members
from feedback import api as feedback
from referrals import api as referrals
from rewards import api as rewards

from . import views
from .problems import api_not_found

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
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^.*$", api_not_found),
]
