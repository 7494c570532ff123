"""Staff pages for referrals: who referred (and vouched for) whom, the review queue, the
conversion rate, invitations and codes.

Everything here is history and read-only; the one thing staff decide is a flagged referral's
fate, through referrals.services.referral_approve and referral_reject (approving pays the
bonuses when the friend's qualifying purchase already happened).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.base.staff import ReadOnlyAdmin

from . import selectors, services
from .models import FlaggedReferral, Invitation, Referral, ReferralCode

FLAG_LABELS = {
    services.SELF_EMAIL: _("same e-mail as the referrer"),
    services.NOT_NEW: _("not a new customer"),
    services.CHAIN: _("referral chain back to the referrer"),
    services.SAME_PAYMENT: _("same means of payment as the referrer"),
    services.SAME_DEVICE: _("signed up on the referrer's device"),
    services.SAME_ADDRESS: _("same address as the referrer"),
    services.MONTHLY_CAP: _("referrer's monthly cap reached"),
}


def _member_link(member) -> str:
    url = reverse("admin:accounts_member_change", args=[member.pk])
    return format_html('<a href="{}">{}</a>', url, member)


class HasFlagsFilter(admin.SimpleListFilter):
    title = _("abuse flags")
    parameter_name = "flags"

    def lookups(self, request, model_admin):
        return [
            ("any", _("Any flag")),
            ("none", _("No flags")),
            *((code, FLAG_LABELS[code]) for code in sorted(services.FLAGS)),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.exclude(flags=[])
        if value == "none":
            return queryset.filter(flags=[])
        if value in services.FLAGS:
            # JSON containment is not on every backend; the code is a plain word in the list.
            return queryset.filter(flags__icontains=f'"{value}"')
        return queryset


class ReferralAdminBase(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "referrer",
        "referee",
        "vouched",
        "status",
        "flag_list",
        "expires_on",
        "qualified_at",
    )
    list_select_related = ("referrer__user", "referee__user")
    list_filter = ("status", "vouched", HasFlagsFilter, "created_at")
    search_fields = (
        "=referrer__member_number",
        "=referrer__user__email",
        "=referee__member_number",
        "=referee__user__email",
    )
    search_help_text = _("The exact member number or e-mail address of either member.")
    actions = ("approve", "reject")
    fields = (
        "created_at",
        "referrer_display",
        "referee_display",
        "vouched",
        "invitation",
        "status",
        "flag_list",
        "expires_on",
        "qualifying_purchase",
        "qualified_at",
        "referrer_entry",
        "friend_entry",
        "reversed_at",
        "referrer_points_unrecovered",
        "friend_points_unrecovered",
        "reviewed_by",
        "reviewed_at",
        "review_note",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "referrer__user",
                "referee__user",
                "invitation",
                "qualifying_purchase__partner",
                "referrer_entry",
                "friend_entry",
                "reviewed_by",
            )
        )

    def has_review_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description=_("referrer"))
    def referrer_display(self, obj):
        return _member_link(obj.referrer)

    @admin.display(description=_("friend"))
    def referee_display(self, obj):
        return _member_link(obj.referee)

    @admin.display(description=_("flags"))
    def flag_list(self, obj):
        return ", ".join(str(FLAG_LABELS.get(code, code)) for code in obj.flags) or "-"

    # --- actions ---------------------------------------------------------------------------

    def _review(self, request, queryset, service, done):
        for referral in queryset.select_related("referrer", "referee").order_by("pk"):
            label = f"{referral.referrer.member_number} → {referral.referee.member_number}"
            try:
                result = service(referral=referral, staff_user=request.user)
            except LoyaltyError as exc:
                self.message_user(
                    request,
                    _("%(referral)s: %(error)s Nothing was changed.")
                    % {"referral": label, "error": exc.message},
                    messages.ERROR,
                )
            else:
                self.log_change(request, referral, f"{done}: {result.status}")
                self.message_user(
                    request,
                    _("%(referral)s: %(status)s.")
                    % {"referral": label, "status": result.get_status_display()},
                )

    @admin.action(
        description=_("Approve selected referrals (pays now if the friend already bought)"),
        permissions=["review"],
    )
    def approve(self, request, queryset):
        self._review(request, queryset, services.referral_approve, "Approved")

    @admin.action(description=_("Reject selected referrals"), permissions=["review"])
    def reject(self, request, queryset):
        self._review(request, queryset, services.referral_reject, "Rejected")


@admin.register(Referral)
class ReferralAdmin(ReferralAdminBase):
    """Every referral, with the conversion rate per month above the list."""

    change_list_template = "admin/referrals/referral/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "conversion_months": selectors.conversion_by_month(),
            "conversion_overall": selectors.conversion_overall(),
        }
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(FlaggedReferral)
class FlaggedReferralAdmin(ReferralAdminBase):
    """The review queue: only referrals waiting for staff, oldest first."""

    list_filter = ("vouched", HasFlagsFilter)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=Referral.Status.FLAGGED).order_by("pk")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "referrer", "email", "vouched", "sent_at")
    list_select_related = ("referrer__user",)
    list_filter = ("vouched", "created_at")
    search_fields = ("=referrer__member_number", "=referrer__user__email", "email")
    fields = ("created_at", "referrer", "email", "vouched", "sent_at")


@admin.register(ReferralCode)
class ReferralCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "member", "created_at")
    list_select_related = ("member__user",)
    search_fields = ("=code", "=member__member_number", "=member__user__email")
    fields = ("code", "member", "created_at")
