"""Referrals: codes, invitations with vouching, qualification, reversal, expiry, staff review.

How a referral goes
-------------------
A friend who joins with a member's code (the web sign-up, or `referral_code` on
POST /api/v1/members/) gets a referral at once, in the enrolment's transaction (an unknown code
refuses the enrolment with invalid_referral_code, so nothing is created). It is

- ``pending`` while it waits for the friend's first purchase of at least
  REFERRAL_MIN_PURCHASE (in LOYALTY_CURRENCY; smaller purchases neither qualify nor spoil it)
  made within REFERRAL_QUALIFY_DAYS of joining;
- ``flagged`` while staff review it (a soft flag without a vouch, or the monthly cap);
- ``qualified`` once both bonuses (REFERRAL_BONUS_REFERRER, REFERRAL_BONUS_FRIEND) are paid,
  each a ``referral`` ledger entry caused by the referral, with a message to each member;
- ``rejected`` by a hard rule or by staff; ``expired`` when no qualifying purchase came in
  time (referrals_expire_due, a daily job); ``reversed`` when the qualifying purchase was
  refunded within REFERRAL_RETURN_WINDOW_DAYS so that less than the minimum was kept: both
  bonuses are taken back through the ledger, and what had already been spent is recorded as
  unrecovered on the referral.

Exactly once: the bonuses are paid only by the one transaction whose conditional UPDATE moves
the referral from pending (or flagged, by staff) to qualified; the UPDATE re-checks the status
under the referral's row lock, so two purchases at the same moment pay once. The bonus entries
are one-to-one fields of the referral as a second guard.

The abuse rules
---------------
Hard rules: the referral is kept as ``rejected`` with the rule's code in `flags` (staff can see
the attempt, and "one referral per referee" stops another try with another code); no bonus.
Vouching cannot lift them, because they are about who the friend is, not about trust.

- ``self_email``: the friend's canonical e-mail (referrals.emails: case, +tags, Gmail's dots)
  is the referrer's;
- ``not_new``: the friend is not new: another membership (closed ones too) signed up with the
  same canonical e-mail, or the friend already has purchases;
- ``chain``: the friend is the referrer's own referrer, up to CHAIN_DEPTH levels up;
- ``same_payment``: a purchase of the friend (the qualifying one or an earlier one) was paid
  with a payment fingerprint the referrer's own purchases used. Checked when the friend buys.

Soft flags: the referral waits for staff (``flagged``), unless the referrer vouched for the
friend, then it goes on as pending; either way the flag stays visible to staff. Friends often
sign up on the referrer's phone or live with them, so these are hints, not proof.

- ``same_device``: the friend signed up on the device the referrer signed up on;
- ``same_address``: the friend's address hash is the referrer's.

Review, always: ``monthly_cap``: the referrer already has REFERRAL_MONTHLY_CAP rewarded
referrals this calendar month. A vouch does not lift a volume limit; staff may approve.

Staff approval (referral_approve) pays at once when the qualifying purchase already happened,
otherwise lets the referral go on as pending; rejection ends it.

Locks: the friend's member row first (a purchase or refund holds it already), then the
referral's row (its conditional UPDATE), then the referrer's member row; every member's lots
after that member. Referrals only go from a new member to an older one and chains back are
refused, so two transactions can never wait on each other in a circle.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import MemberNotActive
from accounts.models import Member
from accounts.services import member_locked
from loyalty.base.errors import InvalidInput, NotAllowed
from loyalty.core.errors import InvalidPoints
from loyalty.core.ledger import points_credit, points_reverse
from loyalty.core.models import LedgerEntry, Purchase, Refund
from notifications.services import message_send

from .emails import canonical_email
from .errors import (
    InvalidReferralCode,
    ReferralNotReviewable,
)
from .models import Invitation, Referral, ReferralCode, SignupFingerprint

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U
CODE_LENGTH = 8
CHAIN_DEPTH = 5

SELF_EMAIL = "self_email"
NOT_NEW = "not_new"
CHAIN = "chain"
SAME_PAYMENT = "same_payment"
SAME_DEVICE = "same_device"
SAME_ADDRESS = "same_address"
MONTHLY_CAP = "monthly_cap"
HARD_FLAGS = frozenset({SELF_EMAIL, NOT_NEW, CHAIN, SAME_PAYMENT})
SOFT_FLAGS = frozenset({SAME_DEVICE, SAME_ADDRESS})
REVIEW_FLAGS = frozenset({MONTHLY_CAP})
FLAGS = HARD_FLAGS | SOFT_FLAGS | REVIEW_FLAGS

OPEN = (Referral.Status.PENDING, Referral.Status.FLAGGED)


# --- codes and links ------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw) -> str:
    """As people type or read it: any case, with spaces or dashes."""
    return "".join(str(raw or "").split()).replace("-", "").upper()


def join_url(code: str) -> str:
    """The member's link to share (and to put in the QR code): REFERRAL_JOIN_URL + code."""
    return f"{settings.REFERRAL_JOIN_URL}{code}"


