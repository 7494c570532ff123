"""The core's endpoints of the partner API v1: purchases and refunds (see loyalty/api_urls.py)."""

from django.urls import path

from . import purchases

urlpatterns = [
    path("purchases/", purchases.PurchaseView.as_view(), name="purchases"),
    path(
        "purchases/<path:external_id>/refunds/",
        purchases.RefundView.as_view(),
        name="purchase-refunds",
    ),
]
