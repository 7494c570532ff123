"""What can be wrong with a file or a row, as codes with parameters, worded when shown.

Both ways of importing (imports.purchases_sql on PostgreSQL, imports.purchases_rows elsewhere)
and the members' import report with these codes, so staff read the same reasons whichever ran.
A row has one reason: the first check it fails, in the order of CHECKS in imports.checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError

# code -> words (with the parameters as %(name)s)
ROW_ERRORS = {
    "invalid_external_id": _("The purchase id must have 1 to 100 characters."),
    "member_not_found": _("No member has that number."),
    "member_not_active": _("The membership is closed."),
    "invalid_datetime": _("Write the date as YYYY-MM-DD, with a time as YYYY-MM-DD HH:MM."),
    "purchased_in_future": _("A purchase cannot happen in the future."),
    "invalid_amount": _("The amount must be a positive number with at most two decimals."),
    "purchase_amount_over_limit": _(
        "The amount is above the largest purchase this partner may report (%(limit)s)."
    ),
    "unknown_currency": _("The currency is not an ISO 4217 code."),
    "currency_mismatch": _("The currency is not the partner's (%(currency)s)."),
    "invalid_points": _("Points must be a whole number, 0 or more."),
    "invalid_sku": _("A line needs a SKU of at most 64 characters."),
    "invalid_quantity": _("A line's quantity must be a whole number from 1 to 999999."),
    "invalid_line_amount": _("A line's amount must be 0 or more, with at most two decimals."),
    "invalid_category": _("A category has at most 64 characters."),
    "duplicate_in_file": _("Another row has the same purchase id and neither is a line."),
    "rows_disagree": _("The rows of this purchase differ in its member, time, amount or points."),
    "too_many_lines": _("A purchase has at most 500 lines."),
    "lines_do_not_add_up": _("The lines add up to %(lines)s, not to the amount %(amount)s."),
    "purchase_refused": _("Not imported: row %(row)s of the same purchase is refused."),
    "purchase_points_over_limit": _(
        "The purchase would earn %(points)s points, more than this partner may give at once "
        "(%(limit)s)."
    ),
    # members
    "invalid_email": _("Enter a valid e-mail address."),
    "email_unavailable": _("This e-mail address cannot be enrolled; please use another one."),
    "invalid_name": _("A name has at most 150 characters."),
    "invalid_language": _("That language is not offered."),
    "invalid_birthday": _("A birthday is written MM-DD or YYYY-MM-DD, on a day that exists."),
    "invalid_member_number": _("A member number has nine digits with a valid check digit."),
    "member_number_unavailable": _("That member number belongs, or belonged, to another member."),
    "invalid_date": _("Write the date as YYYY-MM-DD, not in the future."),
    "duplicate_member_in_file": _("Row %(row)s has the same e-mail address or member number."),
}


def _worded(table: dict, code: str, params: dict | None) -> str:
    """`code`'s words from `table` in the active language with its params (the code itself
    when unknown; the words alone when the params do not fit them)."""
    words = table.get(code)
    if words is None:
        return code
    try:
        return str(words) % (params or {})
    except (KeyError, TypeError, ValueError):
        return str(words)


def row_error_words(code: str, params: dict | None = None) -> str:
    """The reason of a bad row in the active language."""
    return _worded(ROW_ERRORS, code, params)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    params: dict = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        return (self.row, self.field, self.code, self.params)


# --- what makes a whole file unreadable ---------------------------------------------------------


class ImportFailed(LoyaltyError):
    """The file cannot be imported at all (nothing was written); `params` say where."""

    code = "import_failed"
    status = 422
    default_message = _("The file cannot be imported.")

    def __init__(self, **params):
        super().__init__()
        self.params = params

    def words(self) -> str:
        return failure_words(self.code, self.params)


class UnreadableFile(ImportFailed):
    code = "unreadable_file"


class MissingColumn(ImportFailed):
    code = "missing_column"


class UnknownColumn(ImportFailed):
    code = "unknown_column"


class DuplicateColumn(ImportFailed):
    code = "duplicate_column"


class MalformedRow(ImportFailed):
    code = "malformed_row"


class NoPartner(ImportFailed):
    code = "partner_not_active"


FAILURES = {
    "unreadable_file": _("The file is neither a CSV file in UTF-8 nor an Excel workbook (.xlsx)."),
    "missing_column": _("The file has no column “%(column)s”."),
    "unknown_column": _("The file has a column “%(column)s” this import does not know."),
    "duplicate_column": _("The file has the column “%(column)s” twice."),
    "malformed_row": _(
        "Row %(row)s cannot be read: it has more or fewer columns than the header, or is empty. "
        "Nothing was imported."
    ),
    "partner_not_active": _("The partner is not active."),
    "server_error": _("The import stopped on an error; nothing of the unfinished part was kept."),
}


def failure_words(code: str, params: dict | None = None) -> str:
    """Why a whole import failed, in the active language."""
    return _worded(FAILURES, code, params)
