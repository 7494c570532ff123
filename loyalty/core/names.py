"""Names staff give in each of the program's languages (tiers, earning rules): members read
their own language's, or the English `name` where it is empty."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.base.languages import named


class NamesInLanguages(models.Model):
    """`name` (English, what staff and the ledger's records use) comes from the model; these are
    its other languages."""

    name_lt = models.CharField(_("name (Lithuanian)"), max_length=200, blank=True)
    name_bg = models.CharField(_("name (Bulgarian)"), max_length=200, blank=True)
    name_da = models.CharField(_("name (Danish)"), max_length=200, blank=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=200, blank=True)
    name_pl = models.CharField(_("name (Polish)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def local_name(self) -> str:
        """The name in the active language."""
        return named(self)

    def name_in(self, language: str) -> str:
        return named(self, language)
