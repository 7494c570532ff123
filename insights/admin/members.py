"""The member's admin page with what the insights know of them (the retention sequence's
evaluation step): the core's member admin, registered again with a profile section."""

from __future__ import annotations

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from accounts.models import Member
from loyalty.core.admin.members import MemberAdmin as CoreMemberAdmin

from .. import selectors

admin.site.unregister(Member)


@admin.register(Member)
class MemberAdmin(CoreMemberAdmin):
    # (only for staff who may see the insights: it names contacts and feedback)
    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm("insights.view_memberinsight"):
            return (*fieldsets, (_("What we know of them"), {"fields": ("profile",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "profile")

    @admin.display(description=_("profile"))
    def profile(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        return render_to_string("admin/insights/_profile.html", selectors.member_profile(obj))
