from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Member pages")

    def ready(self):
        # (connects the receiver that counts failed logins per address)
        from . import auth  # noqa: F401
