"""The feedback book's endpoints of the partner API v1 (see loyalty/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("feedback/", api.FeedbackView.as_view(), name="feedback"),
    path("feedback/<int:item_id>/", api.FeedbackDetailView.as_view(), name="feedback-item"),
]
