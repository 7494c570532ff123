from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "loyalty.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        from loyalty.audit.registry import register_audited_models

        register_audited_models()
