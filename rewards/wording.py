"""How the ledger words the entries whose cause is a reward's (loyalty.core.wording): a
redemption, a voucher that expired unused, an occasion's grant, a staff gift. Registered in
RewardsConfig.ready; each loads its causes for all entries in one query."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.base.formats import num
from loyalty.core.models import LedgerEntry

from .models import Gift, OccasionGrant, Redemption, Voucher


def _quoted(reward) -> dict:
    return {"reward": reward.name}


def redemptions(entries: list[LedgerEntry], view) -> dict[int, str]:
    found = Redemption.objects.select_related("reward").in_bulk({e.cause_id for e in entries})
    words = {}
    for entry in entries:
        redemption = found.get(entry.cause_id)
        if redemption is None:
            continue
        if entry.kind == LedgerEntry.Kind.REVERSAL:  # redemption_cancel
            words[entry.pk] = _("Given back: the voucher for “%(reward)s” was cancelled") % (
                _quoted(redemption.reward)
            )
        else:
            words[entry.pk] = _("Spent on the reward “%(reward)s”") % _quoted(redemption.reward)
    return words


def vouchers(entries: list[LedgerEntry], view) -> dict[int, str]:
    """voucher_expire gives the points back of a reward that says so."""
    found = Voucher.objects.select_related("redemption__reward").in_bulk(
        {e.cause_id for e in entries}
    )
    return {
        entry.pk: _("Given back: the voucher for “%(reward)s” expired unused")
        % _quoted(found[entry.cause_id].redemption.reward)
        for entry in entries
        if entry.cause_id in found
    }


def grants(entries: list[LedgerEntry], view) -> dict[int, str]:
    found = OccasionGrant.objects.select_related("redemption__reward").in_bulk(
        {e.cause_id for e in entries}
    )
    words = {}
    for entry in entries:
        grant = found.get(entry.cause_id)
        if grant is None:
            continue
        if grant.occasion == OccasionGrant.Occasion.ANNIVERSARY:
            years = grant.years or 0
            words[entry.pk] = ngettext(
                "Anniversary thank-you: %(years)s year with us",
                "Anniversary thank-you: %(years)s years with us",
                years,
            ) % {"years": num(years)}
        elif grant.redemption_id is not None:
            words[entry.pk] = _("Birthday gift: “%(reward)s”") % _quoted(grant.redemption.reward)
        else:
            words[entry.pk] = _("Birthday gift")
    return words


def gifts(entries: list[LedgerEntry], view) -> dict[int, str]:
    found = Gift.objects.select_related("template").in_bulk({e.cause_id for e in entries})
    return {
        entry.pk: _("A gift from us: %(title)s") % {"title": found[entry.cause_id].template.title()}
        for entry in entries
        if entry.cause_id in found
    }