def referral_code_ensure(*, member: Member) -> ReferralCode:
    """The member's code, made on first need (new members get theirs when they enrol)."""
    existing = ReferralCode.objects.filter(member_id=member.pk).first()
    if existing is not None:
        return existing
    for _ in range(10):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(member_id=member.pk, code=new_code())
        except IntegrityError:
            # Another request made the member's code, or (rarely) the code is taken: look again.
            existing = ReferralCode.objects.filter(member_id=member.pk).first()
            if existing is not None:
                return existing
    raise RuntimeError("Could not find a free referral code.")  # pragma: no cover


def referral_code_find(code) -> ReferralCode:
    """The code's row with its member; InvalidReferralCode if nobody active has it."""
    code = normalize_code(code)
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        raise InvalidReferralCode()
    found = ReferralCode.objects.select_related("member__user").filter(code=code).first()
    if found is None or found.member.status == Member.Status.CLOSED:
        raise InvalidReferralCode()
    return found


# --- enrolment ----------------------------------------------------------------------------------


def _clean_hash(value, field: str) -> str:
    value = str(value or "").strip()
    if len(value) > 128:
        raise InvalidInput("A hash has at most 128 characters.", field=field)
    return value


def _fingerprint_record(
    *, member: Member, device_hash: str = "", address_hash: str = ""
) -> SignupFingerprint:
    fingerprint, created = SignupFingerprint.objects.get_or_create(
        member_id=member.pk,
        defaults={
            "email_canonical": canonical_email(member.user.email),
            "device_hash": device_hash,
            "address_hash": address_hash,
        },
    )
    if not created:
        # Fill in what an earlier call did not know; never overwrite what sign-up recorded.
        given = {"device_hash": device_hash, "address_hash": address_hash}
        changed = [
            name for name, value in given.items() if value and not getattr(fingerprint, name)
        ]
        for name in changed:
            setattr(fingerprint, name, given[name])
        if changed:
            fingerprint.save(update_fields=changed)
    return fingerprint


@transaction.atomic
def signup_record(*, member: Member, signup) -> Referral | None:
    """The enrolment hook (loyalty.core.hooks), in the enrolment's transaction: remember the
    sign-up's fingerprint, give the member their own code, and start the referral if they came
    with one (signup: loyalty.core.enrolment.Signup)."""
    device_hash = _clean_hash(signup.device_hash, "device_hash")
    address_hash = _clean_hash(signup.address_hash, "address_hash")
    _fingerprint_record(member=member, device_hash=device_hash, address_hash=address_hash)
    referral_code_ensure(member=member)
    if not signup.referral_code:
        return None
    return referral_start(referee=member, code=signup.referral_code)


def _start_flags(*, referrer: Member, referee: Member, fingerprint: SignupFingerprint) -> list[str]:
    flags = []
    referrer_fingerprint = SignupFingerprint.objects.filter(member_id=referrer.pk).first()
    referrer_email = (
        referrer_fingerprint.email_canonical
        if referrer_fingerprint
        else canonical_email(referrer.user.email)
    )
    if fingerprint.email_canonical == referrer_email:
        flags.append(SELF_EMAIL)
    earlier_member = (
        SignupFingerprint.objects.filter(email_canonical=fingerprint.email_canonical)
        .exclude(member_id__in=[referee.pk, referrer.pk])
        .exists()
    )
    if earlier_member or Purchase.objects.filter(member_id=referee.pk).exists():
        flags.append(NOT_NEW)
    ancestor = referrer.pk
    for _ in range(CHAIN_DEPTH):
        ancestor = (
            Referral.objects.filter(referee_id=ancestor)
            .values_list("referrer_id", flat=True)
            .first()
        )
        if ancestor is None:
            break
        if ancestor == referee.pk:
            flags.append(CHAIN)
            break
    if referrer_fingerprint is not None:
        if fingerprint.device_hash and fingerprint.device_hash == referrer_fingerprint.device_hash:
            flags.append(SAME_DEVICE)
        if (
            fingerprint.address_hash
            and fingerprint.address_hash == referrer_fingerprint.address_hash
        ):
            flags.append(SAME_ADDRESS)
    return flags


