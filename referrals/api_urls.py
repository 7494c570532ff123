"""The referrals' endpoints of the partner API v1 (see loyalty/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path(
        "members/<str:member_number>/referrals/",
        api.MemberReferralsView.as_view(),
        name="member-referrals",
    ),
]
