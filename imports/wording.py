"""The words of the ledger entries whose cause is an import: an opening balance brought over."""

from django.utils.translation import gettext as _


def opening_balances(entries, view) -> dict[int, str]:
    return {
        entry.pk: _("Points brought over from your previous loyalty programme") for entry in entries
    }
