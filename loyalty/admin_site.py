"""The staff pages' site: Django's admin, with a second factor (django-otp, a TOTP app) required
of staff when LOYALTY_STAFF_OTP is on (the default unless DEBUG). A staff user without a
confirmed device cannot get in; `manage.py staff_otp_add EMAIL` gives them one.

The index and the sidebar list the apps in the order of the staff's day (STAFF_APPS), not
alphabetically."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from loyalty.audit.records import audited

# The apps staff work in, most used first: members and their accounts, the points core (ledger,
# purchases, tiers, rules), rewards, the feedback book, the figures (insights, when it is
# installed), referrals, then the outboxes. Anything not named here (login throttling, the
# scheduler, second-factor devices, other third-party apps) follows, alphabetically, and
# Django's own users-and-groups app comes last: staff open those rarely, and an alphabetical
# index put "Axes" and "Periodic tasks" at the top.
STAFF_APPS = (
    "accounts",
    "loyalty",
    "rewards",
    "feedback",
    "insights",
    "referrals",
    "imports",
    "notifications",
    "webhooks",
    "auditlog",
)
LAST_APPS = ("auth", "contenttypes", "sites")

# Inside an app, what staff open daily comes before configuration; models not named keep
# Django's alphabetical order after these.
MODEL_ORDER = {
    "accounts": ("Member", "User", "Partner", "PartnerApiKey"),
    "loyalty": (
        "LedgerEntry",
        "Purchase",
        "Refund",
        "Anomaly",
        "AdjustmentRequest",
        "Pause",
        "TierChange",
        "PointLot",
        "Tier",
        "EarningRule",
        "PausePolicy",
        "AdjustmentPolicy",
        "JobRun",
    ),
    "rewards": (
        "Redemption",
        "Voucher",
        "Gift",
        "Reward",
        "CardTemplate",
        "BirthdayGiftSettings",
        "OccasionGrant",
    ),
    "feedback": (
        "FeedbackItem",
        "PublishedCase",
        "SurveyResponse",
        "AnswerTemplate",
        "ResponsePolicy",
    ),
    "insights": (
        "MemberInsight",
        "Campaign",
        "RuleDraft",
        "Outreach",
        "RungChange",
        "InsightsPolicy",
    ),
    "referrals": ("FlaggedReferral", "Referral", "Invitation", "ReferralCode"),
    "webhooks": ("WebhookEvent", "WebhookDelivery", "WebhookEndpoint"),
}


def _rank(order: tuple[str, ...], key: str) -> int:
    return order.index(key) if key in order else len(order)


def app_sort_key(app: dict) -> tuple:
    label = app["app_label"]
    if label in STAFF_APPS:
        return (0, STAFF_APPS.index(label), "")
    return (2 if label in LAST_APPS else 1, 0, str(app["name"]).lower())


class StaffAdminSite(OTPAdminSite):
    def __init__(self, name: str = "admin"):
        super().__init__(name)

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if settings.LOYALTY_STAFF_OTP else AdminAuthenticationForm

    @property
    def login_template(self):
        return "otp/admin111/login.html" if settings.LOYALTY_STAFF_OTP else None

    def has_permission(self, request) -> bool:
        if settings.LOYALTY_STAFF_OTP:
            return super().has_permission(request)  # verified by a device, too
        return AdminSite.has_permission(self, request)

    def admin_view(self, view, cacheable=False):
        """Every staff page, with its writes on the audit trail (loyalty.audit.records)."""
        return super().admin_view(audited(view), cacheable)

    def get_app_list(self, request, app_label=None):
        """The index and the sidebar: apps in the order of STAFF_APPS, models by MODEL_ORDER."""
        app_list = sorted(self._build_app_dict(request, app_label).values(), key=app_sort_key)
        for app in app_list:
            order = MODEL_ORDER.get(app["app_label"], ())
            app["models"].sort(
                key=lambda model, order=order: (
                    _rank(order, model["object_name"]),
                    str(model["name"]).lower(),
                )
            )
        return app_list
