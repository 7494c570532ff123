"""The member resource of the partner API v1 (see loyalty/api_urls.py)."""

from django.urls import path

from . import api

urlpatterns = [
    path("members/", api.MemberListView.as_view(), name="members"),
    path("members/<str:member_number>/", api.MemberDetailView.as_view(), name="member"),
    path(
        "members/<str:member_number>/ledger/",
        api.MemberLedgerView.as_view(),
        name="member-ledger",
    ),
]
