"""The staff pages' site: Django's admin, with a second factor (django-otp, a TOTP app) required
of staff when LOYALTY_STAFF_OTP is on (the default unless DEBUG). A staff user without a
confirmed device cannot get in; `manage.py staff_otp_add EMAIL` gives them one."""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


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
