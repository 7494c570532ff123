"""How the ledger words the thank-you points for feedback that led to a change
(loyalty.core.wording), registered in FeedbackConfig.ready: the item's number is the cause's
id, so nothing is loaded."""

from __future__ import annotations

from django.utils.translation import gettext as _

from loyalty.core.models import LedgerEntry


def items(entries: list[LedgerEntry], view) -> dict[int, str]:
    return {
        entry.pk: _("Thank you: your feedback no. %(number)s led to a change")
        % {"number": entry.cause_id}
        for entry in entries
    }
