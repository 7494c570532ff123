"""What an import reads: CSV with commas or semicolons, a byte-order mark, an Excel workbook;
and the files it refuses whole (nothing written), the same way on both ways of importing."""

import pytest
from django.db import connection
from openpyxl import Workbook

from imports.rows import ImportFailed
from loyalty.core.models import Purchase

from .conftest import WAYS, errors_of

pytestmark = pytest.mark.django_db


def _way(way):
    if way == "sql" and connection.vendor != "postgresql":
        pytest.skip("the set-based way is PostgreSQL's")
    return way


@pytest.fixture
def buyer(tiers):
    from tests import factories

    return factories.make_member(email="buyer@example.com")


@pytest.mark.parametrize("way", WAYS)
def test_semicolons_a_byte_order_mark_and_a_workbook_read_alike(
    way, partner, buyer, base_rule, tmp_path, run_import
):
    # given
    number = buyer.member_number
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes(
        "\ufeffMember_Number;External_ID;Purchased_At;Amount\n"
        f"{number};S-1;2025-01-02 10:00;12.50\n"
        f"{number};S-2;2025-01-03;bad\n".encode()
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["member_number", "external_id", "purchased_at", "amount"])
    sheet.append([int(number), "X-1", "2025-01-02 10:00", 12.5])
    sheet.append([None, None, None, None])  # an empty row of the sheet: no data
    sheet.append([int(number), "X-2", "2025-01-03", "bad"])
    xlsx_path = tmp_path / "book.xlsx"
    book.save(xlsx_path)

    # when
    from_csv = run_import(csv_path, partner=partner, way=_way(way))
    from_xlsx = run_import(xlsx_path, partner=partner, way=way)

    # then
    assert errors_of(from_csv) == [(3, "amount", "invalid_amount", {})]
    assert errors_of(from_xlsx) == [(4, "amount", "invalid_amount", {})]
    assert sorted(Purchase.objects.values_list("external_id", "points_earned")) == [
        ("S-1", 12),
        ("X-1", 12),
    ]


CASES = {
    "missing": ("member_number,external_id,amount\n1,2,3\n", "missing_column",
                {"column": "purchased_at"}),
    "unknown": ("member_number,external_id,purchased_at,amount,colour\n", "unknown_column",
                {"column": "colour"}),
    "twice": ("member_number,external_id,purchased_at,amount,amount\n", "duplicate_column",
              {"column": "amount"}),
    "short row": ("member_number,external_id,purchased_at,amount\n1,2,2025-01-01,3\n1,2\n",
                  "malformed_row", {"row": 3}),
    "empty line": ("member_number,external_id,purchased_at,amount\n1,2,2025-01-01,3\n\n"
                   "1,3,2025-01-01,3\n", "malformed_row", {"row": 3}),
}  # fmt: skip


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", CASES)
def test_a_file_that_cannot_be_read_is_refused_whole(way, case, partner, tmp_path, run_import):
    # given
    text, code, params = CASES[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)

    # when
    with pytest.raises(ImportFailed) as refused:
        run_import(path, partner=partner, way=_way(way))

    # then
    assert (refused.value.code, refused.value.params) == (code, params)
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("way", WAYS)
def test_bytes_that_are_not_utf8_are_refused(way, partner, tmp_path, run_import):
    # given
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"member_number,external_id,purchased_at,amount\n1,\xe9t\xe9,2025-01-01,3\n")

    # when / then
    with pytest.raises(ImportFailed) as refused:
        run_import(path, partner=partner, way=_way(way))
    assert refused.value.code == "unreadable_file"
