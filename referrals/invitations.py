"""E-mail invitations: a member invites a friend by address (a few a day), and may vouch for
them; the e-mail goes after commit, once. A vouched invitation lifts the soft flags of the
friend's referral (services.referral_start)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member, User
from accounts.services import member_locked
from loyalty.base.errors import InvalidInput
from loyalty.base.text import plain_line
from notifications.outbox import email_enqueue, email_send_for
from notifications.params import params_decode, params_encode
from notifications.services import render_message

from .emails import canonical_email
from .errors import AlreadyInvited, InvitationLimitReached
from .models import Invitation, SignupFingerprint
from .services import join_url, referral_code_ensure


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def invitations_left_today(*, member: Member, now: datetime | None = None) -> int:
    sent = Invitation.objects.filter(
        referrer_id=member.pk, created_at__gte=_day_start(now or timezone.now())
    ).count()
    return max(settings.REFERRAL_INVITES_PER_DAY - sent, 0)


@transaction.atomic
def referral_invite(
    *, referrer: Member, email: str, vouched: bool = False, now: datetime | None = None
) -> Invitation:
    """Invite a friend by e-mail (at most REFERRAL_INVITES_PER_DAY a day), perhaps vouching
    for them. The e-mail with the join link goes out after commit. An address that already
    belongs to a member gets no e-mail, and the member inviting is not told so (another
    person's membership is not theirs to learn); the invitation is recorded all the same.
    """
    email = str(email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid e-mail address.", field="email") from None
    canonical = canonical_email(email)
    now = now or timezone.now()
    # The member's row lock makes two invitations at once queue up, so the daily cap holds.
    locked = member_locked(referrer.pk, related=("user",))
    if locked.status == Member.Status.CLOSED:
        raise MemberNotActive()
    if canonical == canonical_email(locked.user.email):
        raise InvalidInput("You cannot invite yourself.", field="email")
    if Invitation.objects.filter(referrer_id=referrer.pk, email_canonical=canonical).exists():
        raise AlreadyInvited()
    if invitations_left_today(member=referrer, now=now) <= 0:
        raise InvitationLimitReached()
    invitation = Invitation.objects.create(
        referrer_id=referrer.pk,
        email=email,
        email_canonical=canonical,
        vouched=bool(vouched),
        created_at=now,
    )
    is_member = (
        SignupFingerprint.objects.filter(email_canonical=canonical).exists()
        or User.objects.filter(email__iexact=email, member__isnull=False).exists()
    )
    if not is_member:
        email_enqueue(kind="invitation", object_id=invitation.pk, member_id=invitation.referrer_id)
    return invitation


def invitation_send_email(*, invitation_id: int) -> bool:
    """E-mail an invitation now, if its e-mail is still to go (the outbox's attempt)."""
    return email_send_for(kind="invitation", object_id=invitation_id)


def invitation_emails(invitation_id: int) -> list[EmailMessage]:
    """The invitation's e-mail (the "invitation" kind of the outbox), in the referrer's
    language. The referrer's name is member-written and goes to any address: one plain line."""
    invitation = (
        Invitation.objects.select_related("referrer__user").filter(pk=invitation_id).first()
    )
    if invitation is None:
        return []
    referrer = invitation.referrer
    code = referral_code_ensure(member=referrer)
    subject, body = render_message(
        kind="referral_invitation",
        language=referrer.language,
        # numbers in the reader's format, as a message's parameters are (notifications.params)
        context=params_decode(
            params_encode(
                {
                    "referrer_name": plain_line(referrer.display_name),
                    "join_url": join_url(code.code),
                    "code": code.display_code,
                    "vouched": invitation.vouched,
                    "days": settings.REFERRAL_QUALIFY_DAYS,
                    "bonus": settings.REFERRAL_BONUS_FRIEND,
                    "min_purchase": Decimal(str(settings.REFERRAL_MIN_PURCHASE)),
                    "currency": settings.LOYALTY_CURRENCY,
                }
            )
        ),
    )
    return [EmailMessage(subject, body, to=[invitation.email])]


def invitation_sent(invitation_id: int, at) -> None:
    Invitation.objects.filter(pk=invitation_id, sent_at__isnull=True).update(sent_at=at)
