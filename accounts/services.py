"""Writes for users, members, partners and API keys (the last two in accounts.partners)."""

from __future__ import annotations

import calendar
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.base.errors import InvalidInput, NotAllowed, ReasonRequired

from .errors import (
    BirthdayNotPlausible,
    EmailUnavailable,
    MemberExists,
    MemberNotFound,
    MemberNumberUnavailable,
)
from .models import Erasure, Member, User, normalize_email
from .partners import (  # noqa: F401 (re-exported: the app's writes are reached from here)
    API_KEY_CACHE_SECONDS,
    PARTNER_EDITABLE,
    PARTNER_LIMITS,
    api_key_authenticate,
    api_key_authenticate_cached,
    api_key_cache_clear,
    api_key_create,
    api_key_revoke,
    api_key_set_scopes,
    clean_api_scopes,
    hash_api_key,
    partner_create,
    partner_update,
)

MEMBER_NUMBER_DIGITS = 8  # plus one check digit


# --- member numbers --------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def member_number_is_valid(number: str) -> bool:
    return (
        isinstance(number, str)
        and number.isdigit()
        and len(number) == MEMBER_NUMBER_DIGITS + 1
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_member_number() -> str:
    """Nine digits, the last a Luhn check digit, so a mistyped number is caught at the till."""
    body = str(
        secrets.randbelow(9 * 10 ** (MEMBER_NUMBER_DIGITS - 1)) + 10 ** (MEMBER_NUMBER_DIGITS - 1)
    )
    return body + luhn_check_digit(body)


def clean_member_number(number) -> str:
    number = re.sub(r"[\s-]", "", str(number or ""))
    if not member_number_is_valid(number):
        raise MemberNotFound()
    return number


def member_by_number(number: str) -> Member:
    number = clean_member_number(number)
    # a closed membership is no one's to partners (its member left, or was erased)
    queryset = Member.objects.select_related("user", "tier").exclude(status=Member.Status.CLOSED)
    try:
        return queryset.get(member_number=number)
    except Member.DoesNotExist:
        raise MemberNotFound() from None


# --- row locks ---------------------------------------------------------------------------------
#
# A member's row is locked alone, then what it points to is read. Under READ COMMITTED a SELECT
# ... FOR UPDATE that waited for the lock re-reads only the locked row: a joined row read with it
# (the tier, the user) is the one of before the wait, or none at all, so a member whose tier
# changed meanwhile came back with the new tier_id and NULL tier columns.


def members_locked(members: QuerySet, related: tuple[str, ...] = ()) -> list[Member]:
    """The queryset's members with their rows locked, in id order (the one lock order of every
    writer of several members), and `related` ("user", "tier") read after the lock."""
    locked = list(members.select_for_update().order_by("pk"))
    if related:
        prefetch_related_objects(locked, *related)
    return locked


def member_locked(member_id: int, related: tuple[str, ...] = ()) -> Member:
    """The member with their row locked and `related` read after the lock (MemberNotFound)."""
    found = members_locked(Member.objects.filter(pk=member_id), related)
    if not found:
        raise MemberNotFound()
    return found[0]


# --- birthdays ---------------------------------------------------------------------------------


_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
# Every day parse_birthday takes as written, and only those: "MM-DD" (29 February too) or
# "YYYY-MM-DD" (29 February in leap years only). The API's schema publishes it; whether the
# day is plausible (not in the future, not over 130 years ago) is checked after it.
BIRTHDAY_FORM = rf"(?:(?:[0-9]{{4}}-)?{_MONTH_DAY}|(?:{_LEAP_YEAR}-)?02-29)"


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None


def parse_birthday(value) -> Birthday | None:
    """Accepts "MM-DD", "YYYY-MM-DD", a date or a Birthday; refuses impossible days."""
    if value in (None, ""):
        return None
    if isinstance(value, Birthday):
        birthday = value
    elif isinstance(value, date):
        birthday = Birthday(value.month, value.day, value.year)
    elif isinstance(value, str) and (
        m := re.fullmatch(r"(?:([0-9]{4})-)?([0-9]{2})-([0-9]{2})", value)
    ):
        year = int(m[1]) if m[1] else None
        birthday = Birthday(int(m[2]), int(m[3]), year)
    else:
        raise InvalidInput("A birthday is written MM-DD or YYYY-MM-DD.", field="birthday")
    # 29 February is a real birthday; check the day against a leap year when no year is given.
    check_year = birthday.year or 2000
    if not 1 <= birthday.month <= 12 or not (
        1 <= birthday.day <= calendar.monthrange(check_year, birthday.month)[1]
    ):
        raise InvalidInput("That day does not exist.", field="birthday")
    today = timezone.localdate()
    if birthday.year is not None:
        if birthday.year < today.year - 130:
            raise BirthdayNotPlausible(field="birthday")
        if date(birthday.year, birthday.month, birthday.day) > today:
            raise BirthdayNotPlausible(_("A birthday cannot be in the future."), field="birthday")
    return birthday


# --- members -----------------------------------------------------------------------------------


def _clean_email(email) -> str:
    email = normalize_email(str(email or ""))
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid e-mail address.", field="email") from None
    return email


def _clean_language(language) -> str:
    language = (language or settings.LANGUAGE_CODE).lower()
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput("That language is not offered.", field="language")
    return language


def _clean_name(value, field: str) -> str:
    value = str(value or "").strip()
    if len(value) > 150:
        raise InvalidInput("A name has at most 150 characters.", field=field)
    return value


@transaction.atomic
def member_create(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    language: str | None = None,
    birthday=None,
    password: str | None = None,
    joined_on: date | None = None,
    delight: str | None = None,
    tier=None,
    member_number: str | None = None,
) -> Member:
    """The user and membership of an enrolment (loyalty.core.enrolment.member_enroll does the
    rest: the features' hooks, the welcome gift, the message). Without a password the member
    can claim the web account later. `tier`: the tier they start in (the core's entry tier).

    An account of ours without a membership becomes a member as it is, names and password
    untouched. Staff and superuser accounts never do (EmailUnavailable): a partner must not be
    able to turn one into a membership that its mailbox could then claim with a new password. A
    sign-up with a password for such an address is refused (MemberExists, without a number), so
    no one sets the password of an account they do not own.

    `member_number`: the number they keep (members brought over from another program, by an
    import); it must be valid, and no member's, nor retired by an erasure
    (MemberNumberUnavailable). Default: a new one.
    """
    email = _clean_email(email)
    if member_number is not None:
        member_number = member_number_available(member_number)
    first_name = _clean_name(first_name, "first_name")
    last_name = _clean_name(last_name, "last_name")
    language = _clean_language(language)
    parsed = parse_birthday(birthday)
    if delight is not None and delight not in Member.Delight.values:
        raise InvalidInput("Unknown choice of what delights the member.", field="delight")
    existing = Member.objects.filter(user__email__iexact=email).values_list(
        "member_number", flat=True
    )
    if existing:
        raise MemberExists(member_number=existing[0])
    today = timezone.localdate()
    try:
        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=password, first_name=first_name, last_name=last_name
                )
            elif password is not None or not user.is_active:
                raise MemberExists()
            elif user.is_staff or user.is_superuser:
                raise EmailUnavailable()
            member = Member.objects.create(
                user=user,
                member_number=member_number or member_number_unused(),
                joined_on=joined_on or today,
                language=language,
                birthday_month=parsed.month if parsed else None,
                birthday_day=parsed.day if parsed else None,
                birthday_year=parsed.year if parsed else None,
                birthday_set_on=today if parsed else None,
                delight=delight or Member.Delight.GREETING,
                tier=tier,
                tier_since=joined_on or today,
            )
    except IntegrityError:
        existing = Member.objects.filter(user__email__iexact=email).values_list(
            "member_number", flat=True
        )
        if existing:
            raise MemberExists(member_number=existing[0]) from None
        if User.objects.filter(email__iexact=email).exists():
            raise MemberExists() from None
        raise
    return member


