from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from loyalty.core import hooks


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = _("Imports")

    def ready(self):
        # An opening balance a members' import brought over names its import as its cause.
        hooks.ledger_wording_register(
            hooks.LedgerWording("imports", "imports.ImportJob", "imports.wording.opening_balances")
        )