def _status_for(flags, *, vouched: bool) -> str:
    if HARD_FLAGS.intersection(flags):
        return Referral.Status.REJECTED
    if REVIEW_FLAGS.intersection(flags) or (SOFT_FLAGS.intersection(flags) and not vouched):
        return Referral.Status.FLAGGED
    return Referral.Status.PENDING


@transaction.atomic
def referral_start(
    *,
    referee: Member,
    code: str,
    device_hash: str | None = None,
    address_hash: str | None = None,
) -> Referral:
    """Record that `referee` joined with `code`: pending, flagged for review, or rejected by a
    hard rule (see the module's docstring). A vouched invitation to the friend's address makes
    the referral vouched, lets it pass soft flags, and thanks the referrer for their trust.
    """
    found = referral_code_find(code)
    referrer = found.member
    if referrer.pk == referee.pk:
        raise InvalidReferralCode("This is your own referral code.")
    if Referral.objects.filter(referee_id=referee.pk).exists():
        raise InvalidReferralCode("This member already joined with a referral code.")
    fingerprint = _fingerprint_record(
        member=referee,
        device_hash=_clean_hash(device_hash, "device_hash"),
        address_hash=_clean_hash(address_hash, "address_hash"),
    )
    flags = _start_flags(referrer=referrer, referee=referee, fingerprint=fingerprint)
    invitation = (
        Invitation.objects.filter(
            referrer_id=referrer.pk, email_canonical=fingerprint.email_canonical
        )
        .order_by("-vouched", "-created_at")
        .first()
    )
    vouched = bool(invitation and invitation.vouched)
    status = _status_for(flags, vouched=vouched)
    today = timezone.localdate()
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                referrer=referrer,
                referee=referee,
                invitation=invitation,
                status=status,
                vouched=vouched,
                flags=flags,
                expires_on=today + timedelta(days=settings.REFERRAL_QUALIFY_DAYS),
            )
    except IntegrityError:
        raise InvalidReferralCode("This member already joined with a referral code.") from None
    if vouched and status != Referral.Status.REJECTED:
        message_send(
            referrer,
            "referral_vouch_thanks",
            {"friend_name": _first_name(referee)},
            dedupe_key=f"referral-{referral.pk}",
        )
    return referral


def _first_name(member: Member) -> str:
    return member.user.first_name or member.user.email.split("@")[0]


# --- qualification ------------------------------------------------------------------------------


def _min_purchase() -> Decimal:
    return Decimal(str(settings.REFERRAL_MIN_PURCHASE))


def _is_qualifying(purchase: Purchase, kept: Decimal | None = None) -> bool:
    amount = purchase.amount if kept is None else kept
    return purchase.currency == settings.LOYALTY_CURRENCY and amount >= _min_purchase()


def referral_check_purchase(*, purchase: Purchase) -> Referral | None:
    """The purchase hook (loyalty.core.hooks), inside the purchase's transaction with the buyer's
    row locked. It runs only for a member who was ever referred (the hook's `applies`), and costs
    one query when they have no open referral."""
    referral = (
        Referral.objects.filter(
            referee_id=purchase.member_id, status__in=OPEN, qualifying_purchase__isnull=True
        )
        .order_by()
        .first()
    )
    if referral is None or not _is_qualifying(purchase):
        return None
    if timezone.localdate(purchase.occurred_at) > referral.expires_on:
        return None
    return _qualify(referral=referral, purchase=purchase)


def _open_update(referral: Referral, **changes) -> bool:
    """Move an open referral on, only if nobody else did meanwhile (the exactly-once guard)."""
    return bool(
        Referral.objects.filter(
            pk=referral.pk, status=referral.status, qualifying_purchase__isnull=True
        ).update(**changes)
    )


