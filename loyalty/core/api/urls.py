"""The core's endpoints of the partner API v1: purchases (alone and in batches) and refunds (see
loyalty/api_urls.py)."""

from django.urls import path

from . import batch, purchases

urlpatterns = [
    path("purchases/", purchases.PurchaseView.as_view(), name="purchases"),
    path("purchases/batch/", batch.PurchaseBatchView.as_view(), name="purchase-batch"),
    path(
        "purchases/<path:external_id>/refunds/",
        purchases.RefundView.as_view(),
        name="purchase-refunds",
    ),
]
