from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from .kinds import EmailKind, email_kind_register


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Messages to members")

    def ready(self):
        email_kind_register(
            EmailKind(
                "message",
                render="notifications.services.message_emails",
                sent="notifications.services.message_emailed",
            )
        )
