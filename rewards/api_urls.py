"""The rewards' endpoints of the partner API v1 (see loyalty/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("rewards/", api.RewardListView.as_view(), name="rewards"),
    path("redemptions/", api.RedemptionView.as_view(), name="redemptions"),
    path(
        "redemptions/<int:redemption_id>/cancel/",
        api.RedemptionCancelView.as_view(),
        name="redemption-cancel",
    ),
    path("vouchers/<str:code>/use/", api.VoucherUseView.as_view(), name="voucher-use"),
]
