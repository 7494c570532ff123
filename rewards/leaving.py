"""What rewards does when a member leaves (loyalty.core.hooks.MemberHook, registered in apps.py).

Closing: every unused voucher is settled before the points expire. One still valid is
cancelled (its points come back, then expire with the rest, and the stock is returned); one
past its date expires as the expiry job would have done it. The vouchers' rows are locked
first (a till may be using one at this moment): one the till used meanwhile is settled as
used. Erasure: a redemption's cancel reason is staff's words and may quote the person; a
gift's personal note was written to the person, whatever it says: it is blanked."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Member
from loyalty.base.personal import Personal

from .models import Gift, Redemption, Voucher
from .services import redemption_cancel, voucher_expire

CLOSING_REASON = "The member closed their account."


def unused_vouchers(*, member: Member):
    return Voucher.objects.filter(redemption__member=member, status=Voucher.Status.ISSUED)


def rewards_close(*, member: Member) -> int:
    """Cancel (or expire, if past their date) the member's unused vouchers; how many."""
    today = timezone.localdate()
    # the vouchers' rows alone, in id order: a till's use waiting on one then finds it
    # cancelled; one a till used first is re-read once its lock is ours, no longer issued, and
    # left out (it is settled: used)
    vouchers = list(
        unused_vouchers(member=member)
        .select_for_update(of=("self",))
        .select_related("redemption")
        .order_by("pk")
    )
    for voucher in vouchers:
        if voucher.expires_on < today:
            voucher_expire(voucher=voucher, today=today)
        else:
            redemption_cancel(redemption=voucher.redemption, reason=CLOSING_REASON)
    return len(vouchers)


def rewards_erase(*, member: Member, personal: Personal) -> None:
    for redemption in Redemption.objects.filter(member=member).exclude(cancel_reason=""):
        if personal.mentioned_in(redemption.cancel_reason):
            Redemption.objects.filter(pk=redemption.pk).update(
                cancel_reason=personal.scrub(redemption.cancel_reason)
            )
    Gift.objects.filter(member=member).exclude(note="").update(note="")