def _shares_payment(referral: Referral) -> bool:
    friend_fingerprints = Purchase.objects.filter(
        member_id=referral.referee_id, payment_fingerprint__isnull=False
    ).values("payment_fingerprint")
    return Purchase.objects.filter(
        member_id=referral.referrer_id, payment_fingerprint__in=friend_fingerprints
    ).exists()


def _month_start(at: datetime) -> datetime:
    local = timezone.localtime(at)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _cap_reached(referral: Referral, at: datetime) -> bool:
    rewarded = Referral.objects.filter(
        referrer_id=referral.referrer_id,
        status=Referral.Status.QUALIFIED,
        qualified_at__gte=_month_start(at),
    ).count()
    return rewarded >= settings.REFERRAL_MONTHLY_CAP


def _qualify(*, referral: Referral, purchase: Purchase) -> Referral | None:
    at = timezone.now()
    if _shares_payment(referral):
        if _open_update(
            referral, status=Referral.Status.REJECTED, flags=[*referral.flags, SAME_PAYMENT]
        ):
            referral.status = Referral.Status.REJECTED
            referral.flags = [*referral.flags, SAME_PAYMENT]
            return referral
        return None
    if referral.status == Referral.Status.FLAGGED:
        # Staff decide; approving pays for this purchase.
        if _open_update(referral, qualifying_purchase=purchase):
            referral.qualifying_purchase = purchase
            return referral
        return None
    if _cap_reached(referral, at):
        flags = [*referral.flags, MONTHLY_CAP]
        if _open_update(
            referral, status=Referral.Status.FLAGGED, flags=flags, qualifying_purchase=purchase
        ):
            referral.status, referral.flags = Referral.Status.FLAGGED, flags
            referral.qualifying_purchase = purchase
            return referral
        return None
    if not _open_update(
        referral,
        status=Referral.Status.QUALIFIED,
        qualifying_purchase=purchase,
        qualified_at=at,
    ):
        return None
    referral.status, referral.qualifying_purchase, referral.qualified_at = (
        Referral.Status.QUALIFIED,
        purchase,
        at,
    )
    _pay(referral=referral, friend=purchase.member, at=at)
    return referral


def _pay(*, referral: Referral, friend: Member, at: datetime) -> None:
    """Both bonuses, in the transaction that made the referral qualified."""
    referrer = member_locked(referral.referrer_id, related=("user",))
    friend_points = settings.REFERRAL_BONUS_FRIEND
    referrer_points = settings.REFERRAL_BONUS_REFERRER
    if friend_points > 0:
        referral.friend_entry = points_credit(
            member=friend,
            points=friend_points,
            kind=LedgerEntry.Kind.REFERRAL,
            cause=referral,
            at=at,
        )
    # A closed membership earns nothing more; the friend still gets theirs.
    if referrer_points > 0 and referrer.status != Member.Status.CLOSED:
        referral.referrer_entry = points_credit(
            member=referrer,
            points=referrer_points,
            kind=LedgerEntry.Kind.REFERRAL,
            cause=referral,
            at=at,
        )
    referral.save(update_fields=["friend_entry", "referrer_entry"])
    key = f"referral-{referral.pk}"
    if referral.referrer_entry is not None:
        message_send(
            referrer,
            "referral_qualified_referrer",
            {"friend_name": _first_name(friend), "points": referrer_points},
            dedupe_key=key,
        )
    if referral.friend_entry is not None:
        message_send(
            friend,
            "referral_qualified_friend",
            {"referrer_name": _first_name(referrer), "points": friend_points},
            dedupe_key=key,
        )


# --- refunds --------------------------------------------------------------------------------------


