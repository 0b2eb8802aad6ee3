"""Roster files and cells: CSV (UTF-8 or GB18030) and XLSX, text cells, formula-safe export."""

import tablib
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

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode("utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("gb18030")
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
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = "" if value is None else str(value).strip()
        if value[:1] == "'" and value[1:2] and value[1:2] in FORMULA_PREFIXES:
            value = value[1:]
        return value

    def render(self, value, obj=None, **kwargs):
        return formula_safe("" if value is None else str(value))


def formula_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates: ``'`` before ``= + - @``, tab, CR."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


TEXT = RosterTextWidget()


def text_field(name: str) -> Field:
    return Field(attribute=name, column_name=name, widget=RosterTextWidget())
