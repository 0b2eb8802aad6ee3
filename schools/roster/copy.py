"""COPY imports: large roster files on PostgreSQL, streamed into a staging table and merged in SQL.

A background ``ImportJob`` (``schools.roster.runner``) on PostgreSQL hands its file to the COPY
importer of its kind, if one is registered (``register_copy``; students: ``contacts.roster_copy``).
The importer

1. ``stage``: reads the file's records one at a time (``formats.record_readings``: the job's
   bytes fetched from the database ``FILE_CHUNK`` bytes at a time, a CSV decoded as it is read),
   cleans each cell as the resource does (``formats.clean_cells``), runs the fields' pattern and
   URL validators (``FieldPrecheck``) and sends the rows with ``COPY … FROM STDIN`` into a
   temporary table, ``IMPORT_JOB_CHUNK_SIZE`` rows per COPY with the job's progress in between.
   Nothing of the file is kept in Python but one chunk of bytes and the rows of one COPY, so
   memory does not grow with the file; no transaction is open (the progress commits at once, as
   the resource path's does);
2. then, in one transaction holding the school's roster lock (``begin``; ``schools.roster.locks``:
   a transaction-level advisory lock, so two imports of one school run one after the other, and
   after or before the admin's imports of it): ``check`` the rows with the resource's rules, in
   SQL, and ``write`` them (``INSERT … SELECT``, in file order), or nothing if any row is invalid.

A file the COPY importer does not take (``CopyUnsupported``: no header row, a column given twice,
no key column) goes to the resource path, which reports it as it always has.
"""

import io
import operator
import re
from collections.abc import Callable
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, RegexValidator
from django.db import connection

from schools.models import ImportJob
from schools.roster.formats import clean_cells, is_blank_row, record_readings
from schools.roster.locks import roster_lock

COPY_IMPORTERS: dict[str, type] = {}  # kind → COPY importer class
FILE_CHUNK = 1 << 18  # bytes of the job's file per query (stored uncompressed: a slice reads only its pages)
WORK_MEM = "64MB"  # PostgreSQL's work_mem in the transaction that checks and writes a file


def register_copy(importer_class):
    """Class decorator: make ``importer_class`` the COPY importer of its ``kind``."""
    COPY_IMPORTERS[importer_class.kind] = importer_class
    return importer_class


def copy_importer_for(kind: str):
    """The COPY importer class of ``kind``, or None (that kind imports through its resource only)."""
    return COPY_IMPORTERS.get(kind)


class ConcurrentWrite(Exception):
    """A row the check cleared could not be written as checked: something that does not take the
    school's roster lock wrote a student meanwhile (another school's import took one of the file's
    new user_ids). The transaction is rolled back and the file checked again."""


class CopyUnsupported(Exception):
    """The file goes through the resource instead (its header is one the resource reports on)."""


class JobFile(io.RawIOBase):
    """A job's uploaded file (``ImportJob.data``) read from the database ``FILE_CHUNK`` bytes at a
    time (``substring`` of the bytea), never whole. Not while a COPY runs on the connection."""

    def __init__(self, job_id: int):
        super().__init__()
        self.job_id = job_id
        self.offset = 0  # of the next chunk to fetch
        self.chunk = memoryview(b"")  # fetched, not yet read
        self.sql = "SELECT substring({data} FROM %s FOR %s) FROM {table} WHERE {pk} = %s".format(
            data=sql_name(ImportJob._meta.get_field("data").column),
            table=sql_name(ImportJob._meta.db_table),
            pk=sql_name(ImportJob._meta.pk.column),
        )

    @classmethod
    def open(cls, job_id: int) -> io.BufferedReader:
        return io.BufferedReader(cls(job_id))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.chunk:
            with connection.cursor() as cursor:
                cursor.execute(self.sql, [self.offset + 1, FILE_CHUNK, self.job_id])
                row = cursor.fetchone()
            self.chunk = memoryview(bytes(row[0]) if row and row[0] is not None else b"")
            self.offset += len(self.chunk)
        size = min(len(buffer), len(self.chunk))
        buffer[:size] = self.chunk[:size]
        self.chunk = self.chunk[size:]
        return size