def retired_number_digest(number: str) -> str:
    """What an erasure keeps of the old member number (accounts.Erasure.retired_number)."""
    return hashlib.sha256(number.encode()).hexdigest()


def member_number_available(number) -> str:
    """A number given to a new member (an import keeps the one the member had): valid, free and
    never retired by an erasure."""
    number = re.sub(r"[\s-]", "", str(number or ""))
    if not member_number_is_valid(number):
        raise InvalidInput(
            "A member number has nine digits with a valid check digit.", field="member_number"
        )
    if (
        Member.objects.filter(member_number=number).exists()
        or Erasure.objects.filter(retired_number=retired_number_digest(number)).exists()
    ):
        raise MemberNumberUnavailable()
    return number


def member_number_unused() -> str:
    """A new member number no member has, nor had before an erasure (partners were told to
    drop that one; enrolment, and an erasure replaces the old one)."""
    for _attempt in range(10):
        number = new_member_number()
        if not Member.objects.filter(member_number=number).exists() and (
            not Erasure.objects.filter(retired_number=retired_number_digest(number)).exists()
        ):
            return number
    raise RuntimeError("Could not find a free member number.")  # pragma: no cover


@transaction.atomic
def member_claim_account(*, member: Member, password: str) -> Member:
    """Set the password of a member enrolled without one (at a till)."""
    user = member.user
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    user.save(update_fields=["password"])
    return member