def referral_check_refund(*, refund: Refund) -> Referral | None:
    """The refund hook (loyalty.core.hooks), inside the refund's transaction (the buyer and the
    purchase are locked). If the purchase qualified a referral and the refunds leave less than
    the minimum, within the return window both bonuses are taken back (what was spent already
    is recorded as unrecovered); after the window the bonuses stay. A referral waiting for
    review loses the purchase and may qualify with another one."""
    purchase = refund.purchase
    referral = (
        Referral.objects.filter(
            qualifying_purchase_id=purchase.pk,
            status__in=[Referral.Status.QUALIFIED, Referral.Status.FLAGGED],
        )
        .order_by()
        .first()
    )
    if referral is None:
        return None
    refunded = sum(purchase.refunds.values_list("amount", flat=True), Decimal(0))
    if _is_qualifying(purchase, kept=purchase.amount - refunded):
        return None
    if referral.status == Referral.Status.FLAGGED:
        Referral.objects.filter(pk=referral.pk, status=Referral.Status.FLAGGED).update(
            qualifying_purchase=None
        )
        return referral
    window_ends = purchase.occurred_at + timedelta(days=settings.REFERRAL_RETURN_WINDOW_DAYS)
    if refund.created_at > window_ends:
        return None
    reversed_now = Referral.objects.filter(pk=referral.pk, status=Referral.Status.QUALIFIED).update(
        status=Referral.Status.REVERSED, reversed_at=refund.created_at
    )
    if not reversed_now:
        return None
    description = ""  # the cause, the refund, words it (loyalty.core.wording)
    referral.status = Referral.Status.REVERSED
    referral.reversed_at = refund.created_at
    referral.friend_points_unrecovered = _take_back(
        referral.friend_entry, cause=refund, description=description, at=refund.created_at
    )
    referral.referrer_points_unrecovered = _take_back(
        referral.referrer_entry, cause=refund, description=description, at=refund.created_at
    )
    referral.save(update_fields=["friend_points_unrecovered", "referrer_points_unrecovered"])
    return referral


def _take_back(entry: LedgerEntry | None, *, cause, description: str, at: datetime) -> int:
    """Reverse what is left of a bonus; the points that could not be taken back."""
    if entry is None:
        return 0
    try:
        result = points_reverse(entry=entry, cause=cause, description=description, at=at)
    except MemberNotActive:
        return entry.points  # a closed membership: nothing can be taken back
    except InvalidPoints:
        return 0  # already reversed in full (by staff)
    return result.points_unrecovered


# --- expiry ---------------------------------------------------------------------------------------


@transaction.atomic
def referrals_expire_due(*, today: date | None = None) -> int:
    """Expire the open referrals whose friend made no qualifying purchase by `expires_on`.
    Set-based (one UPDATE), safe to run twice; for the daily jobs. The number expired."""
    today = today or timezone.localdate()
    return Referral.objects.filter(
        status__in=OPEN, qualifying_purchase__isnull=True, expires_on__lt=today
    ).update(status=Referral.Status.EXPIRED)


# --- staff review ---------------------------------------------------------------------------------


def _check_staff(staff_user) -> None:
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed("Only staff can review referrals.")


def _clean_note(note) -> str:
    note = str(note or "").strip()
    if len(note) > 500:
        raise InvalidInput("A note has at most 500 characters.", field="note")
    return note


@transaction.atomic
def referral_approve(*, referral: Referral, staff_user, note: str = "") -> Referral:
    """Staff approve a referral waiting for review: the bonuses are paid now if the friend's
    qualifying purchase already happened; otherwise it goes on as pending."""
    _check_staff(staff_user)
    note = _clean_note(note)
    friend = Member.objects.select_for_update().get(pk=referral.referee_id)
    current = Referral.objects.select_for_update().get(pk=referral.pk)
    if current.status != Referral.Status.FLAGGED:
        raise ReferralNotReviewable()
    now = timezone.now()
    review = {"reviewed_by": staff_user, "reviewed_at": now, "review_note": note}
    if current.qualifying_purchase_id is None:
        Referral.objects.filter(pk=current.pk).update(status=Referral.Status.PENDING, **review)
    else:
        if friend.status == Member.Status.CLOSED:
            raise MemberNotActive()
        Referral.objects.filter(pk=current.pk).update(
            status=Referral.Status.QUALIFIED, qualified_at=now, **review
        )
        current.refresh_from_db()
        _pay(referral=current, friend=friend, at=now)
    current.refresh_from_db()
    return current


@transaction.atomic
def referral_reject(*, referral: Referral, staff_user, note: str = "") -> Referral:
    """Staff reject a referral that is waiting for review or pending: no bonus will be paid."""
    _check_staff(staff_user)
    note = _clean_note(note)
    changed = Referral.objects.filter(pk=referral.pk, status__in=OPEN).update(
        status=Referral.Status.REJECTED,
        reviewed_by=staff_user,
        reviewed_at=timezone.now(),
        review_note=note,
    )
    if not changed:
        raise ReferralNotReviewable()
    referral.refresh_from_db()
    return referral
