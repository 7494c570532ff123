"""Importing members: each row through the enrolment service (loyalty.core.enrolment), so a
row is checked exactly as a sign-up is; the dry run does the same inside a transaction it rolls
back, so it finds what the real run would and changes nothing.

Members brought over are enrolled with `welcome=False`: no welcome gift, message or
member.enrolled event (they are members already). The enrolment hooks run (a referral code of
their own). A member whose e-mail address or member number is there already is skipped, so a
re-run adds nothing. An opening balance (points brought over) is an `earn` entry whose cause is
the import (its words: "points brought over", imports.wording), a lot with the usual expiry
from the day of the import, and no tier points (it is no purchase).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from accounts.errors import EmailUnavailable, MemberExists, MemberNumberUnavailable
from accounts.models import Member, normalize_email
from loyalty.base.errors import InvalidInput
from loyalty.core.enrolment import member_enroll
from loyalty.core.ledger import points_credit_in_transaction
from loyalty.core.models import LedgerEntry

from .checks import POINTS_RE, TRIM
from .outcome import Checked, Written
from .rows import RowError
from .sources import Source

MEMBER_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "birthday",
    "language",
    "member_number",
    "joined_on",
    "points",
)
MEMBER_REQUIRED = ("email",)
CHUNK = 200

_points = re.compile(POINTS_RE)
_date = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(?: 00:00:00)?$")
_number_strip = re.compile(r"[\s-]")
# What the enrolment's refusals of a field mean in a row.
_FIELD_CODES = {
    "email": "invalid_email",
    "first_name": "invalid_name",
    "last_name": "invalid_name",
    "language": "invalid_language",
    "birthday": "invalid_birthday",
    "member_number": "invalid_member_number",
}


class _Skip(Exception):
    pass


def _day(value: str, today: date) -> date | None:
    match = _date.match(value)
    if match is None:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return day if day <= today else None


class MemberRows:
    """One members file: check() is a real run rolled back; write() the real run."""

    checks_while_writing = True

    def __init__(self, source: Source, *, job, now: datetime):
        self.source = source
        self.job = job
        self.now = now
        self.checked: Checked | None = None

    def check(self) -> Checked:
        with transaction.atomic():
            checked = self._run()
            transaction.set_rollback(True)
        return checked

    def write(self, *, at: datetime, progress=None) -> Written:
        """The real run; what it found (counts, bad rows) is in `checked` afterwards."""
        self.checked = self._run(progress=progress)
        return Written(imported=self.checked.to_import, points=self.checked.points)

    def close(self) -> None:
        pass

    def _run(self, progress=None) -> Checked:
        columns = self.source.columns(known=MEMBER_COLUMNS, required=MEMBER_REQUIRED)
        records = [
            (row, dict(zip(columns, fields, strict=True))) for row, fields in self.source.records()
        ]
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        imported = skipped = points = 0
        for start in range(0, len(records), CHUNK):
            with transaction.atomic():
                for row, raw in records[start : start + CHUNK]:
                    values = {name: (raw.get(name) or "").strip(TRIM) for name in MEMBER_COLUMNS}
                    email = normalize_email(values["email"])
                    number = _number_strip.sub("", values["member_number"])
                    earlier = seen.get(email) or (number and seen.get("#" + number))
                    if earlier:
                        errors.append(
                            RowError(row, "email", "duplicate_member_in_file", {"row": earlier})
                        )
                        continue
                    if email:
                        seen[email] = row
                    if number:
                        seen["#" + number] = row
                    try:
                        with transaction.atomic():
                            points += self._member(values, email, number)
                        imported += 1
                    except _Skip:
                        skipped += 1
                    except _Refused as refused:
                        errors.append(RowError(row, refused.field, refused.code))
            if progress is not None:
                progress(imported)
        return Checked(
            rows=len(records),
            total=len(records),
            bad=len(errors),
            skipped=skipped,
            to_import=imported,
            points=points,
            errors=errors,
        )

    def _member(self, values: dict, email: str, number: str) -> int:
        """Enrol one row's member (and credit their opening balance): the points credited."""
        existing = Member.objects.filter(user__email__iexact=email)
        if number:
            existing = existing | Member.objects.filter(member_number=number)
        if email and existing.exists():
            raise _Skip()
        today = timezone.localdate(self.now)
        joined_on = None
        if values["joined_on"]:
            joined_on = _day(values["joined_on"], today)
            if joined_on is None:
                raise _Refused("joined_on", "invalid_date")
        birthday = values["birthday"]
        if _date.match(birthday):
            birthday = birthday[:10]
        if values["points"] and not _points.match(values["points"]):
            raise _Refused("points", "invalid_points")
        opening = int(values["points"] or 0)
        try:
            member = member_enroll(
                email=email,
                first_name=values["first_name"],
                last_name=values["last_name"],
                language=values["language"].lower() or None,
                birthday=birthday or None,
                joined_on=joined_on,
                member_number=number or None,
                welcome=False,
                at=self.now,
            )
        except MemberExists:
            raise _Skip() from None
        except EmailUnavailable:
            raise _Refused("email", "email_unavailable") from None
        except MemberNumberUnavailable:
            raise _Refused("member_number", "member_number_unavailable") from None
        except InvalidInput as exc:
            field = exc.extra.get("field", "email")
            raise _Refused(field, _FIELD_CODES.get(field, "invalid_email")) from None
        if opening:
            points_credit_in_transaction(
                member=member,
                points=opening,
                kind=LedgerEntry.Kind.EARN,
                cause=self.job,
                at=self.now,
            )
        return opening


class _Refused(Exception):
    def __init__(self, field: str, code: str):
        super().__init__(code)
        self.field = field
        self.code = code
