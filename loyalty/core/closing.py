"""Closing an account: a member leaves the program (from their profile, or as the first part of
an erasure, loyalty.core.erasure).

Closing is final. In one transaction, under the member's row lock: the features let go of what
still hangs on the member (member hooks: rewards cancels unused vouchers, referrals withdraws
invitations a friend never took up), what remains of every point lot expires (the core's own
`expire` entries, one per lot with the lot as its cause: no new kind of entry), points still
pending in a return window are cancelled, the membership is closed and the user can no longer
log in. The history stays: ledger, purchases and totals
add up as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.errors import MemberIsStaff
from accounts.models import Member, User
from notifications.services import message_send

from . import hooks
from .expiry import _expire_due_lots
from .ledger import member_lock
from .models import Pause
from .pending import pending_cancel_all

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
    words, kept for staff; the member is told only that we closed it). A closed member is
    refused (MemberNotActive), so closing twice changes nothing; so is a staff user's own
    membership (MemberIsStaff: closing would end a staff login).
    """
    locked = member_lock(member.pk)  # the member's row alone; closed: MemberNotActive
    by_member = by is not None and by.pk == locked.user_id
    points = member_settle_and_close(
        member=locked, reason=CLOSED_BY_MEMBER if by_member else reason
    )
    if notify:
        message_send(
            locked,
            "account_closed",
            {"points": points, "by_staff": not by_member},
            # one goodbye per closing: a membership staff reopened may close again
            dedupe_key=f"account_closed:{timezone.now().isoformat()}",
        )
    member.status = locked.status
    member.points_balance = locked.points_balance
    return Closed(member=locked, points_expired=points)


def member_settle_and_close(*, member: Member, reason: str = "") -> int:
    """The two parts of closing, for a member whose row the caller has locked (member_close; an
    erasure, loyalty.core.erasure): settle (`member_settle`), then flip the status (closed, the
    login ended). How many points expired.

    A membership closed already, by a bare status change (accounts.services.member_set_status),
    may still hold vouchers and points; it is settled too: the ledger moves only an open
    member's points, so its status is open while it settles, inside this transaction and under
    the lock (no one else sees it), and closed again right after."""
    _refuse_staff(member)
    if member.status == Member.Status.CLOSED:
        Member.objects.filter(pk=member.pk).update(status=Member.Status.ACTIVE)
        member.status = Member.Status.ACTIVE
    points = member_settle(member=member)
    _status_close(member, reason=reason)
    return points


def member_settle(*, member: Member) -> int:
    """Let go of what hangs on an open member whose row is locked: pauses end, the member hooks
    run (vouchers cancelled, invitations withdrawn), then what remains of every point lot
    expires (read after the hooks: a cancelled voucher gives points back) and what is pending
    is cancelled. How many expired."""
    _pauses_close(member)
    pending_cancel_all(member=member)
    for hook in hooks.member_hooks():
        hook.run_close(member=member)
    _entries, expired = _expire_due_lots(
        numbers={member.pk: member.member_number}, today=timezone.localdate(), every_lot=True
    )
    return sum(item.points for item in expired)


def _status_close(member: Member, *, reason: str) -> None:
    """The status flip: closed with staff's reason (or CLOSED_BY_MEMBER), the login ended."""
    Member.objects.filter(pk=member.pk).update(
        status=Member.Status.CLOSED, status_reason=(reason or "").strip()[:500]
    )
    member.refresh_from_db()
    user = member.user
    user.is_active = False
    user.save(update_fields=["is_active"])


def _refuse_staff(member: Member) -> None:
    """A staff user's own membership stays open: closing or erasing it would end their login."""
    if (
        User.objects.filter(pk=member.user_id)
        .filter(Q(is_staff=True) | Q(is_superuser=True))
        .exists()
    ):
        raise MemberIsStaff()


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
