"""The checks of a purchases file, row by row and purchase by purchase: the one definition both
ways of importing follow (imports.purchases_sql writes them in SQL, purchase_rows_check here in
Python; tests/imports hold the two to the same answers).

They are the partner API's checks (loyalty.core.purchases, loyalty.core.anomalies): an id of 1
to 100 characters, a member who is not closed, a time with its zone (or the program's) that is
not in the future, an amount with at most two decimals within the partner's largest purchase,
the partner's currency, lines that add up to the amount, and no more points than the partner
may give at once. One difference: history may be old, so LOYALTY_PURCHASE_MAX_AGE_DAYS does not
apply. A row's reason is the first check it fails, in the order below.

The file: one row per purchase, or one row per line of a purchase (the rows of a purchase share
its id and repeat its member, time, amount, currency and points). `points`, when given, is what
the purchase earned elsewhere (history from another program): it is credited as it is instead
of the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from babel.numbers import list_currencies
from django.utils import timezone as django_timezone

from .rows import RowError

PURCHASE_COLUMNS = (
    "member_number",
    "external_id",
    "purchased_at",
    "amount",
    "currency",
    "points",
    "sku",
    "quantity",
    "line_amount",
    "category",
)
PURCHASE_REQUIRED = ("member_number", "external_id", "purchased_at", "amount")
# The columns every row of a purchase repeats.
PURCHASE_SHARED = ("member_number", "purchased_at", "amount", "currency", "points")
LINE_COLUMNS = ("sku", "quantity", "line_amount", "category")

TRIM = " \t\r\n"
AMOUNT_RE = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
POINTS_RE = r"^[0-9]{1,12}$"
QUANTITY_RE = r"^[0-9]{1,6}$"
NUMBER_STRIP_RE = r"[\s-]"
# YYYY-MM-DD, a time HH:MM[:SS[.ffffff]] after a space or T, a zone Z or +HH[:MM]
DATETIME_RE = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?)?"
    r" ?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
# The same form without capturing groups, for SQL: PostgreSQL matches it many times faster.
DATETIME_SQL_RE = re.sub(r"\((?!\?)", "(?:", DATETIME_RE)
CURRENCIES = tuple(sorted(list_currencies()))
MAX_LINES = 500
FUTURE_SLACK = timedelta(minutes=5)  # as the API: a till's clock may run a little ahead

_amount = re.compile(AMOUNT_RE)
_points = re.compile(POINTS_RE)
_quantity = re.compile(QUANTITY_RE)
_datetime = re.compile(DATETIME_RE)
_number_strip = re.compile(NUMBER_STRIP_RE)


@dataclass(frozen=True)
class Limits:
    """What the partner allows (its currency and sanity limits), and the import's clock."""

    partner_id: int
    currency: str
    max_amount: Decimal
    max_points: int
    now: datetime


def text(value) -> str:
    return (value or "").strip(TRIM)


def parse_datetime(value: str) -> datetime | None:
    """An aware datetime, or None if the text is not one of the accepted forms or not a real
    moment. A time without a zone is in the program's (TIME_ZONE)."""
    match = _datetime.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "").ljust(6, "0")),
        )
    except ValueError:
        return None
    if zone is None:
        return _local(moment)
    if zone == "Z":
        return moment.replace(tzinfo=UTC)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 15 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return moment.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset))


def _local(moment: datetime) -> datetime:
    """A wall time in the program's zone, as PostgreSQL reads one: a time the clocks skip
    takes the offset before the change, a time they repeat the offset after it."""
    zone = django_timezone.get_current_timezone()
    early, late = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early
    exists = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment
    return late if exists else early


@dataclass
class PurchaseRow:
    """A data row, cleaned: its purchase's values and its line (if it is a line row)."""

    row: int
    external_id: str
    number: str
    raw: dict
    member_id: int | None = None
    occurred_at: datetime | None = None
    amount: Decimal | None = None
    currency: str = ""
    points: int | None = None
    line: dict | None = None
    error: RowError | None = None


@dataclass
class PurchaseGroup:
    """The rows of one purchase (one, or one per line), first row first."""

    rows: list[PurchaseRow] = field(default_factory=list)

    @property
    def first(self) -> PurchaseRow:
        return self.rows[0]

    @property
    def lines(self) -> list[dict]:
        return [row.line for row in self.rows if row.line is not None]


