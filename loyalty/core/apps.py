from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The points core. Its label stays "loyalty" (the app lived at loyalty/ before the floors
    were drawn), so its tables, migrations and admin URLs keep their names."""

    name = "loyalty.core"
    label = "loyalty"
    verbose_name = _("Points and tiers")
