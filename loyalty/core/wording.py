"""The words of a ledger entry, rendered when shown, in the reader's language (invariant 8).

An entry keeps its kind and its cause; its words come from them here, in the active language,
for whoever reads: the member's pages, the data download, the staff admin and the partner API
(members.api). Nothing English is stored for a person to read: an old entry's `description`
is not shown to members, its cause says the same. The core words its own causes (a purchase, a
refund, an expired lot, the member's welcome gift, a correction of an entry, a staff
adjustment); a feature words its own (hooks.LedgerWording, registered in its AppConfig.ready):
one query per kind of cause on a page, none for an entry whose words need nothing loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from loyalty.base.formats import money

from . import hooks
from .models import LedgerEntry, PointLot, Purchase, Refund


@dataclass(frozen=True)
class LedgerView:
    """Who reads. A member sees where they bought and for how much, not a till's ids; staff
    see every id; a partner (the API) sees the ids of its own purchases and refunds and, of
    another partner's, only that partner's name."""

    staff: bool = False
    partner_id: int | None = None

    def sees_ids(self, partner_id: int) -> bool:
        return self.staff or self.partner_id == partner_id

    def sees_amount(self, partner_id: int) -> bool:
        return self.partner_id is None or self.partner_id == partner_id


MEMBER = LedgerView()
STAFF = LedgerView(staff=True)


def day(value) -> str:
    """A date in the active language's DATE_FORMAT."""
    return date_format(value, "DATE_FORMAT")


def purchase_words(purchase: Purchase, view: LedgerView = MEMBER) -> str:
    partner = purchase.partner
    amount = money(purchase.amount, purchase.currency)
    if view.sees_ids(partner.pk):
        return _("Purchase %(number)s of %(amount)s at %(partner)s") % {
            "number": purchase.external_id,
            "amount": amount,
            "partner": partner.name,
        }
    if view.sees_amount(partner.pk):
        return _("Purchase of %(amount)s at %(partner)s") % {
            "amount": amount,
            "partner": partner.name,
        }
    return _("Purchase at %(partner)s") % {"partner": partner.name}


def _refunds(entries: list[LedgerEntry], view: LedgerView) -> dict[int, str]:
    found = Refund.objects.select_related("purchase__partner").in_bulk(
        {e.cause_id for e in entries}
    )
    words = {}
    for entry in entries:
        refund = found.get(entry.cause_id)
        if refund is None:
            continue
        partner = refund.purchase.partner
        if (
            entry.purchase_id is None
        ):  # a bonus (a referral's) taken back, not the purchase's points
            words[entry.pk] = _(
                "Bonus taken back because a purchase at %(partner)s was refunded"
            ) % {"partner": partner.name}
        elif view.sees_ids(partner.pk):
            words[entry.pk] = _(
                "Taken back because of refund %(refund)s of purchase %(number)s at %(partner)s"
            ) % {
                "refund": refund.external_id,
                "number": refund.purchase.external_id,
                "partner": partner.name,
            }
        else:
            words[entry.pk] = _("Taken back because a purchase at %(partner)s was refunded") % {
                "partner": partner.name
            }
    return words


def _lots(entries: list[LedgerEntry], view: LedgerView) -> dict[int, str]:
    found = PointLot.objects.only("expires_on").in_bulk({e.cause_id for e in entries})
    words = {}
    for entry in entries:
        lot = found.get(entry.cause_id)
        if lot is None:
            continue
        # A lot taken before its date (or one that never expires): the membership was closed.
        if lot.expires_on is None or lot.expires_on > timezone.localdate(entry.created_at):
            words[entry.pk] = _("Points expired because the membership was closed")
        else:
            words[entry.pk] = _("Points not used in time expired on %(date)s") % {
                "date": day(lot.expires_on)
            }
    return words


def _welcome(entries: list[LedgerEntry], view: LedgerView) -> dict[int, str]:
    return {entry.pk: _("Welcome gift") for entry in entries}


def _corrections(entries: list[LedgerEntry], view: LedgerView) -> dict[int, str]:
    return {entry.pk: _("Correction of an earlier entry") for entry in entries}


CORE_WORDINGS = {
    "loyalty.refund": _refunds,
    "loyalty.pointlot": _lots,
    "accounts.member": _welcome,
    "loyalty.ledgerentry": _corrections,
}


def _by_cause(entries: list[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    groups: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.cause_type_id is not None:
            kind = ContentType.objects.get_for_id(entry.cause_type_id)  # cached by Django
            groups.setdefault(f"{kind.app_label}.{kind.model}", []).append(entry)
    return groups


def _purchases(entries: list[LedgerEntry]) -> dict[int, Purchase]:
    """The entries' purchases: the ones loaded with them, the rest in one query."""
    missing = {
        e.purchase_id
        for e in entries
        if e.purchase_id is not None and not LedgerEntry.purchase.is_cached(e)
    }
    found = Purchase.objects.select_related("partner").in_bulk(missing) if missing else {}
    return {
        e.pk: e.purchase if LedgerEntry.purchase.is_cached(e) else found[e.purchase_id]
        for e in entries
        if e.purchase_id is not None
    }


def entries_word(entries: Iterable[LedgerEntry], *, view: LedgerView = MEMBER) -> list:
    """Give each entry its `words`, in the active language, for `view`'s reader."""
    entries = list(entries)
    words: dict[int, str] = {}
    wordings = {**CORE_WORDINGS, **{k: w.words for k, w in hooks.ledger_wordings().items()}}
    for label, group in _by_cause(entries).items():
        if label in wordings:
            words.update(wordings[label](group, view))
    by_purchase = [e for e in entries if e.pk not in words]
    kinds = {e.pk: e.kind for e in by_purchase}
    for pk, purchase in _purchases(by_purchase).items():
        if kinds[pk] == LedgerEntry.Kind.EARN:
            words[pk] = purchase_words(purchase, view)
        else:  # a purchase's points taken back by hand, without a refund
            words[pk] = _("Points of a purchase at %(partner)s taken back") % {
                "partner": purchase.partner.name
            }
    for entry in entries:
        if entry.pk in words:
            entry.words = words[entry.pk]
        elif entry.kind == LedgerEntry.Kind.ADJUST:
            entry.words = _("Our staff noted: %(reason)s") % {"reason": entry.reason}
        else:  # a cause nobody words (an app removed): what kind of change it was
            entry.words = str(entry.get_kind_display())
    return entries


def entry_words(entry: LedgerEntry, *, view: LedgerView = MEMBER) -> str:
    return entries_word([entry], view=view)[0].words