def purchase_row_check(
    raw: dict, row: int, *, members: dict[str, tuple[int, str]], limits: Limits
) -> PurchaseRow:
    """One row's own checks, in order; the first failure is its error. `members`: {number:
    (id, status)} of the numbers the file names."""
    values = {name: text(raw.get(name)) for name in PURCHASE_COLUMNS}
    number = _number_strip.sub("", raw.get("member_number") or "")
    result = PurchaseRow(row=row, external_id=values["external_id"], number=number, raw=values)

    def fail(field_name: str, code: str, **params) -> PurchaseRow:
        result.error = RowError(row, field_name, code, params)
        return result

    if not 1 <= len(values["external_id"]) <= 100:
        return fail("external_id", "invalid_external_id")
    member = members.get(number)
    if member is None:
        return fail("member_number", "member_not_found")
    if member[1] == "closed":
        return fail("member_number", "member_not_active")
    result.member_id = member[0]
    occurred_at = parse_datetime(values["purchased_at"])
    if occurred_at is None:
        return fail("purchased_at", "invalid_datetime")
    if occurred_at > limits.now + FUTURE_SLACK:
        return fail("purchased_at", "purchased_in_future")
    result.occurred_at = occurred_at
    if not _amount.match(values["amount"]) or Decimal(values["amount"]) == 0:
        return fail("amount", "invalid_amount")
    result.amount = Decimal(values["amount"]).quantize(Decimal("0.01"))
    if result.amount > limits.max_amount:
        return fail("amount", "purchase_amount_over_limit", limit=str(limits.max_amount))
    currency = values["currency"].upper() or limits.currency
    if currency not in CURRENCIES:
        return fail("currency", "unknown_currency")
    if currency != limits.currency:
        return fail("currency", "currency_mismatch", currency=limits.currency)
    result.currency = currency
    if values["points"]:
        if not _points.match(values["points"]):
            return fail("points", "invalid_points")
        result.points = int(values["points"])
    if any(values[name] for name in LINE_COLUMNS):
        if not 1 <= len(values["sku"]) <= 64:
            return fail("sku", "invalid_sku")
        quantity = values["quantity"] or "1"
        if not _quantity.match(quantity) or int(quantity) == 0:
            return fail("quantity", "invalid_quantity")
        if not _amount.match(values["line_amount"]):
            return fail("line_amount", "invalid_line_amount")
        if len(values["category"]) > 64:
            return fail("category", "invalid_category")
        result.line = {
            "sku": values["sku"],
            "quantity": int(quantity),
            "amount": Decimal(values["line_amount"]).quantize(Decimal("0.01")),
            "category": values["category"],
        }
    return result


def purchase_group_check(group: PurchaseGroup) -> list[RowError]:
    """The checks of a purchase's rows together; the errors of the rows that had none of their
    own (empty: the purchase may be imported)."""
    rows = group.rows
    bad = next((row for row in rows if row.error is not None), None)
    if bad is not None:
        return [
            RowError(row.row, "external_id", "purchase_refused", {"row": bad.row})
            for row in rows
            if row.error is None
        ]
    if len(rows) > 1 and any(row.line is None for row in rows):
        return [RowError(row.row, "external_id", "duplicate_in_file") for row in rows]
    first = [group.first.raw[name] for name in PURCHASE_SHARED]
    first[0] = group.first.number
    for row in rows[1:]:
        values = [row.raw[name] for name in PURCHASE_SHARED]
        values[0] = row.number
        if values != first:
            return [RowError(row.row, "external_id", "rows_disagree") for row in rows]
    if len(rows) > MAX_LINES:
        return [RowError(row.row, "external_id", "too_many_lines") for row in rows]
    lines = group.lines
    if lines:
        total = sum((line["amount"] for line in lines), Decimal("0.00"))
        if total != group.first.amount:
            params = {"lines": str(total), "amount": str(group.first.amount)}
            return [RowError(row.row, "line_amount", "lines_do_not_add_up", params) for row in rows]
    return []


def points_over_limit(group: PurchaseGroup, points: int, limits: Limits) -> list[RowError]:
    if points <= limits.max_points:
        return []
    params = {"points": points, "limit": limits.max_points}
    return [RowError(row.row, "points", "purchase_points_over_limit", params) for row in group.rows]
