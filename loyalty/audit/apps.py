from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "loyalty.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        from loyalty.audit.registry import register_audited_models
        from loyalty.core import hooks

        register_audited_models()
        hooks.member_hook_register(
            hooks.MemberHook("audit", erase="loyalty.audit.erasure.audit_trail_erase")
        )