@transaction.atomic
def member_set_birthday(*, member: Member, birthday) -> Member:
    parsed = parse_birthday(birthday)
    member.birthday_month = parsed.month if parsed else None
    member.birthday_day = parsed.day if parsed else None
    member.birthday_year = parsed.year if parsed else None
    member.birthday_set_on = timezone.localdate() if parsed else None
    member.save(
        update_fields=["birthday_month", "birthday_day", "birthday_year", "birthday_set_on"]
    )
    return member


_UNCHANGED = object()


@transaction.atomic
def member_update_profile(
    *,
    member: Member,
    first_name: str,
    last_name: str,
    language: str,
    delight: str,
    email_messages: bool,
    email_offers: bool,
    birthday=_UNCHANGED,
) -> Member:
    """What a member changes on their profile page: name, language, birthday, delight, e-mail.

    The birthday's set-on date moves only when the birthday itself changes.
    """
    first_name = _clean_name(first_name, "first_name")
    last_name = _clean_name(last_name, "last_name")
    language = _clean_language(language)
    if delight not in Member.Delight.values:
        raise InvalidInput("Unknown choice of what delights the member.", field="delight")
    user = member.user
    user.first_name, user.last_name = first_name, last_name
    user.save(update_fields=["first_name", "last_name"])
    member.language = language
    member.delight = delight
    member.email_messages = bool(email_messages)
    member.email_offers = bool(email_offers)
    fields = ["language", "delight", "email_messages", "email_offers"]
    if birthday is not _UNCHANGED:
        parsed = parse_birthday(birthday)
        new = (parsed.month, parsed.day, parsed.year) if parsed else (None, None, None)
        if new != (member.birthday_month, member.birthday_day, member.birthday_year):
            member.birthday_month, member.birthday_day, member.birthday_year = new
            member.birthday_set_on = timezone.localdate() if parsed else None
            fields += ["birthday_month", "birthday_day", "birthday_year", "birthday_set_on"]
    member.save(update_fields=fields)
    return member


@transaction.atomic
def member_set_language(*, member: Member, language: str) -> Member:
    """The language the member chose in the switcher: pages and messages follow it."""
    member.language = _clean_language(language)
    member.save(update_fields=["language"])
    return member


@transaction.atomic
def member_set_status(*, member: Member, status: str, staff_user, reason: str) -> Member:
    """The status alone, set by staff with a reason: reopening a closed membership, or closing
    one (the staff pages close through loyalty.core.closing.member_close, which also settles
    vouchers and points). A pause and its end go through loyalty.core.pauses only: they move
    expiry dates and tell the member, which a bare status change would not."""
    reason = (reason or "").strip()
    if status not in Member.Status.values:
        raise InvalidInput("Unknown status.", field="status")
    if Member.Status.PAUSED in (status, member.status):
        raise InvalidInput(
            "A pause starts and ends through the pause services (loyalty.core.pauses).",
            field="status",
        )
    if status != Member.Status.ACTIVE and not reason:
        raise ReasonRequired()
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters.", field="reason")
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed("Only staff can change a membership's status.")
    reopening = member.status == Member.Status.CLOSED and status != Member.Status.CLOSED
    if reopening and Erasure.objects.filter(member_id=member.pk).exists():
        raise InvalidInput("An erased membership cannot be reopened.", field="status")
    member.status = status
    member.status_reason = reason
    member.save(update_fields=["status", "status_reason"])
    if reopening:  # closing ended the login; a membership staff reopen may log in again
        User.objects.filter(pk=member.user_id).update(is_active=True)
    return member
