"""How the ledger words a referral's bonuses (loyalty.core.wording), registered in
ReferralsConfig.ready. The words never name the other member: whoever reads a ledger (a
partner too) sees only that a friend joined."""

from __future__ import annotations

from django.utils.translation import gettext as _

from loyalty.core.models import LedgerEntry

from .models import Referral


def referrals(entries: list[LedgerEntry], view) -> dict[int, str]:
    found = Referral.objects.only("referee_id").in_bulk({e.cause_id for e in entries})
    words = {}
    for entry in entries:
        referral = found.get(entry.cause_id)
        if referral is None:
            continue
        if entry.member_id == referral.referee_id:
            words[entry.pk] = _("Welcome bonus: you joined through a friend")
        else:
            words[entry.pk] = _("Referral bonus: a friend you invited joined")
    return words
