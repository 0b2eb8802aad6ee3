"""Roster files and cells: CSV (UTF-8 or GB18030) and XLSX, text cells, formula-safe export.

``read_dataset`` reads a whole file into a ``tablib.Dataset`` (the admin, the resources);
``record_readings`` reads the same records one at a time (the COPY import of large files), with the
same rules: the first record is the header; in a CSV, blank lines are skipped and short records
padded; a record longer than the header is ``tablib.InvalidDimensions``.
"""

import csv
import io
from collections.abc import Iterator

import tablib
from django.conf import settings
from import_export import widgets
from import_export.fields import Field
from import_export.formats import base_formats

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class RosterCSV(base_formats.CSV):
    """CSV in UTF-8 (with or without BOM) or GB18030, as Excel saves it on Chinese Windows."""

    def is_binary(self):
        return True  # the admin keeps the upload as bytes; ``create_dataset`` decodes

    def get_read_mode(self):
        return "rb"

    ENCODINGS = ("utf-8-sig", "gb18030")  # tried in this order

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode(self.ENCODINGS[0])
            except UnicodeDecodeError:
                in_stream = in_stream.decode(self.ENCODINGS[1])
        return tablib.import_set(in_stream, format="csv", **kwargs)


IMPORT_FORMATS = [RosterCSV, base_formats.XLSX]
EXPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]


def import_format_for(extension: str):
    """The import format of a file extension (``csv``, ``xlsx``), or None."""
    return next((f() for f in IMPORT_FORMATS if f().get_extension() == extension.lower()), None)


def read_dataset(data: bytes, extension: str) -> tablib.Dataset:
    """Parse an uploaded roster file; raises ValueError for an unknown extension."""
    file_format = import_format_for(extension)
    if file_format is None:
        raise ValueError(f"unsupported file format: {extension}")
    return file_format.create_dataset(data)


class RosterTextWidget(widgets.CharWidget):
    """Text cells: stripped; spreadsheet numbers as digits (``20260101.0`` → ``20260101``);
    the ``'`` our export puts before a formula-like value taken off again."""

    def clean(self, value, row=None, **kwargs):
        return clean_text(value)

    def render(self, value, obj=None, **kwargs):
        return formula_safe("" if value is None else str(value))


def clean_text(value) -> str:
    """A cell as the import reads it (``RosterTextWidget``): see there."""
    if value.__class__ is not str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = "" if value is None else str(value)
    value = value.strip()
    if value[:1] == "'" and value[1:2] and value[1:2] in FORMULA_PREFIXES:
        value = value[1:]
    return value


def formula_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates: ``'`` before ``= + - @``, tab, CR."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


TEXT = RosterTextWidget()


def clean_cells(cells) -> list[str]:
    """A record's cells as the import reads them (``clean_text``; a CSV's text cells the fast way)."""
    try:
        cleaned = [cell.strip() for cell in cells]
    except AttributeError:  # a spreadsheet's numbers, dates or empty cells
        return [clean_text(cell) for cell in cells]
    for cell in cleaned:
        if cell[:1] == "'":  # perhaps a formula our export escaped
            return [clean_text(cell) for cell in cleaned]
    return cleaned


def is_blank_row(cleaned: list[str]) -> bool:
    """A record with no text in any cell (``clean_cells``): a spreadsheet's empty rows at the end
    of a file are dropped; empty rows in between stay (numbered, and invalid)."""
    return not any(cleaned)


def csv_records(binary, encoding: str) -> Iterator[list[str]]:
    """The records of a CSV file (``binary``: a binary file object) as ``RosterCSV`` reads them with
    tablib, one at a time: the header first; blank lines skipped; short records padded with ``""``;
    a record longer than the header raises ``tablib.InvalidDimensions``; UnicodeDecodeError if the
    file is not in ``encoding``."""
    reader = csv.reader(io.TextIOWrapper(binary, encoding=encoding, newline=""), delimiter=",")
    header = next(reader, None)
    if header is None:
        return
    yield header
    width = len(header)
    for record in reader:
        if not record:
            continue
        if len(record) < width:
            record += [""] * (width - len(record))
        elif len(record) > width:
            raise tablib.InvalidDimensions
        yield record


def xlsx_records(data: bytes) -> Iterator[list]:
    """The rows of an XLSX file's active sheet as ``base_formats.XLSX`` reads them (read-only, values
    of formulae), one at a time: the header first; a row of another width than the header raises
    ``tablib.InvalidDimensions``; empty rows skipped only with ``IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES``."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows = book.active.rows
        header = next(rows, None)
        if header is None:
            return
        header = [cell.value for cell in header]
        yield header
        ignore_blanks = getattr(settings, "IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES", False)
        for row in rows:
            values = [cell.value for cell in row]
            if ignore_blanks and all(value is None for value in values):
                continue
            if len(values) != len(header):
                raise tablib.InvalidDimensions
            yield values
    finally:
        book.close()


def record_readings(open_binary, extension: str) -> list:
    """The ways to read a roster file's records one at a time (header first), as ``read_dataset``
    reads them, in the order to try them: each is a callable returning an iterator of records; a
    reading that raises UnicodeDecodeError gives way to the next (a CSV in UTF-8, else GB18030).

    ``open_binary()``: a new binary file object over the file, from its start. ValueError for an
    unknown extension.
    """
    extension = extension.lower()
    if extension == "xlsx":
        return [lambda: xlsx_records(open_binary().read())]
    if extension != RosterCSV().get_extension():
        raise ValueError(f"unsupported file format: {extension}")
    return [lambda encoding=encoding: csv_records(open_binary(), encoding) for encoding in RosterCSV.ENCODINGS]


def text_field(name: str) -> Field:
    return Field(attribute=name, column_name=name, widget=RosterTextWidget())
