"""The first page of a member's ledger from one prepared statement (GET .../ledger/ without a
cursor: most requests).

Through the ORM the page's lines with their purchases and partners were a query compiled anew on
every read, about a millisecond of Python, and the ledger is the partner API's heaviest read on a
million members (bench/RESULTS.md). On PostgreSQL the first page is one prepared statement
(loyalty.base.prepared), and its rows become the same model instances the ORM's `select_related`
and `only` give (LEDGER_LINE_FIELDS), so the wording and the answer are untouched;
DRF's CursorPagination reads them through `FirstPage` and builds the same links. Later pages (a
cursor) and other databases go through the ORM. tests/api/test_ledger_first_page.py holds the
two to the same answers.
"""

from __future__ import annotations

from django.db import connection

from accounts.models import Partner
from loyalty.base.prepared import PLAIN, PreparedSQL, prepared_mode
from loyalty.core.models import LedgerEntry, Purchase

# What a ledger line and its words (loyalty.core.wording and the features' wordings) read: only
# these columns are loaded (a purchase's explanation, a JSON document, made every line cost
# several times more). A field a wording reads and this leaves out costs a query a line:
# tests/api/test_member_answer.py counts them.
LEDGER_LINE_FIELDS = (
    "member",
    "kind",
    "points",
    "balance_after",
    "created_at",
    "reason",
    "cause_type",
    "cause_id",
    "purchase",
    "purchase__external_id",
    "purchase__amount",
    "purchase__currency",
    "purchase__partner",
    "purchase__partner__name",
)


def ledger_lines(member):
    """The member's lines through the ORM, with only what their words read."""
    return (
        LedgerEntry.objects.filter(member=member)
        .select_related("purchase__partner")
        .only(*LEDGER_LINE_FIELDS)
    )


def _read(model, prefix: str) -> list[str]:
    """The attnames of `model` that LEDGER_LINE_FIELDS names under `prefix` (and its id), in
    the model's field order: the order Model.from_db takes the values in."""
    names = {"id"} | {
        field[len(prefix) :]
        for field in LEDGER_LINE_FIELDS
        if field.startswith(prefix) and "__" not in field[len(prefix) :]
    }
    attnames = {model._meta.get_field(name).attname for name in names}
    return [f.attname for f in model._meta.concrete_fields if f.attname in attnames]


_FIELDS = {
    LedgerEntry: _read(LedgerEntry, ""),
    Purchase: _read(Purchase, "purchase__"),
    Partner: _read(Partner, "purchase__partner__"),
}


def _columns(alias: str, model) -> str:
    fields = model._meta.concrete_fields
    return ", ".join(f"{alias}.{f.column}" for f in fields if f.attname in _FIELDS[model])


_FIRST_PAGE = PreparedSQL(
    "members_ledger_first_page",
    f"""
SELECT {_columns("e", LedgerEntry)}, {_columns("p", Purchase)}, {_columns("pa", Partner)}
FROM {LedgerEntry._meta.db_table} e
LEFT JOIN {Purchase._meta.db_table} p ON p.id = e.purchase_id
LEFT JOIN {Partner._meta.db_table} pa ON pa.id = p.partner_id
WHERE e.member_id = %(member)s
ORDER BY e.id DESC
LIMIT %(rows)s
""",
    {"member": "bigint", "rows": "integer"},
)


def first_page_lines(member_id: int, rows: int) -> list[LedgerEntry]:
    """The member's newest `rows` entries, each with its purchase and the purchase's partner
    (only the columns their words read), as the ORM would load them."""
    with connection.cursor() as cursor:
        _FIRST_PAGE.execute(cursor, {"member": member_id, "rows": rows})
        found = cursor.fetchall()
    alias = connection.alias
    entry_width, purchase_width = len(_FIELDS[LedgerEntry]), len(_FIELDS[Purchase])
    lines = []
    for row in found:
        entry = LedgerEntry.from_db(alias, _FIELDS[LedgerEntry], row[:entry_width])
        purchase = None
        if entry.purchase_id is not None:
            purchase = Purchase.from_db(
                alias, _FIELDS[Purchase], row[entry_width : entry_width + purchase_width]
            )
            partner = Partner.from_db(alias, _FIELDS[Partner], row[entry_width + purchase_width :])
            Purchase.partner.field.set_cached_value(purchase, partner)
        LedgerEntry.purchase.field.set_cached_value(entry, purchase)
        lines.append(entry)
    return lines


class FirstPage:
    """The first page's lines for DRF's CursorPagination, which, without a cursor, orders what
    it is given newest first and takes the first page_size + 1 (to know if a page follows)."""

    def __init__(self, member_id: int):
        self.member_id = member_id

    def order_by(self, *ordering):
        if ordering != ("-id",):
            raise ValueError(f"the first page is read newest first, not by {ordering}")
        return self

    def __getitem__(self, rows: slice) -> list[LedgerEntry]:
        if rows.start not in (0, None) or rows.step is not None:
            raise ValueError("the first page starts with the newest line")
        return first_page_lines(self.member_id, rows.stop)


def first_page(member, request) -> FirstPage | None:
    """What the paginator reads for the first page (no cursor) where the prepared statement can
    serve it; None: the ORM's lines."""
    if "cursor" in request.query_params or prepared_mode(connection) == PLAIN:
        return None
    return FirstPage(member.pk)
