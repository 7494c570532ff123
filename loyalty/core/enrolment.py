"""Enrolment: a new member, from the partner API or the web sign-up.

The account and the membership are accounts' (member_create); the core adds what makes it a
membership of the program, in the same transaction: the entry tier, the enrolment hooks of the
features (referrals: the member's own code, and a referral if a friend's code came along; a hook
that refuses, refuses the enrolment), the welcome gift of points, the welcome message and the
member.enrolled event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction

from accounts.models import Member, Partner
from accounts.services import member_create
from notifications.services import message_send
from webhooks.services import event_emit

from . import hooks
from .ledger import points_credit
from .models import LedgerEntry, Tier


@dataclass(frozen=True)
class Signup:
    """What came with a sign-up besides the member's own details, for the enrolment hooks: the
    partner that enrolled them (none for a web sign-up), a code a friend gave them, and opaque
    hashes of the device and the address the web sign-up saw."""

    partner: Partner | None = None
    referral_code: str | None = None
    device_hash: str | None = None
    address_hash: str | None = None


@transaction.atomic
def member_enroll(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    language: str | None = None,
    birthday=None,
    password: str | None = None,
    joined_on: date | None = None,
    delight: str | None = None,
    referral_code: str | None = None,
    partner: Partner | None = None,
    device_hash: str | None = None,
    address_hash: str | None = None,
    at: datetime | None = None,
    member_number: str | None = None,
    welcome: bool = True,
) -> Member:
    """Enrol a member (see accounts.services.member_create for who may be enrolled). Without a
    password the member can claim the web account later.

    `partner` is the partner that enrolled them (none for a web sign-up). `referral_code` starts
    a referral in this transaction (an unknown code refuses the enrolment); `device_hash` and
    `address_hash` are opaque hashes the web sign-up passes for the referral abuse checks.
    `at` dates the welcome gift (the demo's history enrols members in the past; default now).
    `member_number`: the number a member brought over keeps (accounts.services.member_create).
    `welcome=False` (members an import brings over from another program): no welcome gift,
    message or member.enrolled event; they are members already, and hear nothing of the move.
    """
    member = member_create(
        email=email,
        first_name=first_name,
        last_name=last_name,
        language=language,
        birthday=birthday,
        password=password,
        joined_on=joined_on,
        delight=delight,
        tier=Tier.objects.order_by("rank").first(),
        member_number=member_number,
    )
    signup = Signup(
        partner=partner,
        referral_code=referral_code,
        device_hash=device_hash,
        address_hash=address_hash,
    )
    for hook in hooks.enrolment_hooks():
        hook.run(member=member, signup=signup)
    if not welcome:
        return member
    if settings.LOYALTY_WELCOME_POINTS:
        points_credit(
            member=member,
            points=settings.LOYALTY_WELCOME_POINTS,
            kind=LedgerEntry.Kind.GIFT,
            cause=member,
            at=at,
        )
    message_send(
        member, "welcome", {"welcome_points": settings.LOYALTY_WELCOME_POINTS}, dedupe_key="welcome"
    )
    event_emit(
        event_type="member.enrolled",
        partner=partner,
        member_id=member.pk,
        payload={
            "member_number": member.member_number,
            "email": member.user.email,
            "joined_on": member.joined_on.isoformat(),
        },
    )
    return member
