"""How the ledger words a campaign's gift (loyalty.core.wording), registered in
InsightsConfig.ready: the card in the member's inbox says the rest, so nothing is loaded."""

from __future__ import annotations

from django.utils.translation import gettext as _

from loyalty.core.models import LedgerEntry


def campaign_members(entries: list[LedgerEntry], view) -> dict[int, str]:
    return {entry.pk: _("A gift from us, with a card in your inbox") for entry in entries}
