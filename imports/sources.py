"""Reading an import's file: a CSV file in UTF-8 (comma or semicolon) or an Excel workbook.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row 2. A
row with more or fewer fields than the header (or an empty line) makes the whole file
unreadable (MalformedRow), on both ways of importing: PostgreSQL's COPY refuses it too.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import BinaryIO

from .rows import DuplicateColumn, MalformedRow, MissingColumn, UnknownColumn, UnreadableFile

XLSX_MAGIC = b"PK\x03\x04"


class Source:
    """A file to import, from a path or an open binary file; `name` tells .xlsx apart (its first
    bytes do too)."""

    def __init__(self, file: BinaryIO | str | os.PathLike, name: str = ""):
        self._path = None
        if isinstance(file, str | os.PathLike):
            self._path = os.fspath(file)
            name = name or os.path.basename(self._path)
        self._file = file
        self.name = name

    def open(self) -> BinaryIO:
        if self._path is not None:
            return open(self._path, "rb")  # (closed by the caller)
        self._file.seek(0)
        return self._file

    @property
    def is_xlsx(self) -> bool:
        if self.name.lower().endswith(".xlsx"):
            return True
        stream = self.open()
        try:
            return stream.read(4) == XLSX_MAGIC
        finally:
            if self._path is not None:
                stream.close()

    # --- the header ---------------------------------------------------------------------------

    def columns(self, *, known: tuple[str, ...], required: tuple[str, ...]) -> list[str]:
        """The header's column names (trimmed, lower case), checked against what the import
        knows and needs."""
        header = next(self._records(), None)
        return check_header(header[1] if header else [], known=known, required=required)

    # --- rows ---------------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, fields) of each data row, as text."""
        records = self._records()
        header = next(records, None)
        width = len(header[1]) if header else 0
        for number, fields in records:
            if len(fields) != width or fields == []:
                raise MalformedRow(row=number)
            yield number, fields

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        if self.is_xlsx:
            yield from _xlsx_records(self.open())
            return
        stream = self.open()
        try:
            yield from _csv_records(stream)
        finally:
            if self._path is not None:
                stream.close()

    # --- what PostgreSQL's COPY reads ---------------------------------------------------------

    def copy_stream(self) -> tuple[BinaryIO, str, bool]:
        """The data rows as CSV bytes for COPY (the header read and dropped), the delimiter,
        and whether each row starts with its row number.

        A CSV file goes to COPY as it is, from just after its header line (COPY numbers its
        rows in order); a workbook is written out as CSV first, each row with its number (a
        sheet's empty rows are skipped, and numbers go on as the sheet shows them)."""
        if self.is_xlsx:
            out = tempfile.SpooledTemporaryFile(max_size=64 * 2**20)  # noqa: SIM115
            writer = codecs.getwriter("utf-8")(out)
            rows = csv.writer(writer, lineterminator="\n")
            records = _xlsx_records(self.open())
            next(records, None)
            for number, fields in records:
                rows.writerow([number, *fields])
            writer.flush()
            out.seek(0)
            return out, ",", True
        stream = self.open()
        first = stream.readline()
        try:
            delimiter = _delimiter(first.decode("utf-8-sig"))
        except UnicodeDecodeError:
            stream.close()
            raise UnreadableFile() from None
        return stream, delimiter, False


def check_header(header: list[str], *, known, required) -> list[str]:
    columns = [str(name).strip().lower() for name in header]
    seen = set()
    for column in columns:
        if column not in known:
            raise UnknownColumn(column=column[:64])
        if column in seen:
            raise DuplicateColumn(column=column)
        seen.add(column)
    for column in required:
        if column not in seen:
            raise MissingColumn(column=column)
    return columns


def _csv_records(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    number = 0
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
        lines = itertools.chain([first], text) if first else iter(())
        for fields in csv.reader(lines, delimiter=_delimiter(first), strict=True):
            number += 1
            yield number, fields
    except UnicodeDecodeError:
        raise UnreadableFile() from None
    except csv.Error:
        raise MalformedRow(row=number + 1) from None
    finally:
        text.detach()  # (the stream is the caller's to close)


def _delimiter(first_line: str) -> str:
    return ";" if first_line.count(";") > first_line.count(",") else ","


def cell_text(value) -> str:
    """A workbook's cell as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_records(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # (a few hundred milliseconds to import: only when used)

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile() from None
    try:
        sheet = book.worksheets[0]
        width = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            fields = [cell_text(value) for value in row]
            if width is None:
                while fields and fields[-1] == "":
                    fields.pop()
                width = len(fields)
            elif not any(fields):
                continue  # a sheet's empty rows (formatting) are no data
            if any(fields[width:]):
                raise MalformedRow(row=number)
            yield number, (fields + [""] * width)[:width]
    finally:
        book.close()