class FieldPrecheck:
    """Which rows the model's ``clean_fields`` might refuse on ``attrs``, found cheaply: a superset
    of them (then checked by ``clean_fields`` itself, in Python), derived from the fields, so it has
    no rule of its own. ``present``: the attributes the file has (the others keep a student's value).

    - in SQL, on each row's values (``sql``): empty and not ``blank``; longer than a
      ``MaxLengthValidator``'s limit (characters, as ``len``); ``choices``, or any other validator
      of a column the file lacks: every non-empty value;
    - in Python, as the file is staged (``flags``): the other validators (the user_id pattern,
      URLs) of the file's columns, run on their non-empty values. (PostgreSQL's regular expressions
      take 30 µs a row for the user_id pattern; Python's, 1 µs.)
    """

    def __init__(self, model, attrs, present):
        self.fields = [model._meta.get_field(attr) for attr in attrs]
        self.present = set(present)
        self.checks = []  # (index in the staged values, validators)
        for index, attr in enumerate(present):
            validators = [_refuses(v) for v in model._meta.get_field(attr).validators if not _is_length(v)]
            if validators:
                self.checks.append((index, validators))

    def flags(self, values) -> bool:
        """Whether a validator refuses one of the row's ``values`` (the ``present`` attributes')."""
        for index, refusals in self.checks:
            value = values[index]
            if value:
                for refuses in refusals:
                    if refuses(value):
                        return True
        return False

    def sql(self, value_sql, flagged_sql: str) -> str:
        """``value_sql(attr)``: the SQL expression of a row's value; ``flagged_sql``: of its ``flags``."""
        parts = [flagged_sql]
        for field in self.fields:
            value = value_sql(field.name)
            if not field.blank:
                parts.append(f"{value} = ''")
            if field.choices or (field.name not in self.present and not all(map(_is_length, field.validators))):
                parts.append(f"{value} <> ''")
            parts += [f"char_length({value}) > {v.limit_value:d}" for v in field.validators if _is_length(v)]
        return " OR ".join(parts)


def _refuses(validator):
    """``validator`` as a predicate on a text value: True if it raises ValidationError. A plain
    ``RegexValidator`` is asked through its own pattern (its ``__call__``, without the exception)."""
    if type(validator) is RegexValidator:
        search, inverse = validator.regex.search, validator.inverse_match
        return lambda value: (search(value) is None) != inverse

    def refuses(value) -> bool:
        try:
            validator(value)
        except ValidationError:
            return True
        return False

    return refuses


def _is_length(validator) -> bool:
    return type(validator) is MaxLengthValidator and isinstance(validator.limit_value, int)


