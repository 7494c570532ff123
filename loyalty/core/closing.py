"""Closing an account: a member leaves the program (from their profile, or as the first part of
an erasure, loyalty.core.erasure).

Closing is final. In one transaction, under the member's row lock: the features let go of what
still hangs on the member (member hooks: rewards cancels unused vouchers, referrals withdraws
invitations a friend never took up), what remains of every point lot expires (the core's own
`expire` entries, one per lot with the lot as its cause: no new kind of entry), the membership
is closed and the user can no longer log in. The history stays: ledger, purchases and totals
add up as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Member
from notifications.services import message_send

from . import hooks
from .expiry import _expire_due_lots
from .ledger import member_lock
from .models import Pause

# status_reason of a membership its member closed (staff read it; no person's words in it)
CLOSED_BY_MEMBER = "Closed by the member."


@dataclass(frozen=True)
class Closed:
    """What closing did: the points that expired."""

    member: Member
    points_expired: int


@transaction.atomic
def member_close(*, member: Member, by=None, reason: str = "", notify: bool = True) -> Closed:
    """Close the member's account for good: vouchers cancelled and invitations withdrawn (the
    member hooks), every remaining point expired, status closed, the user deactivated, and a
    goodbye message (`account_closed`) unless `notify` is False (an erasure sends none).

    `by` is who asked: the member's own user, or the staff user closing (with `reason`, staff's
    words) or erasing. A closed member is
    refused (MemberNotActive), so closing twice changes nothing.
    """
    locked = member_lock(member.pk)  # the member's row alone; closed: MemberNotActive
    _pauses_close(locked)
    for hook in hooks.member_hooks():
        hook.run_close(member=locked)
    # the hooks may have given points back (a cancelled voucher): read the number after them
    _entries, expired = _expire_due_lots(
        numbers={locked.pk: locked.member_number}, today=timezone.localdate(), every_lot=True
    )
    points = sum(item.points for item in expired)
    Member.objects.filter(pk=locked.pk).update(
        status=Member.Status.CLOSED,
        status_reason=CLOSED_BY_MEMBER
        if by is not None and by.pk == locked.user_id
        else (reason or "").strip()[:500],
    )
    locked.refresh_from_db()
    user = locked.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    if notify:
        message_send(
            locked,
            "account_closed",
            {"points": points},
            dedupe_key="account_closed",
        )
    member.status = locked.status
    member.points_balance = locked.points_balance
    return Closed(member=locked, points_expired=points)


def _pauses_close(member: Member) -> None:
    """A break ends with the membership: a running pause ends today, a request waiting for
    staff is refused (no one is told: the goodbye message says what matters)."""
    today = timezone.localdate()
    Pause.objects.filter(member=member, status=Pause.Status.RUNNING).update(
        status=Pause.Status.ENDED, ended_on=today
    )
    Pause.objects.filter(member=member, status=Pause.Status.REQUESTED).update(
        status=Pause.Status.REFUSED, decided_at=timezone.now()
    )