class CopyImport:
    """The base of a kind's COPY importer: the staging table and ``stage``; a kind adds ``check``
    and ``write`` (see the module). One instance per run; use it as a context manager (the
    staging table is dropped at the end, whatever happens).

    ``resource_class``: the kind's roster resource, whose headers, key and rules it shares.
    ``columns``, after ``stage``: the resource's writable columns the file has, in resource order;
    ``precheck``: their ``FieldPrecheck`` (the staging table's ``flagged``).
    ``rows``, after ``stage``: rows staged (the file's records less its blank rows at the end).
    ``derived``: model attributes computed from a column as it is staged (attr → (source attr,
    function of its cleaned text)), staged beside it when the file has the source column
    (``derived_columns``, after ``stage``): students' ``name_initials`` from ``name``.
    """

    kind = ""
    resource_class = None
    staging = "roster_rows"
    work_tables: tuple[str, ...] = ()  # the temporary tables ``check`` makes; dropped with the staging table
    derived: ClassVar[dict[str, tuple[str, Callable[[str], str]]]] = {}

    def __init__(self, *, school, job_id: int, file_format: str, deactivate_missing=False, user=None, file_name=""):
        self.school = school
        self.job_id = job_id
        self.file_format = file_format
        self.deactivate_missing = deactivate_missing
        self.user = user
        self.file_name = file_name
        self.resource = self.resource_class(school=school)
        self.attrs: list[str] = list(self.resource.writable_attrs)
        self.key = self.resource.key_attrs[0]
        self.columns: list[str] = []
        self.derived_columns: list[str] = []
        self.precheck: FieldPrecheck | None = None
        self.rows = 0

    def __enter__(self):
        self.drop_tables(self.staging, *self.work_tables)
        columns = ", ".join(f"{attr} text NOT NULL DEFAULT ''" for attr in [*self.attrs, *self.derived])
        self.execute(
            f"CREATE TEMPORARY TABLE {self.staging} (row_number integer NOT NULL, {columns}, "
            "flagged boolean NOT NULL DEFAULT false)"
        )
        return self

    def __exit__(self, *exc_info):
        self.drop_tables(self.staging, *self.work_tables)

    def drop_tables(self, *names) -> None:
        for name in names:
            self.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")

    @staticmethod
    def execute(sql: str, params=None) -> int:
        """Run one statement; returns its row count."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    @staticmethod
    def fetch(sql: str, params=None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def open_file(self):
        return JobFile.open(self.job_id)

    # ---- stage

    def stage(self, *, progress, every: int) -> int:
        """Read the whole file into the staging table; returns its number of records (rows, the
        blank ones included, as ``len(read_dataset(...))``). ``progress(records)`` is called every
        ``every`` records. Raises ``CopyUnsupported`` (nothing staged) for a header the resource
        reports on, ``tablib.InvalidDimensions`` for a record longer than the header, and what
        reading the file raises (UnicodeDecodeError for a CSV in neither UTF-8 nor GB18030)."""
        readings = record_readings(self.open_file, self.file_format)
        # Only progress is committed meanwhile: it need not wait for the disk (a crash loses at most
        # the last progress figures; the run starts again from the start anyway).
        self.execute("SET synchronous_commit = off")
        try:
            for number, reading in enumerate(readings, 1):
                try:
                    return self._stage(reading(), progress, max(1, every))
                except UnicodeDecodeError:
                    if number == len(readings):
                        raise
                    self.execute(f"TRUNCATE {self.staging}")
        finally:
            self.execute("RESET synchronous_commit")
        raise AssertionError("unreachable")  # pragma: no cover

    def _stage(self, records, progress, every: int) -> int:
        header = next(records, None)
        if header is None:
            raise CopyUnsupported
        try:
            headers = self.resource.map_headers(header)
        except ValueError as exc:
            raise CopyUnsupported from exc
        if self.resource.fields[self.key].column_name not in headers:
            raise CopyUnsupported
        present = [
            (attr, headers.index(self.resource.fields[attr].column_name))
            for attr in self.attrs
            if self.resource.fields[attr].column_name in headers
        ]
        self.columns = [attr for attr, _ in present]
        self.precheck = precheck = FieldPrecheck(self.resource._meta.model, self.attrs, self.columns)
        pick = operator.itemgetter(*[index for _, index in present], 0)  # the columns, and one more: a tuple
        derive = [
            (attr, self.columns.index(source), function)
            for attr, (source, function) in self.derived.items()
            if source in self.columns
        ]
        self.derived_columns = [attr for attr, _, _ in derive]
        staged = ", ".join(self.columns + self.derived_columns)
        copy_sql = f"COPY {self.staging} (row_number, {staged}, flagged) FROM STDIN"
        blank = ("",) * (len(self.columns) + len(derive))

        def send(batch):
            if not batch:
                return
            with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for item in batch:
                    if isinstance(item, range):  # blank rows between two rows: numbered, all empty
                        for number in item:
                            copy.write_row((number, *blank, False))
                    else:
                        copy.write_row(item)

        number, blank_from, batch = 0, None, []
        for record in records:
            number += 1
            cleaned = clean_cells(record)
            if is_blank_row(cleaned):
                if blank_from is None:
                    blank_from = number
            else:
                if blank_from is not None:
                    batch.append(range(blank_from, number))
                    blank_from = None
                values = pick(cleaned)[:-1]
                derived = [function(values[index]) for _, index, function in derive]
                batch.append((number, *values, *derived, precheck.flags(values)))
            if number % every == 0:
                send(batch)
                batch = []
                progress(number)
        send(batch)
        self.rows = number if blank_from is None else blank_from - 1  # blank rows at the end: dropped
        self.execute(f"ANALYZE {self.staging}")
        return number

    # ---- the transaction

    def begin(self) -> None:
        """First in the transaction: the school's roster lock until it ends (``roster_lock``), and
        the settings of set-based work on many rows, for the transaction: sorts and hashes in
        memory (``WORK_MEM``), no JIT (compiling the plans took longer than running them)."""
        roster_lock(self.school.pk)
        self.execute("SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [WORK_MEM])

    def check(self) -> tuple[dict, list[dict]]:
        """In the transaction, under the lock: ``(totals, errors)`` as the resource path reports them
        (``totals``: rows new, update, skip, invalid, error; ``errors``: ``result_errors``' shape)."""
        raise NotImplementedError

    def write(self) -> int:
        """In the transaction, after a ``check`` without errors: write the rows; returns the rows
        deactivated by the whole-file step (students missing from the file). ``ConcurrentWrite``
        if a row could not be written as checked."""
        raise NotImplementedError


def sql_name(name: str) -> str:
    """A column or table name from a model, quoted for PostgreSQL."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(name)
    return connection.ops.quote_name(name)
